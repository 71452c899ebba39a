"""Database fixtures for every test package: `db_url` (SQLite and PostgreSQL), `db_session`, small factories."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from core.settings import get_settings

_POSTGRES_SKIPS: list[str] = []
_state: dict[str, Any] = {}


def _postgres_skip_reason() -> str | None:
    """None when CRITIC_TEST_POSTGRES_URL is set and reachable, else why PostgreSQL tests are skipped."""
    if "pg_reason" in _state:
        return _state["pg_reason"]
    # The test harness's own variable (set by scripts/postgres.sh), not runtime configuration.
    import os

    url = os.environ.get("CRITIC_TEST_POSTGRES_URL")
    reason = None
    if not url:
        reason = "CRITIC_TEST_POSTGRES_URL is unset (source scripts/postgres.sh; start_test_postgres)"
    else:
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 5})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # any connection failure means "unreachable"
            reason = f"PostgreSQL at {url} is unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    _state["pg_reason"] = reason
    _state["pg_url"] = url
    if reason:
        warnings.warn(f"POSTGRESQL TESTS SKIPPED: {reason}", stacklevel=1)
    return reason


def fresh_postgres_schema(url: str) -> None:
    """Drop everything in the PostgreSQL database at `url` (its public schema) and start it empty."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _truncate_postgres(url: str) -> None:
    from db.models import Base
    from db.session import get_engine

    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its cheapest parameters in tests: still a real hash, ~1000x faster than production's."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    monkeypatch.setattr("db.users._hasher", PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once per session; each test gets a copy (much faster than migrating)."""
    from db.session import dispose_engines, init_db

    path = tmp_path_factory.mktemp("db-template") / "template.db"
    init_db(f"sqlite:///{path}")
    dispose_engines()  # closing the last connection checkpoints the WAL into the main file
    return path


def _use_url(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.fixture
def sqlite_db_url(_sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh migrated SQLite database for this test, also set as CRITIC_DATABASE_URL."""
    from db.session import dispose_engines

    path = tmp_path / "test.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    _use_url(url, monkeypatch)
    yield url
    dispose_engines()


@pytest.fixture
def postgres_db_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test PostgreSQL database, migrated and emptied for this test; skipped loudly when unavailable."""
    from db.session import dispose_engines, init_db

    reason = _postgres_skip_reason()
    if reason:
        _POSTGRES_SKIPS.append(reason)
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    url = _state["pg_url"]
    dispose_engines()
    if not _state.get("pg_migrated"):
        fresh_postgres_schema(url)
        init_db(url)
        _state["pg_migrated"] = True
    else:
        _truncate_postgres(url)
    _use_url(url, monkeypatch)
    yield url
    dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database URL, once per backend; CRITIC_DATABASE_URL points at it."""
    return request.getfixturevalue("sqlite_db_url" if request.param == "sqlite" else "postgres_db_url")


@pytest.fixture
def db_session(db_url: str) -> Iterator[Session]:
    from db.session import session_scope

    with session_scope(db_url) as session:
        yield session


@pytest.fixture
def sqlite_session(sqlite_db_url: str) -> Iterator[Session]:
    """Like db_session, SQLite only: for tests that need a database but not both backends."""
    from db.session import session_scope

    with session_scope(sqlite_db_url) as session:
        yield session


def _make_user(session: Session, username: str = "alice", *, role: str = "annotator", password: str | None = "pw"):
    from db.users import create_user

    return create_user(session, username=username, password=password, role=role)


def _make_item(session: Session, problem: str = "What is 1+1?", steps: list[str] | None = None, **fields: Any):
    from core.types import SolutionItem
    from db.items import add_item

    item = SolutionItem(problem=problem, steps=steps or ["1+1 = 2.", "So the answer is 2."], **fields)
    return add_item(session, item=item)


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """`make_user(session, "name", role="annotator", password="pw")` -> db.models.User."""
    return _make_user


@pytest.fixture
def make_item() -> Callable[..., Any]:
    """`make_item(session, problem, steps, **SolutionItem fields)` -> db.models.Item."""
    return _make_item


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _POSTGRES_SKIPS:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(_POSTGRES_SKIPS)} PostgreSQL test(s) skipped: {_POSTGRES_SKIPS[0]}", red=True, bold=True
        )
