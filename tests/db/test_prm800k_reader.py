"""core.prm800k: PRM800K lines become items, per-step ratings and DeepCritic first-error labels."""

from __future__ import annotations

import json

import pytest

from core.prm800k import BadLine, PRM800KRecord, first_error_from_ratings, parse_record, read_prm800k, to_prm800k
from tests.db.prm800k_lines import phase1_line, phase2_line


@pytest.mark.parametrize(
    ("ratings", "finish_reason", "expected"),
    [
        ([1, 0, -1, None], "found_error", 3),
        ([1, 1, 1], "solution", -1),
        ([1, 1, None], "give_up", None),
        ([1, -1], "bad_problem", None),
        ([1, None], None, None),
        ([1, 0], None, -1),
    ],
)
def test_first_error_label_follows_the_deepcritic_rule(ratings, finish_reason, expected) -> None:
    assert first_error_from_ratings(ratings, finish_reason) == expected


def test_phase2_line_rates_the_pre_generated_steps_and_stops_at_the_first_bad_one() -> None:
    line = phase2_line(steps=("a", "b", "c", "d"), ratings=(1, 0, -1, None), finish_reason="found_error", flagged=(1,))
    record = parse_record(json.loads(line), line_number=7)
    assert record.item.steps == ["a", "b", "c", "d"]
    assert record.ratings == [1, 0, -1, None]
    assert record.first_error_step == 3
    assert record.item.first_error_step == 3
    assert record.flagged_steps == [2]
    assert record.labeler == "0f5c7c1e-labeler-a"
    assert record.item.answer == "5" and record.item.source == "prm800k"
    assert record.total_time_ms == 12345


def test_phase1_line_follows_the_chosen_completions_to_the_error() -> None:
    record = parse_record(json.loads(phase1_line()))
    assert record.item.steps == ["6*7 = 42.", "So the answer is 43."]
    assert record.ratings == [1, -1]
    assert record.first_error_step == 2
    assert record.flagged_steps == [2]
    assert record.is_quality_control


def test_bad_lines_are_reported_with_line_numbers_and_good_lines_still_read() -> None:
    no_reason = json.loads(phase2_line())
    no_reason["label"]["finish_reason"] = "bored"
    bad_rating = json.loads(phase2_line())
    bad_rating["label"]["steps"][0]["completions"][0]["rating"] = 5
    lines = [phase2_line(), "{not json", "", json.dumps(no_reason), json.dumps(bad_rating), "[1, 2]", phase2_line()]
    results = list(read_prm800k(line + "\n" for line in lines))
    assert [type(r).__name__ for r in results] == [
        "PRM800KRecord",
        "BadLine",
        "BadLine",
        "BadLine",
        "BadLine",
        "PRM800KRecord",
    ]
    bad = {r.line_number: r.error for r in results if isinstance(r, BadLine)}
    assert set(bad) == {2, 4, 5, 6}
    assert "invalid JSON" in bad[2]
    assert "finish_reason" in bad[4]
    assert "rating 5" in bad[5]
    assert [r.line_number for r in results if isinstance(r, PRM800KRecord)] == [1, 7]


def test_written_records_read_back_unchanged(tmp_path) -> None:
    record = parse_record(
        json.loads(phase2_line(steps=("x", "y", "z"), ratings=(1, -1, None), finish_reason="found_error"))
    )
    path = tmp_path / "out.jsonl"
    path.write_text(
        json.dumps(to_prm800k(record.item, record.ratings, finish_reason=record.finish_reason, labeler="me")) + "\n"
    )
    (again,) = list(read_prm800k(path))
    assert isinstance(again, PRM800KRecord)
    assert (again.item.problem, again.item.steps, again.ratings, again.finish_reason, again.labeler) == (
        record.item.problem,
        ["x", "y", "z"],
        [1, -1, None],
        "found_error",
        "me",
    )


def test_a_critique_rating_outside_the_choices_is_a_bad_line_that_names_them() -> None:
    good = json.loads(phase2_line(steps=("a",), ratings=(1,), finish_reason="solution"))
    rated, wrong = {**good, "critique_rating": "partly"}, {**good, "critique_rating": "great"}
    results = list(read_prm800k([json.dumps(rated), json.dumps(wrong)]))
    assert isinstance(results[0], PRM800KRecord) and results[0].critique_rating == "partly"
    assert isinstance(results[1], BadLine) and "helpful, partly, misleading" in results[1].error
