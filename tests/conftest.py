"""Shared fixtures: an isolated CRITIC_HOME per test, and the data files under ../shared."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings
from tests.db.fixtures import (  # noqa: F401  (database fixtures and the loud PostgreSQL-skip summary)
    _sqlite_template,
    db_session,
    db_url,
    make_item,
    make_user,
    postgres_db_url,
    pytest_terminal_summary,
    sqlite_db_url,
    sqlite_session,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# Converted models are kept across test runs so the embedded model is converted once per machine.
MODEL_CACHE = Path(os.environ.get("CRITIC_TEST_MODEL_CACHE", Path.home() / ".cache" / "critic-studio-test" / "models"))


@pytest.fixture(autouse=True)
def critic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own CRITIC_HOME (database, jobs) and a shared model cache."""
    home = tmp_path / "critic-home"
    monkeypatch.setenv("CRITIC_HOME", str(home))
    monkeypatch.setenv("CRITIC_MODELS_DIR", str(MODEL_CACHE))
    monkeypatch.delenv("CRITIC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def processbench_dir() -> Path:
    path = SHARED_DATA / "processbench"
    if not path.exists():
        pytest.fail(f"shared benchmark data missing at {path}")
    return path
