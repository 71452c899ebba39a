"""Step comments in the database: versioned and audited like the ratings, exported in every format, imported back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import BadInputError, ConflictError
from core.prm800k import read_prm800k
from db.annotations import annotation_events, create_annotation, get_annotation, save_annotation
from db.campaigns import create_campaign
from db.exporter import export
from db.importer import import_file
from db.models import Annotation
from db.session import init_db, session_scope


def test_a_step_comment_is_saved_versioned_and_audited(db_session, make_user, make_item) -> None:
    user = make_user(db_session)
    item = make_item(db_session, steps=["1 + 1 = 2.", "2 * 3 = 5.", "The answer is 5."])
    annotation = create_annotation(
        db_session, item_id=item.id, annotator_id=user.id, ratings=[1, -1, None], step_comments={2: "2 * 3 is 6"}
    )
    assert annotation.step_comments == {"2": "2 * 3 is 6"}
    saved = save_annotation(
        db_session,
        annotation_id=annotation.id,
        expected_version=1,
        actor_id=user.id,
        step_comments={"2": "2 * 3 is 6", "3": "follows from step 2"},
    )
    assert saved.version == 2
    with pytest.raises(ConflictError):  # the version guard holds for comments too
        save_annotation(db_session, annotation_id=annotation.id, expected_version=1, actor_id=user.id, step_comments={})
    with pytest.raises(BadInputError, match="steps 1 to 3"):
        save_annotation(
            db_session, annotation_id=annotation.id, expected_version=2, actor_id=user.id, step_comments={5: "x"}
        )
    stored = get_annotation(db_session, annotation_id=annotation.id)
    assert (stored.version, stored.step_comments) == (2, {"2": "2 * 3 is 6", "3": "follows from step 2"})
    events = annotation_events(db_session, annotation_id=annotation.id)
    assert events[0].after["step_comments"] == {"2": "2 * 3 is 6"}
    assert events[1].before["step_comments"] == {"2": "2 * 3 is 6"}
    assert events[1].after["step_comments"] == {"2": "2 * 3 is 6", "3": "follows from step 2"}


def test_step_comments_are_exported_in_their_own_fields_and_a_prm800k_export_imports_back(
    sqlite_db_url: str, sqlite_session, make_user, make_item, tmp_path: Path
) -> None:
    user = make_user(sqlite_session, "maria")
    campaign = create_campaign(sqlite_session, name="c")
    item = make_item(sqlite_session, steps=["a = 1.", "b = 3.", "a + b = 5."])
    plain = make_item(sqlite_session, problem="What is 2+2?", steps=["2+2 = 4."])
    notes = {"2": "b is 2 in the problem", "3": "1 + 3 is 4"}
    for target, comments in ((item, notes), (plain, {})):
        create_annotation(
            sqlite_session,
            item_id=target.id,
            annotator_id=user.id,
            campaign_id=campaign.id,
            ratings=[1, -1, None][: len(target.steps)] if comments else [1],
            step_comments=comments,
            status="submitted",
        )

    out = tmp_path / "labels.jsonl"
    assert export(out, fmt="prm800k", url=sqlite_db_url).count == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["label"]["step_comments"] == notes
    assert "step_comments" not in lines[1]["label"]  # a label without comments stays plain PRM800K
    assert [r.step_comments for r in read_prm800k(out)] == [notes, {}]

    assert export(tmp_path / "items.csv", fmt="csv", url=sqlite_db_url).count == 2
    with (tmp_path / "items.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert json.loads(table[0]["step_comments"]) == [
        {"step": 2, "annotator": "maria", "comment": "b is 2 in the problem"},
        {"step": 3, "annotator": "maria", "comment": "1 + 3 is 4"},
    ]
    assert json.loads(table[1]["step_comments"]) == []

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    init_db(other_url)
    summary = import_file(out, fmt="prm800k", url=other_url)
    assert summary.new_annotations == 2
    with session_scope(other_url) as session:
        assert [a.step_comments for a in session.scalars(select(Annotation).order_by(Annotation.id))] == [notes, {}]


def test_an_hf_export_keeps_the_step_comments(
    sqlite_db_url: str, sqlite_session, make_user, make_item, tmp_path
) -> None:
    from datasets import load_from_disk

    user = make_user(sqlite_session)
    item = make_item(sqlite_session, steps=["x = 2.", "x + 1 = 4."])
    create_annotation(
        sqlite_session,
        item_id=item.id,
        annotator_id=user.id,
        ratings=[1, -1],
        step_comments={2: "2 + 1 is 3"},
        status="submitted",
    )
    assert export(tmp_path / "hf", fmt="hf", url=sqlite_db_url).count == 1
    row = load_from_disk(str(tmp_path / "hf"))[0]
    assert row["step_comments"] == [{"step": 2, "annotator": "alice", "comment": "2 + 1 is 3"}]
