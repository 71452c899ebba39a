"""Critique handlers: one pasted solution (streamed step by step) or an uploaded file of many."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BadInputError, ConflictError
from core.items_csv import read_upload
from core.items_io import make_item
from core.models import is_embedded
from core.prompts import format_steps
from core.refine import RefineConfig, Revision, StepChange, revise, step_diff
from core.types import CritiqueResult, SolutionItem, StepResult
from webapp.context import AppContext
from webapp.limits import check_critique_request, start_job
from webapp.permissions import Action, Actor, require

MAX_SAMPLES = 16


def _check_samples(samples: int | float | None) -> int:
    k = int(samples or 1)
    if not 1 <= k <= MAX_SAMPLES:
        raise BadInputError(f"samples (k) must be between 1 and {MAX_SAMPLES}, got {k}")
    return k


def pending_result(
    item: SolutionItem, *, model: str, backend: str, mode: str, samples: int, model_version: str | None = None
) -> CritiqueResult:
    """The step cards before the critic has written anything: every step shown, every verdict unchecked."""
    steps = [StepResult(index=i, text=text, verdict="unchecked") for i, text in enumerate(item.steps, start=1)]
    return CritiqueResult(
        id=item.id,
        problem=item.problem,
        steps=steps,
        first_error_step=None,
        model=model,
        model_version=model_version,
        backend=backend,
        mode=mode,  # type: ignore[arg-type]
        samples=samples,
        parse_status="partial",
        finished=False,
    )


def by_embedded_model(results: CritiqueResult | list[CritiqueResult]) -> bool:
    """Whether the embedded model wrote (any of) these critiques: the page then says what its verdicts are worth."""
    many = results if isinstance(results, list) else [results]
    return any(is_embedded(r.model) for r in many)


def critique_stream(
    ctx: AppContext,
    actor: Actor | None,
    *,
    problem: str,
    solution: str,
    model: str | None = None,
    backend: str | None = None,
    mode: str = "single",
    samples: int = 1,
) -> Iterator[tuple[CritiqueResult, bool, int | None]]:
    """Yield (partial result, done, run id) while the critic writes; the last has done=True and the stored run's id."""
    actor = require(actor, Action.CRITIQUE)
    k = _check_samples(samples)
    item = make_item(problem or "", solution=solution or "", settings=ctx.settings, where="pasted solution")
    check_critique_request(ctx, actor, model=model, backend=backend, mode=mode, samples=k, items=[item])
    with start_job(ctx, actor):
        model, version = _model_and_version(ctx, model)
        backend = backend or ctx.default_backend
        pending = pending_result(item, model=model, backend=backend, mode=mode, samples=k, model_version=version.name)
        yield pending, False, None
        critic = ctx.critic(model, backend, mode)
        started = time.perf_counter()
        final: CritiqueResult | None = None
        with ctx.generating(critic.backend):
            for partial in critic.stream(item, samples=k):
                final = partial.model_copy(update={"model_version": version.name})
                yield final, False, None
        if final is None:  # a critic that streamed nothing still owes one result
            final = critic.critique_many([item], samples=k)[0].model_copy(update={"model_version": version.name})
        final.timings.setdefault("web_total_s", time.perf_counter() - started)
        run_id = _store_run(ctx, actor, item, final, version.id)
    yield final, True, run_id


def critique_file(
    ctx: AppContext,
    actor: Actor | None,
    *,
    path: str | Path,
    model: str | None = None,
    backend: str | None = None,
    mode: str = "single",
    samples: int = 1,
) -> tuple[list[CritiqueResult], list[str]]:
    """Critique every good item of an uploaded JSON/JSONL/CSV file; return results and one error line per bad item."""
    actor = require(actor, Action.CRITIQUE)
    k = _check_samples(samples)
    parsed = read_upload(path, settings=ctx.settings)
    items = [x for x in parsed if isinstance(x, SolutionItem)]
    errors = [str(x) for x in parsed if isinstance(x, BadInputError)]
    check_critique_request(
        ctx, actor, model=model, backend=backend, mode=mode, samples=k, items=items, rows=len(parsed)
    )
    if not items:
        return [], errors or ["the file holds no items"]
    with start_job(ctx, actor):
        model, version = _model_and_version(ctx, model)
        critic = ctx.critic(model, backend, mode)
        with ctx.generating(critic.backend):
            results = critic.critique_many(items, samples=k)
    results = [r.model_copy(update={"model_version": version.name}) for r in results]
    for item, result in zip(items, results, strict=True):
        _store_run(ctx, actor, item, result, version.id)
    return results, errors


@dataclass
class RevisedSolution:
    """A solution rewritten from the critique's first wrong step, with its step diff and its text for re-critiquing."""

    revision: Revision
    diff: list[StepChange]
    solution_text: str


