"""The model registry: candidates from finished jobs, the evaluation gate, promote / roll back, the active model."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from db.models import ModelEvent, ModelVersion, TrainingJob, utcnow
from db.webhooks import record_event
from training.gate import GateDecision
from training.queue import end_read, start_write

ACTIVE = "serving"
"""The status of the one model the app serves (the 'active' model)."""
CANDIDATE, RETIRED, REJECTED = "candidate", "retired", "rejected"
CRITIC, ACTOR = "critic", "actor"
MODEL_KINDS = (CRITIC, ACTOR)
"""What a version is: a critic (critiques solutions) or an actor (solves problems); each kind serves one version."""


def active_model(session: Session, kind: str = CRITIC) -> ModelVersion | None:
    """The version of `kind` the app serves now, or None (then the configured default model serves).

    A fresh query each call, so the app picks up promotions and rollbacks without a restart.
    """
    version = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == ACTIVE, ModelVersion.kind == kind)
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    ).first()
    end_read(session)  # do not hold a read snapshot open in long-lived sessions
    return version


def serving_model(session: Session, default: str, kind: str = CRITIC) -> str:
    """The model name/path the critic (or actor) should load now: the active version's path, else `default`."""
    version = active_model(session, kind)
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


def list_versions(session: Session, *, limit: int = 100, kind: str | None = None) -> list[ModelVersion]:
    """Newest first; only versions of `kind` when given."""
    query = select(ModelVersion).order_by(ModelVersion.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(ModelVersion.kind == kind)
    versions = list(session.scalars(query).all())
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
    kind: str = CRITIC,
) -> ModelVersion:
    """Record a finished job's model as a `candidate` of `kind` and link it from the job."""
    start_write(session)
    job = session.get(TrainingJob, job_id)
    version = ModelVersion(
        name=f"pending-{uuid.uuid4().hex}",
        kind=kind,
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


def _serving(session: Session, kind: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == ACTIVE, ModelVersion.kind == kind)
        .execution_options(populate_existing=True)
    ).first()


def _swap_serving(
    session: Session,
    *,
    version_id: int,
    expected_serving_id: int | None,
    from_statuses: tuple[str, ...],
    note: str,
    kind: str = CRITIC,
) -> bool:
    """Inside the caller's write transaction: make `version_id` (of `kind`) serve, only if `expected_serving_id`
    still serves that kind.

    Compare-and-set: the expected version is retired by a conditional UPDATE (a concurrent promotion that got
    there first leaves it matching nothing), then the new one is set serving only if none serves; the unique
    index on the serving status stops a racing transaction that checked before this one committed.
    Returns False (nothing changed, transaction rolled back) when the serving version is not the expected one.
    """
    if expected_serving_id is not None:
        retired = session.execute(
            update(ModelVersion)
            .where(ModelVersion.id == expected_serving_id, ModelVersion.status == ACTIVE)
            .values(status=RETIRED)
            .execution_options(synchronize_session=False)
        )
        if retired.rowcount != 1:
            session.rollback()
            return False
    nobody_serves = ~select(ModelVersion.id).where(ModelVersion.status == ACTIVE, ModelVersion.kind == kind).exists()
    try:
        promoted = session.execute(
            update(ModelVersion)
            .where(
                ModelVersion.id == version_id,
                ModelVersion.kind == kind,
                ModelVersion.status.in_(from_statuses),
                nobody_serves,
            )
            .values(status=ACTIVE, promoted_at=utcnow(), notes=note)
            .execution_options(synchronize_session=False)
        )
    except IntegrityError:  # another transaction set a version serving after our check: it wins
        session.rollback()
        return False
    if promoted.rowcount != 1:
        session.rollback()
        return False
    return True


def _audit(
    session: Session,
    *,
    version_id: int | None,
    action: str,
    actor: str,
    reason: str,
    actor_id: int | None = None,
    previous_serving_id: int | None = None,
) -> None:
    session.add(
        ModelEvent(
            model_version_id=version_id,
            action=action,
            actor=actor,
            actor_id=actor_id,
            reason=reason,
            previous_serving_id=previous_serving_id,
        )
    )


