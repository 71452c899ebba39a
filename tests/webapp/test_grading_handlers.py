"""The teacher's grading: points per problem, step credit and rubrics, step comments, the gradebook a LMS imports."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from core.errors import BadInputError, NotFoundError
from webapp.handlers import grading, teacher
from webapp.reports import report_csv, write_reports

# Three-step solutions the symbolic checker proves nothing about: the scripted critic blames the last step.
CLASS_CSV = (
    "student,problem,solution\n"
    'ann,"How many legs do 3 cats have?","Each cat has four legs.\n\nThere are three cats.\n\nSo they have 10 legs."\n'
    'ben,"How many legs do 3 cats have?","Cats walk on legs.\n\nThree cats walk.\n\nSo they have 11 legs."\n'
    'cy,"How many legs do 3 cats have?","A cat is an animal.\n\nAnimals have legs.\n\nSo they have 9 legs."\n'
)
PROBLEM = "How many legs do 3 cats have?"


@pytest.fixture
def graded(web, tmp_path: Path) -> int:
    """A class of three, critiqued by the scripted critic (every solution's step 3 is its first wrong one)."""
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV)
    class_id, _ = teacher.upload_class(web.ctx, web["teacher"], name="Zoo 1", path=path, start=False)
    teacher.critique_class(web.ctx, web["teacher"], class_id=class_id)
    return class_id


def _points(web, class_id: int) -> dict[str, float | None]:
    return {r.student: r.points for r in teacher.report_rows(web.ctx, web["teacher"], class_id=class_id)}


def test_step_credit_follows_the_first_wrong_step_and_the_teachers_corrections_come_first(web, graded: int) -> None:
    t = web["teacher"]
    assert [r.first_wrong_step for r in teacher.report_rows(web.ctx, t, class_id=graded)] == [3, 3, 3]
    assert _points(web, graded) == {"ann": None, "ben": None, "cy": None}  # no grading set yet
    with pytest.raises(BadInputError, match="set the points of the problem 'How many legs"):
        grading.export_gradebook(web.ctx, t, class_id=graded, lms="canvas", id_column="SIS User ID")

    assert grading.problems(web.ctx, t, class_id=graded) == [PROBLEM]
    grading.save_grading(web.ctx, t, class_id=graded, problem=PROBLEM, points=4, rule="step")
    assert _points(web, graded) == {"ann": 2.67, "ben": 2.67, "cy": 2.67}  # 4 × 2/3, rounded half up
    rows = teacher.report_rows(web.ctx, t, class_id=graded)
    teacher.correct(web.ctx, t, class_id=graded, item_id=rows[0].item_id, first_wrong_step=-1)
    saved = teacher.correct(
        web.ctx, t, class_id=graded, item_id=rows[1].item_id, first_wrong_step=2, step_comments={2: "Cats have 4 legs."}
    )
    assert saved["step_comments"] == {"2": "Cats have 4 legs."}
    assert _points(web, graded) == {"ann": 4.0, "ben": 1.33, "cy": 2.67}

    book = grading.export_gradebook(
        web.ctx, t, class_id=graded, lms="moodle", id_column="Email address", assignment="Legs quiz"
    )
    with book.path.open(newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["Email address", "Legs quiz"],
            ["ann", "4"],
            ["ben", "1.33"],
            ["cy", "2.67"],
        ]
    assert (book.students, book.ungraded) == (3, [])


def test_a_rubric_gives_the_points_of_the_ticked_criteria(web, graded: int) -> None:
    t = web["teacher"]
    rows = teacher.report_rows(web.ctx, t, class_id=graded)
    with pytest.raises(BadInputError, match="not graded by a rubric"):
        grading.tick_rubric(web.ctx, t, class_id=graded, item_id=rows[0].item_id, ticked=["counts the cats"])
    rubric = "counts the cats: 1\nknows a cat's legs: 2"
    grading.save_grading(web.ctx, t, class_id=graded, problem=PROBLEM, points=5, rule="rubric", rubric=rubric)
    assert grading.grading_of(web.ctx, t, class_id=graded, problem=PROBLEM).rubric[1].name == "knows a cat's legs"
    grading.tick_rubric(web.ctx, t, class_id=graded, item_id=rows[0].item_id, ticked=["counts the cats"])
    grading.tick_rubric(
        web.ctx, t, class_id=graded, item_id=rows[2].item_id, ticked=["counts the cats", "knows a cat's legs"]
    )
    with pytest.raises(BadInputError, match="not criteria of this problem's rubric: spelling"):
        grading.tick_rubric(web.ctx, t, class_id=graded, item_id=rows[1].item_id, ticked=["spelling"])
    assert _points(web, graded) == {"ann": 1.0, "ben": 0.0, "cy": 3.0}
    with pytest.raises(BadInputError, match="add up to 3 points, more than the problem's 2"):
        grading.save_grading(web.ctx, t, class_id=graded, problem=PROBLEM, points=2, rule="rubric", rubric=rubric)
    assert _points(web, graded)["cy"] == 3.0  # the refused change lost nothing


def test_another_teacher_can_neither_see_nor_grade_the_class(web, graded: int) -> None:
    from db.session import session_scope
    from db.users import create_user
    from webapp.permissions import Actor

    with session_scope(web.url) as session:
        other = create_user(session, username="other-teacher", password="pw-other", role="teacher")
        actor = Actor(id=other.id, username=other.username, role=other.role)
    with pytest.raises(NotFoundError):
        grading.save_grading(web.ctx, actor, class_id=graded, problem=PROBLEM, points=4, rule="step")
    with pytest.raises(NotFoundError):
        grading.export_gradebook(web.ctx, actor, class_id=graded, lms="canvas", id_column="SIS User ID")


def test_the_report_shows_the_teachers_step_comments_and_points(web, graded: int, tmp_path: Path) -> None:
    t = web["teacher"]
    grading.save_grading(web.ctx, t, class_id=graded, problem=PROBLEM, points=4, rule="step")
    rows = teacher.report_rows(web.ctx, t, class_id=graded)
    teacher.correct(
        web.ctx,
        t,
        class_id=graded,
        item_id=rows[2].item_id,
        first_wrong_step=2,
        step_comments={2: "Animals <b>may</b> have legs; cats have 4."},
    )
    teacher.correct(web.ctx, t, class_id=graded, item_id=rows[2].item_id, first_wrong_step=2)  # keeps the comment
    report = list(csv.DictReader(report_csv(teacher.report_rows(web.ctx, t, class_id=graded)).splitlines()))
    assert report[2]["step_comments"] == "step 2: Animals <b>may</b> have legs; cats have 4."
    assert (report[2]["points"], report[2]["points_possible"]) == ("1.33", "4")
    _, zip_path = write_reports(teacher.report_rows(web.ctx, t, class_id=graded), tmp_path, class_name="Zoo 1")
    page = zipfile.ZipFile(zip_path).read("cy.html").decode()
    assert "<b>Teacher:</b> Animals &lt;b&gt;may&lt;/b&gt; have legs; cats have 4." in page
    assert "<b>Points:</b> 1.33 of 4" in page