def revise_with_critique(
    ctx: AppContext,
    actor: Actor | None,
    *,
    critique: CritiqueResult | dict[str, Any],
    model: str | None = None,
    backend: str | None = None,
    mode: str = "single",
) -> RevisedSolution:
    """Rewrite the critiqued solution from its first wrong step (correct prefix kept) with the critique tab's model."""
    actor = require(actor, Action.CRITIQUE)  # whoever may critique may revise
    if not critique:
        raise BadInputError("critique a solution first: there is no critique to revise with")
    result = critique if isinstance(critique, CritiqueResult) else CritiqueResult.model_validate(critique)
    if not result.steps:
        raise BadInputError("the critique shown has no steps to revise")
    item = SolutionItem(id=result.id, problem=result.problem, steps=[s.text for s in result.steps])
    check_critique_request(ctx, actor, model=model, backend=backend, mode=mode, samples=1, items=[item])
    with start_job(ctx, actor):
        # The critic's own backend writes the revision: the same loaded model, no second loader.
        generator = ctx.critic(model or serving_model_name(ctx), backend or ctx.default_backend, mode).backend
        with ctx.generating(generator):
            [revision] = revise(generator, [item], [result], RefineConfig())
    return RevisedSolution(
        revision=revision, diff=step_diff(item.steps, revision.steps), solution_text=format_steps(revision.steps)
    )


def serving_model_name(ctx: AppContext) -> str:
    """The promoted model version's path when there is one (promotion applies without a restart), else the default."""
    return ctx.serving().model


@dataclass(frozen=True)
class _Version:
    id: int | None = None
    name: str | None = None


def _model_and_version(ctx: AppContext, model: str | None) -> tuple[str, _Version]:
    """The model a critique uses (the one asked for, else the serving one) and the registry version it is, if any."""
    serving = ctx.serving()
    chosen = model or serving.model
    if chosen in (serving.model, serving.version_name) and serving.version_id is not None:
        return serving.model, _Version(serving.version_id, serving.version_name)
    return chosen, _Version()


def _store_run(
    ctx: AppContext, actor: Actor, item: SolutionItem, result: CritiqueResult, version_id: int | None
) -> int | None:
    """Keep the critique in the database so reviewers and annotators can reuse it; returns the run's id (None: a
    failed critique is not stored)."""
    from db.critique_runs import save_critique_run
    from db.items import add_item
    from db.session import session_scope

    if result.error:
        return None
    with session_scope(ctx.database_url) as session:
        # Runs by the promoted version are attributed to it, so the dashboard compares versions with people.
        row = add_item(session, item=item.model_copy(update={"source": "web"}))
        run = save_critique_run(
            session, item_id=row.id, result=result, created_by_id=actor.id, model_version_id=version_id
        )
        return run.id


@dataclass
class CritiqueLabel:
    """What saving labels of one's critique stored: the annotation, its critique run and first wrong step."""

    annotation_id: int
    critique_run_id: int
    first_error_step: int | None
    message: str


def label_critique_run(
    ctx: AppContext, actor: Actor | None, *, run_id: int, first_wrong_step: int | None
) -> CritiqueLabel:
    """Save the user's labels of a critique they ran, as their submitted annotation linked to that run (audited like
    every annotation): the critic's step verdicts accepted (`first_wrong_step` None), or the steps before
    `first_wrong_step` correct and it wrong (-1: every step correct)."""
    from db.annotations import find_annotation
    from db.critique_runs import get_critique_run, to_critique_result
    from db.session import session_scope
    from webapp.handlers.annotate import Task, accept_all, save_task
    from webapp.handlers.teacher import ratings_for_first_wrong

    actor = require(actor, Action.ANNOTATE)
    with session_scope(ctx.database_url) as session:
        run = get_critique_run(session, run_id=run_id)
        steps = list(run.item.steps)
        task = Task(
            campaign_id=None,
            item_id=run.item_id,
            problem=run.item.problem,
            steps=steps,
            critique=to_critique_result(run),
            critique_run_id=run.id,
            ratings=[None] * len(steps),
        )
        # The same solution critiqued again: the user's label of it is updated, not duplicated.
        mine = find_annotation(session, item_id=run.item_id, annotator_id=actor.id, campaign_id=None)
        if mine is not None:
            task.annotation_id, task.version = mine.id, mine.version
    finish_reason: str | None = None
    if first_wrong_step is None:
        accept_all(task)
        if all(rating is None for rating in task.ratings):
            raise BadInputError("the critic judged no step, so there is nothing to accept: pick the first wrong step")
    else:
        task.ratings, finish_reason = ratings_for_first_wrong(int(first_wrong_step), len(steps))
    outcome = save_task(ctx, actor, task, finish_reason=finish_reason, comment="", submit=True)
    if outcome.conflict or outcome.saved is None:
        raise ConflictError(outcome.message or "someone saved this label at the same time; save again")
    first = outcome.saved["first_error_step"]
    what = "every step is correct" if first == -1 else f"step {first} is the first wrong step"
    annotation_id = int(outcome.saved["annotation_id"])
    return CritiqueLabel(
        annotation_id=annotation_id,
        critique_run_id=run_id,
        first_error_step=first,
        message=f"Saved: {what} (annotation #{annotation_id}, linked to critique run #{run_id}).",
    )