def promote(
    session: Session,
    *,
    version_id: int,
    reason: str = "promoted by an admin",
    actor: str = "admin",
    actor_id: int | None = None,
) -> ModelVersion:
    """Make a version serve by hand (the gate is not consulted); the previous one of its kind is retired (the rollback
    target).

    The audit trail (`model_events`) records who did it and why.
    """
    start_write(session)
    version = _load_version(session, version_id)
    if version.status == ACTIVE:
        session.rollback()
        raise ConflictError(f"model version {version_id} is already active")
    current = _serving(session, version.kind)
    previous_id = current.id if current is not None else None
    swapped = _swap_serving(
        session,
        version_id=version_id,
        expected_serving_id=previous_id,
        from_statuses=(CANDIDATE, RETIRED, REJECTED),
        note=reason,
        kind=version.kind,
    )
    if not swapped:
        raise ConflictError("another promotion or rollback happened at the same time; look at the registry and retry")
    _audit(
        session,
        version_id=version_id,
        action="promote",
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        previous_serving_id=previous_id,
    )
    event = {"model_version_id": version_id, "name": version.name, "kind": version.kind}
    event |= {"previous_serving_id": previous_id, "actor": actor, "reason": reason}
    record_event(session.connection(), "model.promoted", event)
    session.commit()
    return _load_version(session, version_id)


def rollback(
    session: Session,
    *,
    reason: str = "rolled back by an admin",
    actor: str = "admin",
    actor_id: int | None = None,
    kind: str = CRITIC,
) -> ModelVersion | None:
    """Retire the active version of `kind` as `rejected` and reactivate the one of that kind active before it.

    Returns the version now active, or None when there was none before (the default model serves again).
    """
    start_write(session)
    current = _serving(session, kind)
    if current is None:
        session.rollback()
        raise ConflictError(f"no active model version ({kind}) to roll back")
    previous = session.scalars(
        select(ModelVersion)
        .where(
            ModelVersion.status == RETIRED,
            ModelVersion.kind == kind,
            ModelVersion.promoted_at.is_not(None),
            ModelVersion.id != current.id,
        )
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    ).first()
    current.status = REJECTED
    current.notes = reason
    session.flush()  # the rejected one stops serving before the previous one starts (one serving at a time)
    if previous is not None:
        previous.status = ACTIVE
        previous.promoted_at = utcnow()
        previous.notes = f"reactivated: {reason} (version {current.id})"
    _audit(
        session,
        version_id=current.id,
        action="rollback",
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        previous_serving_id=previous.id if previous is not None else None,
    )
    event = {"model_version_id": current.id, "name": current.name, "kind": kind}
    event |= {"serving_id": previous.id if previous is not None else None, "actor": actor, "reason": reason}
    record_event(session.connection(), "model.rolled_back", event)
    session.commit()
    return previous


def model_events(session: Session, *, version_id: int | None = None, limit: int = 100) -> list[ModelEvent]:
    """The registry's audit trail, newest first (optionally for one version)."""
    query = select(ModelEvent).order_by(ModelEvent.id.desc()).limit(limit)
    if version_id is not None:
        query = query.where(ModelEvent.model_version_id == version_id)
    events = list(session.scalars(query))
    end_read(session)
    return events


# --- the evaluation gate -------------------------------------------------------------------------------------------


def apply_gate(
    session: Session,
    *,
    version_id: int,
    decision: GateDecision,
    expected_serving_id: int | None,
    actor: str = "gate",
) -> ModelVersion:
    """Store the gate's evaluation on the version; promote it when the gate passed and the version it was compared
    with (`expected_serving_id`, None = the default model) still serves. Otherwise it stays a candidate."""
    gate = {
        "metric": decision.metric,
        "candidate": decision.candidate_score,
        "active": decision.active_score,
        "interval": list(decision.interval) if decision.interval else None,
        "n_items": decision.n_items,
        "compared_with": expected_serving_id,
        "promoted": decision.promoted,
        "reason": decision.reason,
    }
    promoted = False
    if decision.promoted:
        kind = _load_version(session, version_id).kind
        start_write(session)
        promoted = _swap_serving(
            session,
            version_id=version_id,
            expected_serving_id=expected_serving_id,
            from_statuses=(CANDIDATE,),
            note=f"auto-promoted: {decision.reason}",
            kind=kind,
        )
        if promoted:
            _audit(
                session,
                version_id=version_id,
                action="auto-promote",
                actor=actor,
                reason=decision.reason,
                previous_serving_id=expected_serving_id,
            )
            event = {"model_version_id": version_id, "name": _load_version(session, version_id).name, "kind": kind}
            event |= {"previous_serving_id": expected_serving_id, "actor": actor, "reason": decision.reason}
            record_event(session.connection(), "model.promoted", event)
            session.commit()
        else:
            gate["promoted"] = False
            gate["reason"] = f"{decision.reason}; not promoted: the serving model changed during the evaluation"
    start_write(session)
    version = _load_version(session, version_id)
    version.metrics = {**(version.metrics or {}), "gate": gate, "eval": decision.details.get("candidate_scores")}
    if not promoted:
        version.notes = f"kept as candidate: {gate['reason']}"
        _audit(session, version_id=version_id, action="kept", actor=actor, reason=gate["reason"])
    session.commit()
    return version
