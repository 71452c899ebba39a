"""SQLite group commit: saves of one process that wait together are written together, each on its own, or not at all."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core.errors import ConflictError, CriticError, DatabaseBusyError
from db.annotations import create_annotation, get_annotation, prepare_statements, save_annotation
from db.campaigns import get_or_create_campaign
from db.models import Annotation, AnnotationEvent
from db.session import session_scope
from db.sqlite_writes.engine import sqlite_group_commit
from db.sqlite_writes.write_queue import WriteQueue


def test_a_failing_save_in_a_shared_transaction_loses_none_of_the_others(sqlite_db_url, make_user, make_item) -> None:
    with session_scope(sqlite_db_url) as session:
        annotator = make_user(session, "ann")
        first, second = make_item(session, "Q1?", ["a", "b"]), make_item(session, "Q2?", ["a", "b"])
        campaign = get_or_create_campaign(session, name="c1")
        group = sqlite_group_commit(session)
    assert group is not None
    # Another writer holds the database, so the three saves below pile up and go in one turn.
    other_writer = WriteQueue(make_url(sqlite_db_url).database)
    place = other_writer.acquire(timeout_s=10)
    results: dict[str, object] = {}

    def save(name: str, item_id: int) -> None:
        with session_scope(sqlite_db_url) as session:
            try:
                row = create_annotation(
                    session, item_id=item_id, annotator_id=annotator.id, campaign_id=campaign.id, ratings=[1, 1]
                )
                results[name] = row.id
            except ConflictError as exc:
                results[name] = exc

    threads = [
        threading.Thread(target=save, args=args) for args in (("a", first.id), ("b", first.id), ("c", second.id))
    ]
    for thread in threads:
        thread.start()
    for _ in range(2000):
        if len(group.pending) == 3:
            break
        threading.Event().wait(0.005)
    assert len(group.pending) == 3, "the three saves should wait for the same turn"
    other_writer.release(place)
    for thread in threads:
        thread.join(timeout=30)

    # a and b both create the same (item, annotator, campaign) annotation: exactly one of them is a conflict.
    assert sum(isinstance(results[name], ConflictError) for name in "ab") == 1
    assert isinstance(results["c"], int)
    with session_scope(sqlite_db_url) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 2
        assert session.scalar(select(func.count()).select_from(AnnotationEvent)) == 2


@pytest.fixture
def annotator_and_item(sqlite_db_url, make_user, make_item):
    """A user and an item with two steps, in the SQLite database."""
    with session_scope(sqlite_db_url) as session:
        return make_user(session, "ann"), make_item(session, "Q?", ["a", "b"])


def test_a_save_that_waits_past_its_deadline_fails_clearly_and_is_never_written_later(
    sqlite_db_url, annotator_and_item
) -> None:
    annotator, item = annotator_and_item
    with session_scope(sqlite_db_url) as session:
        group = sqlite_group_commit(session)
    assert group is not None
    group.timeout_s = 0.3  # the deadline is SQLite's busy timeout (30 s) in use
    other_writer = WriteQueue(make_url(sqlite_db_url).database)
    place = other_writer.acquire(timeout_s=10)  # another process holds the database
    try:
        with session_scope(sqlite_db_url) as session:
            with pytest.raises(DatabaseBusyError, match="nothing was saved"):
                create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1])
    finally:
        other_writer.release(place)
    # The writer thread gets its turn now: the withdrawn save must not be written behind the user's back.
    threading.Event().wait(0.3)
    with session_scope(sqlite_db_url) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
        row = create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, -1])
        assert row.version == 1
        assert session.scalar(select(func.count()).select_from(AnnotationEvent)) == 1


def test_saves_after_prepare_statements_store_every_change(sqlite_db_url, annotator_and_item) -> None:
    annotator, item = annotator_and_item
    prepare_statements(sqlite_db_url)
    with session_scope(sqlite_db_url) as session:
        row = create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1])
        for change in ({"comment": "checked"}, {"ratings": [1, -1], "status": "submitted"}):
            row = save_annotation(
                session, annotation_id=row.id, expected_version=row.version, actor_id=annotator.id, **change
            )
    with session_scope(sqlite_db_url) as session:
        stored = get_annotation(session, annotation_id=row.id)
        assert (stored.comment, stored.ratings, stored.first_error_step, stored.status) == (
            "checked",
            [1, -1],
            2,
            "submitted",
        )


def test_a_queue_that_cannot_be_used_fails_the_save_clearly_and_the_next_save_works(
    sqlite_db_url, annotator_and_item
) -> None:
    annotator, item = annotator_and_item
    slots = Path(f"{make_url(sqlite_db_url).database}.write-queue")
    shutil.rmtree(slots, ignore_errors=True)
    slots.write_text("not a folder")  # e.g. a file left where the queue's folder belongs
    try:
        with session_scope(sqlite_db_url) as session:
            with pytest.raises(CriticError, match="nothing was saved"):
                create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1])
    finally:
        slots.unlink()
    with session_scope(sqlite_db_url) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
        row = create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, -1])
        assert get_annotation(session, annotation_id=row.id).first_error_step == 2
