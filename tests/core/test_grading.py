"""Partial credit and the gradebook CSV: what a teacher's rule gives each solution, and what Canvas or Moodle reads."""

from __future__ import annotations

import csv
import io

import pytest

from core.errors import BadInputError
from core.gradebook import GradebookRow, gradebook_csv
from core.grading import GradingScheme, parse_rubric, rounded, score, step_credit
from core.step_comments import MAX_STEP_COMMENT_CHARS, checked_step_comments


def test_step_credit_counts_the_correct_steps_before_the_first_wrong_one_rounded_half_up() -> None:
    # 4 points, 3 steps: wrong at step 1 earns nothing, at step 2 one third, at step 3 two thirds.
    assert [step_credit(4, first, 3) for first in (1, 2, 3)] == [0.0, 1.33, 2.67]
    assert rounded(0.125) == 0.13 and rounded(2.675) == 2.68  # half up, not half even / binary float
    with pytest.raises(BadInputError, match="not one of the solution's 3 steps"):
        step_credit(4, 4, 3)


def test_each_rule_gives_full_points_when_correct_and_its_own_credit_otherwise() -> None:
    step = GradingScheme.build(points=4, rule="step")
    nothing = GradingScheme.build(points=4)
    rubric = GradingScheme.build(points=5, rule="rubric", rubric=parse_rubric("sets up the equation: 2\nunits: 1"))
    for scheme in (step, nothing, rubric):
        assert score(scheme, first_wrong_step=-1, n_steps=3) == scheme.points
        assert score(scheme, first_wrong_step=None, n_steps=3) is None  # no verdict yet: no points yet
    assert score(step, first_wrong_step=3, n_steps=4) == 2.0
    assert score(nothing, first_wrong_step=3, n_steps=4) == 0.0
    assert score(rubric, first_wrong_step=2, n_steps=4, ticked=["units", "not in the rubric"]) == 1.0
    assert score(rubric, first_wrong_step=2, n_steps=4, ticked=["units", "sets up the equation"]) == 3.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"points": 0}, "points: Input should be greater than 0"),
        ({"points": 4, "rule": "halves"}, "rule: Input should be"),
        ({"points": 4, "rule": "rubric"}, "needs at least one criterion"),
        ({"points": 2, "rubric": parse_rubric("a: 2\nb: 1")}, "add up to 3 points, more than the problem's 2"),
        ({"points": 4, "rubric": parse_rubric("a: 1\na: 1")}, "different names"),
    ],
)
def test_a_bad_grading_says_what_to_fix(values: dict, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        GradingScheme.build(**values)


def test_rubric_lines_are_read_as_name_and_points_and_a_bad_line_is_named() -> None:
    criteria = parse_rubric("Sets up x: y = 2: 1.5\n\nunits: 0.5\n")
    assert [(c.name, c.points) for c in criteria] == [("Sets up x: y = 2", 1.5), ("units", 0.5)]
    with pytest.raises(BadInputError, match="rubric line 2 'units'"):
        parse_rubric("a: 1\nunits")


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_gradebook_has_canvas_columns_a_points_possible_row_and_the_student_in_the_chosen_column() -> None:
    rows = [GradebookRow("ann@school.org", 4.0), GradebookRow("ben@school.org", 1.3333), GradebookRow("=cy", None)]
    text = gradebook_csv(rows, lms="canvas", id_column="SIS Login ID", assignment="Homework 3", points_possible=4)
    assert _read(text) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 3"],
        ["Points Possible", "", "", "", "", "4"],
        ["ann@school.org", "", "", "ann@school.org", "", "4"],
        ["ben@school.org", "", "", "ben@school.org", "", "1.33"],
        ["'=cy", "", "", "'=cy", "", ""],  # a formula stays text; no verdict: left blank (ungraded)
    ]


def test_moodle_gradebook_is_the_identifier_column_and_one_grade_column() -> None:
    text = gradebook_csv(
        [GradebookRow("ann", 2.67)], lms="moodle", id_column="Username", assignment="Quiz", points_possible=4
    )
    assert _read(text) == [["Username", "Quiz"], ["ann", "2.67"]]
    with pytest.raises(BadInputError, match="moodle identifies students by Email address, Username, ID number"):
        gradebook_csv([], lms="moodle", id_column="SIS User ID", assignment="Quiz", points_possible=4)
    with pytest.raises(BadInputError, match="unknown gradebook format 'blackboard'"):
        gradebook_csv([], lms="blackboard", id_column="Username", assignment="Quiz", points_possible=4)


def test_step_comments_are_keyed_by_step_stripped_in_order_and_bounded() -> None:
    assert checked_step_comments({3: " off by one ", "1": "ok", 2: "  "}, 3) == {"1": "ok", "3": "off by one"}
    with pytest.raises(BadInputError, match="the solution has steps 1 to 3"):
        checked_step_comments({4: "x"}, 3)
    with pytest.raises(BadInputError, match="is not a step number"):
        checked_step_comments({"three": "x"}, 3)
    with pytest.raises(BadInputError, match=f"keep it under {MAX_STEP_COMMENT_CHARS}"):
        checked_step_comments({1: "x" * (MAX_STEP_COMMENT_CHARS + 1)}, 3)
