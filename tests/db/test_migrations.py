"""The migrations build the schema the models describe, on SQLite and PostgreSQL, and init_db is automatic."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from db.migrate import current_revision, downgrade, head_revision, schema_drift, upgrade
from db.session import dispose_engines, get_engine, init_db


def test_empty_database_migrates_to_head_and_matches_the_models(db_url: str) -> None:
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    assert schema_drift(db_url) == []


def test_init_db_creates_the_default_sqlite_database_under_critic_home(critic_home: Path) -> None:
    engine = init_db()
    try:
        assert Path(engine.url.database) == critic_home / "critic.db"
        assert current_revision() == head_revision()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert "annotations" in inspect(engine).get_table_names()
    finally:
        dispose_engines()


def test_audit_rows_cannot_be_changed_even_with_raw_sql(db_url: str, db_session, make_user, make_item) -> None:
    from db.annotations import create_annotation

    user = make_user(db_session)
    item = make_item(db_session)
    create_annotation(db_session, item_id=item.id, annotator_id=user.id, ratings=[1, 1], actor_id=user.id)
    with pytest.raises(Exception, match="never updated or deleted"):
        with get_engine(db_url).begin() as conn:
            conn.execute(text("UPDATE annotation_events SET action = 'forged'"))
    with pytest.raises(Exception, match="never updated or deleted"):
        with get_engine(db_url).begin() as conn:
            conn.execute(text("DELETE FROM annotation_events"))


def test_an_older_database_is_upgraded_on_start(sqlite_db_url: str) -> None:
    downgrade(sqlite_db_url, "0001")
    assert current_revision(sqlite_db_url) == "0001"
    dispose_engines()  # a new process: nothing initialised yet
    init_db(sqlite_db_url)
    assert current_revision(sqlite_db_url) == head_revision()
    assert schema_drift(sqlite_db_url) == []
