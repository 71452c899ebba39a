"""Critique runs: store a critique (math or code) for an item, read it back, list its step verdicts as suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.code.critique import CodeCritiqueResult
from core.confidence import verdict_confidence
from core.errors import NotFoundError
from core.types import CritiqueResult, SolutionItem, StepResult, Verdict
from db.items import CODE_LABEL_STEP, content_hash, item_row
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
    result: CritiqueResult | CodeCritiqueResult,
    model_version_id: int | None = None,
    created_by_id: int | None = None,
) -> CritiqueRun:
    """Store one critique of an item (result JSON, raw outputs, votes, timing) in one transaction."""
    begin_write(session)
    if session.get(Item, item_id) is None:
        raise NotFoundError(f"no item with id {item_id}")
    if isinstance(result, CodeCritiqueResult):
        return _save_code_run(session, item_id, result, model_version_id, created_by_id)
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


def _save_code_run(
    session: Session,
    item_id: int,
    result: CodeCritiqueResult,
    model_version_id: int | None,
    created_by_id: int | None,
) -> CritiqueRun:
    run = CritiqueRun(
        item_id=item_id,
        model_version_id=model_version_id,
        model=result.model,
        backend=result.backend,
        mode="code",
        samples=1,
        raw_outputs=[result.raw_output],
        result=result.model_dump(mode="json"),
        first_error_step=CODE_LABEL_STEP[result.verdict],
        votes=[],
        parse_status="ok" if result.model_verdict is not None else "partial",
        confidence=None,
        duration_s=sum(result.timings.values()) if result.timings else None,
        created_by_id=created_by_id,
    )
    session.add(run)
    session.commit()
    return run


def is_code_run(run: CritiqueRun) -> bool:
    return isinstance(run.result, dict) and run.result.get("kind") == "code"


def to_code_critique_result(run: CritiqueRun) -> CodeCritiqueResult:
    """A code critique run's full result: execution, verdict, analysis, suggestions."""
    if not is_code_run(run):
        raise NotFoundError(f"critique run {run.id} is not a critique of code")
    return CodeCritiqueResult.model_validate(run.result)


def _code_as_steps(code: CodeCritiqueResult) -> CritiqueResult:
    """A code critique seen as a one-step critique (the code is the step): what the step views of the app show."""
    source = {"tests": "checker", "model": "model", "both": "both"}[code.verdict_source]
    step = StepResult(
        index=1,
        text=code.code,
        verdict=code.verdict,
        critique=code.critique_text,
        model_verdict=code.model_verdict,
        verdict_source=source,  # type: ignore[arg-type]
    )
    return CritiqueResult(
        id=code.id,
        problem=code.problem,
        steps=[step],
        first_error_step=CODE_LABEL_STEP[code.verdict],
        model=code.model,
        backend=code.backend,
        timings=dict(code.timings),
        raw_outputs=[code.raw_output],
        completion_tokens=code.completion_tokens,
    )


def to_critique_result(run: CritiqueRun) -> CritiqueResult:
    """The run's result; a code critique as a one-step critique (to_code_critique_result gives all of it)."""
    if is_code_run(run):
        return _code_as_steps(to_code_critique_result(run))
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
