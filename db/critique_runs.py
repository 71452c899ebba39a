"""Critique runs: store a core CritiqueResult for an item, read it back, and list its step verdicts as suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.confidence import verdict_confidence
from core.errors import NotFoundError
from core.types import CritiqueResult, SolutionItem, Verdict
from db.items import content_hash, item_row
from db.models import CritiqueRun, Item
from db.session import begin_write


def record_critique(session: Session, *, item: SolutionItem, result: CritiqueResult) -> CritiqueRun:
    """Store the item (unless stored already, by content) and its critique in one transaction."""
    begin_write(session)
    row = session.scalar(select(Item).where(Item.content_hash == content_hash(item.problem, item.steps)))
    if row is None:
        row = item_row(item)
        session.add(row)
        session.flush()
    return save_critique_run(session, item_id=row.id, result=result)


def save_critique_run(
    session: Session,
    *,
    item_id: int,
    result: CritiqueResult,
    model_version_id: int | None = None,
    created_by_id: int | None = None,
) -> CritiqueRun:
    """Store one critique of an item (result JSON, raw outputs, votes, timing) in one transaction."""
    begin_write(session)
    if session.get(Item, item_id) is None:
        raise NotFoundError(f"no item with id {item_id}")
    duration = result.timings.get("total_s", sum(result.timings.values()) if result.timings else None)
    run = CritiqueRun(
        item_id=item_id,
        model_version_id=model_version_id,
        model=result.model,
        backend=result.backend,
        mode=result.mode,
        samples=result.samples,
        raw_outputs=list(result.raw_outputs),
        result=result.model_dump(mode="json"),
        first_error_step=result.first_error_step,
        votes=list(result.votes),
        parse_status=result.parse_status,
        confidence=verdict_confidence(result),
        duration_s=duration,
        created_by_id=created_by_id,
    )
    session.add(run)
    session.commit()
    return run


def to_critique_result(run: CritiqueRun) -> CritiqueResult:
    return CritiqueResult.model_validate(run.result)


def get_critique_run(session: Session, *, run_id: int) -> CritiqueRun:
    run = session.get(CritiqueRun, run_id)
    if run is None:
        raise NotFoundError(f"no critique run with id {run_id}")
    return run


def list_critique_runs(session: Session, *, item_id: int) -> list[CritiqueRun]:
    """The item's critiques, newest first."""
    query = select(CritiqueRun).where(CritiqueRun.item_id == item_id).order_by(CritiqueRun.id.desc())
    return list(session.scalars(query))


def latest_critique_run(session: Session, *, item_id: int) -> CritiqueRun | None:
    runs = list_critique_runs(session, item_id=item_id)
    return runs[0] if runs else None


@dataclass(frozen=True)
class StepSuggestion:
    """A critic's verdict on one step, offered to the annotator: value, score (vote share) and producing model."""

    step: int
    value: Verdict
    score: float | None
    model: str
    critique_run_id: int


def step_suggestions(run: CritiqueRun) -> list[StepSuggestion]:
    result = to_critique_result(run)
    return [
        StepSuggestion(step=s.index, value=s.verdict, score=s.vote_share, model=result.model, critique_run_id=run.id)
        for s in result.steps
    ]


def critiqued_item_ids(session: Session, item_ids: Iterable[int]) -> set[int]:
    """The ones among `item_ids` that have at least one critique run."""
    return set(session.scalars(select(CritiqueRun.item_id).where(CritiqueRun.item_id.in_(list(item_ids))).distinct()))
