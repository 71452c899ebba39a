"""Dataset versions: every export records what it held, and a recorded version is written again byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.errors import ConflictError
from db.annotations import create_annotation, review_annotation, save_annotation
from db.dataset_versions import file_sha256, get_dataset_version
from db.exporter import export


@pytest.fixture
def labelled(db_session, make_user, make_item):
    """Two items, three annotations (two submitted, one approved), in no campaign."""
    ann, other, rev = (
        make_user(db_session, "ann"),
        make_user(db_session, "bob"),
        make_user(db_session, "rev", role="reviewer"),
    )
    first = make_item(db_session, "What is 2+2?", ["2+2=4", "So 4."])
    second = make_item(db_session, "What is 3+3?", ["3+3=7", "So 7."])
    a = create_annotation(db_session, item_id=first.id, annotator_id=ann.id, ratings=[1, 1], status="submitted")
    create_annotation(db_session, item_id=first.id, annotator_id=other.id, ratings=[1, -1], status="submitted")
    c = create_annotation(db_session, item_id=second.id, annotator_id=ann.id, ratings=[-1, None], status="submitted")
    review_annotation(db_session, annotation_id=c.id, expected_version=1, reviewer_id=rev.id, approve=True)
    return a, ann


@pytest.mark.parametrize("fmt", ["prm800k", "processbench", "csv"])
def test_an_export_written_again_after_an_edit_is_byte_for_byte_the_same(
    db_url, db_session, labelled, tmp_path: Path, fmt: str
) -> None:
    annotation, annotator = labelled
    first = export(tmp_path / "first", fmt=fmt, url=db_url)
    recorded = get_dataset_version(db_session, version_id=first.version_id)
    assert recorded.content_hash == file_sha256(tmp_path / "first") == first.content_hash
    assert recorded.counts["annotations"] == 3 and recorded.filters == {"campaign": None, "statuses": []}
    assert sorted(map(tuple, recorded.annotations)) == [(1, 1), (2, 1), (3, 2)]

    save_annotation(  # the label changes after the export
        db_session, annotation_id=annotation.id, expected_version=1, actor_id=annotator.id, ratings=[-1, None]
    )
    changed = export(tmp_path / "now", fmt=fmt, url=db_url)
    assert changed.content_hash != first.content_hash and changed.version_id != first.version_id

    again = export(tmp_path / "again", version=first.version_id, url=db_url)
    assert (tmp_path / "again").read_bytes() == (tmp_path / "first").read_bytes()
    assert (again.version_id, again.content_hash, again.count) == (first.version_id, first.content_hash, first.count)


def test_a_version_that_cannot_be_reproduced_says_so_and_writes_nothing(
    sqlite_db_url, sqlite_session, make_user, make_item, tmp_path: Path
) -> None:
    user = make_user(sqlite_session, "ann")
    item = make_item(sqlite_session, "What is 2+2?", ["2+2=4"])
    create_annotation(sqlite_session, item_id=item.id, annotator_id=user.id, ratings=[1], status="submitted")
    first = export(tmp_path / "first.jsonl", fmt="jsonl", url=sqlite_db_url)
    sqlite_session.execute(text("UPDATE items SET problem = 'What is 2+3?' WHERE id = :id"), {"id": item.id})
    sqlite_session.commit()
    with pytest.raises(ConflictError, match=f"dataset version {first.version_id} cannot be reproduced byte for byte"):
        export(tmp_path / "again.jsonl", version=first.version_id, url=sqlite_db_url)
    assert not (tmp_path / "again.jsonl").exists() and not list(tmp_path.glob("*.partial"))


def test_an_hf_export_is_recorded_by_the_hash_of_its_records_and_written_again(
    sqlite_db_url, sqlite_session, make_user, make_item, tmp_path: Path
) -> None:
    from datasets import load_from_disk

    user = make_user(sqlite_session, "ann")
    item = make_item(sqlite_session, "What is 2+2?", ["2+2=4", "So 5."])
    annotation = create_annotation(
        sqlite_session, item_id=item.id, annotator_id=user.id, ratings=[1, -1], status="submitted"
    )
    first = export(tmp_path / "hf1", fmt="hf", url=sqlite_db_url)
    save_annotation(sqlite_session, annotation_id=annotation.id, expected_version=1, actor_id=user.id, ratings=[1, 1])
    again = export(tmp_path / "hf2", version=first.version_id, url=sqlite_db_url)
    assert again.content_hash == first.content_hash
    assert load_from_disk(str(tmp_path / "hf2"))[0]["first_error_step"] == 2
