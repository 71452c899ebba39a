"""The model registry: candidates from finished jobs, the evaluation gate, promote / roll back, the active model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from core.types import SolutionItem
from db.models import ModelVersion, TrainingJob, utcnow
from training.queue import end_read, start_write

ACTIVE = "serving"
"""The status of the one model the app serves (the 'active' model)."""
CANDIDATE, RETIRED, REJECTED = "candidate", "retired", "rejected"


def active_model(session: Session) -> ModelVersion | None:
    """The version the app serves now, or None (then the configured default model serves).

    A fresh query each call, so the app picks up promotions and rollbacks without a restart.
    """
    version = session.scalars(
        select(ModelVersion).where(ModelVersion.status == ACTIVE).order_by(ModelVersion.promoted_at.desc()).limit(1)
    ).first()
    end_read(session)  # do not hold a read snapshot open in long-lived sessions
    return version


def serving_model(session: Session, default: str) -> str:
    """The model name/path the critic should load now: the active version's path, else `default`."""
    version = active_model(session)
    return version.path if version is not None else default


def get_version(session: Session, *, version_id: int) -> ModelVersion:
    version = _load_version(session, version_id)
    end_read(session)
    return version


def _load_version(session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id, populate_existing=True)
    if version is None:
        raise NotFoundError(f"no model version with id {version_id}")
    return version


def list_versions(session: Session, *, limit: int = 100) -> list[ModelVersion]:
    """Newest first."""
    versions = list(session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(limit)).all())
    end_read(session)
    return versions


def register_candidate(
    session: Session,
    *,
    job_id: int,
    path: str,
    base_model: str,
    parent_id: int | None,
    data_hash: str,
    config: dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Record a finished job's model as a `candidate` and link it from the job."""
    start_write(session)
    job = session.get(TrainingJob, job_id)
    version = ModelVersion(
        name=f"pending-{uuid.uuid4().hex}",
        path=path,
        base_model=base_model,
        parent_id=parent_id,
        status=CANDIDATE,
        config={**config, "job_id": job_id},
        metrics=dict(metrics or {}),
        data_hash=data_hash,
        notes="",
    )
    session.add(version)
    session.flush()
    version.name = f"v{version.id}-{job.kind if job else 'job'}-job{job_id}"
    if job is not None:
        job.result_model_version_id = version.id
    session.commit()
    return version


def _set_active(session: Session, version: ModelVersion, note: str) -> None:
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.status == ACTIVE, ModelVersion.id != version.id)
        .values(status=RETIRED)
        .execution_options(synchronize_session=False)
    )
    version.status = ACTIVE
    version.promoted_at = utcnow()
    version.notes = note


def promote(session: Session, *, version_id: int, reason: str = "promoted by an admin") -> ModelVersion:
    """Make a version the active one; the previous active version is retired (and is the rollback target)."""
    start_write(session)
    version = _load_version(session, version_id)
    if version.status == ACTIVE:
        session.rollback()
        raise ConflictError(f"model version {version_id} is already active")
    _set_active(session, version, reason)
    session.commit()
    return version


def rollback(session: Session, *, reason: str = "rolled back by an admin") -> ModelVersion | None:
    """Retire the active version as `rejected` and reactivate the one active before it.

    Returns the version now active, or None when there was none before (the default model serves again).
    """
    start_write(session)
    current = session.scalars(select(ModelVersion).where(ModelVersion.status == ACTIVE)).first()
    if current is None:
        session.rollback()
        raise ConflictError("no active model version to roll back")
    previous = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == RETIRED, ModelVersion.promoted_at.is_not(None), ModelVersion.id != current.id)
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    ).first()
    current.status = REJECTED
    current.notes = reason
    if previous is not None:
        previous.status = ACTIVE
        previous.promoted_at = utcnow()
        previous.notes = f"reactivated: {reason} (version {current.id})"
    session.commit()
    return previous


# --- the evaluation gate -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    """The outcome of evaluating a candidate against the active model on the same held-out items."""

    promoted: bool
    reason: str
    candidate_score: float | None
    active_score: float | None
    metric: str
    details: dict[str, Any]


HELD_OUT_SUBSET = "held-out"


def evaluate_model(
    model: str,
    items: Sequence[SolutionItem],
    *,
    output: Path,
    max_new_tokens: int,
    model_version_id: int | None = None,
) -> dict[str, Any]:
    """ProcessBench scores of `model` on labelled items (greedy, one sample) through the evaluation harness.

    The run is recorded as an EvalRun (linked to `model_version_id`) and its predictions kept under `output`.
    """
    from core.benchmarks import Benchmark
    from training.evaluation import EvalConfig, run_eval

    config = EvalConfig.build(
        benchmark=HELD_OUT_SUBSET,
        output=output,
        model=str(model),
        backend="transformers",
        max_new_tokens=max_new_tokens,
        model_version_id=model_version_id,
    )
    outcome = run_eval(
        config, benchmark=Benchmark(name=HELD_OUT_SUBSET, subsets={HELD_OUT_SUBSET: list(items)}), show_progress=False
    )
    scores = outcome.report.subsets[HELD_OUT_SUBSET].to_dict()
    return {**scores, "eval_run_id": outcome.eval_run_id}


def _gate_score(scores: dict[str, Any]) -> tuple[float | None, str]:
    # F1 needs both erroneous and correct solutions; with only one kind held out, accuracy is what is known.
    if scores.get("f1") is not None:
        return float(scores["f1"]), "f1"
    total = scores.get("total") or 0
    if not total:
        return None, "none"
    return (scores.get("error_hits", 0) + scores.get("correct_hits", 0)) / total, "accuracy"


def decide(
    candidate: dict[str, Any], active: dict[str, Any] | None, *, min_delta: float, auto_promote: bool
) -> GateDecision:
    """Promote when the candidate's score >= active's + min_delta (no active model: any readable score passes)."""
    cand_score, metric = _gate_score(candidate)
    act_score = _gate_score(active)[0] if active is not None else None
    details = {"candidate": candidate, "active": active, "min_delta": min_delta}
    if cand_score is None:
        reason = "evaluation produced no score (empty held-out set)"
        return GateDecision(False, reason, None, act_score, metric, details)
    if act_score is not None and cand_score < act_score + min_delta:
        reason = f"{metric} {cand_score:.3f} < active {act_score:.3f}" + (f" + {min_delta:g}" if min_delta else "")
        return GateDecision(False, reason, cand_score, act_score, metric, details)
    passed = f"{metric} {cand_score:.3f} >= " + (f"active {act_score:.3f}" if act_score is not None else "no active")
    if not auto_promote:
        return GateDecision(False, f"{passed}; auto_promote is off", cand_score, act_score, metric, details)
    return GateDecision(True, passed, cand_score, act_score, metric, details)


def apply_gate(session: Session, *, version_id: int, decision: GateDecision) -> ModelVersion:
    """Store the evaluation on the version and promote it if the gate passed; otherwise keep it a candidate."""
    start_write(session)
    version = _load_version(session, version_id)
    version.metrics = {
        **(version.metrics or {}),
        "gate": {
            "metric": decision.metric,
            "candidate": decision.candidate_score,
            "active": decision.active_score,
            "promoted": decision.promoted,
            "reason": decision.reason,
        },
        "eval": decision.details.get("candidate"),
    }
    if decision.promoted:
        _set_active(session, version, f"auto-promoted: {decision.reason}")
    else:
        version.notes = f"kept as candidate: {decision.reason}"
    session.commit()
    return version
