"""The model registry: promote, roll back, the active model the app serves, and the evaluation gate."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.errors import ConflictError
from training import queue, registry
from training.config import load_config


def _candidate(session: Session, name: str) -> int:
    job = queue.enqueue_job(session, config=load_config("sft", None, {"max_steps": 1}))
    version = registry.register_candidate(
        session,
        job_id=job.id,
        path=f"/models/{name}",
        base_model="embedded",
        parent_id=None,
        data_hash="0" * 64,
        config={"name": name},
    )
    assert queue.get_job(session, job_id=job.id).result_model_version_id == version.id
    return version.id


def test_promote_and_rollback_switch_the_served_model(sqlite_session: Session) -> None:
    assert registry.serving_model(sqlite_session, "embedded") == "embedded"
    first, second = _candidate(sqlite_session, "a"), _candidate(sqlite_session, "b")
    registry.promote(sqlite_session, version_id=first)
    assert registry.serving_model(sqlite_session, "embedded") == "/models/a"
    registry.promote(sqlite_session, version_id=second)
    assert registry.serving_model(sqlite_session, "embedded") == "/models/b"
    assert registry.get_version(sqlite_session, version_id=first).status == registry.RETIRED
    with pytest.raises(ConflictError, match="already active"):
        registry.promote(sqlite_session, version_id=second)

    back = registry.rollback(sqlite_session)
    assert back is not None and back.id == first
    assert registry.serving_model(sqlite_session, "embedded") == "/models/a"
    assert registry.get_version(sqlite_session, version_id=second).status == registry.REJECTED
    assert registry.rollback(sqlite_session) is None  # nothing before the first: the default model serves again
    assert registry.serving_model(sqlite_session, "embedded") == "embedded"
    with pytest.raises(ConflictError, match="no active model"):
        registry.rollback(sqlite_session)


def test_gate_promotes_only_when_at_least_as_good(sqlite_session: Session) -> None:
    def scores(error_hits: int, correct_hits: int) -> dict:
        return {"total": 8, "erroneous": 4, "correct": 4, "error_hits": error_hits, "correct_hits": correct_hits,
                "f1": None if not (error_hits and correct_hits) else 2 * (error_hits / 4) * (correct_hits / 4)
                / ((error_hits + correct_hits) / 4)}  # fmt: skip

    worse = registry.decide(scores(1, 2), scores(2, 2), min_delta=0.0, auto_promote=True)
    assert not worse.promoted and "< active" in worse.reason
    equal = registry.decide(scores(2, 2), scores(2, 2), min_delta=0.0, auto_promote=True)
    assert equal.promoted
    strict = registry.decide(scores(2, 2), scores(2, 2), min_delta=0.05, auto_promote=True)
    assert not strict.promoted
    assert registry.decide(scores(1, 1), None, min_delta=0.0, auto_promote=True).promoted

    version_id = _candidate(sqlite_session, "c")
    kept = registry.apply_gate(sqlite_session, version_id=version_id, decision=worse)
    assert kept.status == registry.CANDIDATE and "kept as candidate" in kept.notes
    assert kept.metrics["gate"]["reason"] == worse.reason
    promoted = registry.apply_gate(sqlite_session, version_id=version_id, decision=equal)
    assert promoted.status == registry.ACTIVE and registry.active_model(sqlite_session).id == version_id
