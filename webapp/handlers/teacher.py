"""Teacher handlers: upload a class, critique every solution in the background, correct, export a report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.code.critique import CodeCritiqueResult
from core.code.items import CodeItem
from core.errors import BadInputError, NotFoundError
from core.grading import score
from core.items_csv import SharedCode, read_upload
from core.types import CritiqueResult, SolutionItem, StepRating
from db.annotations import find_annotation
from db.classes import (
    class_submissions,
    create_class,
    get_class,
    grading_schemes,
    list_classes,
    remember_class,
    remembered_class,
)
from db.critique_runs import (
    critiqued_item_ids,
    is_code_run,
    latest_critique_run,
    save_critique_run,
    to_code_critique_result,
    to_critique_result,
)
from db.items import is_code_row, problem_key, to_item
from db.models import Campaign, Item
from db.session import session_scope
from training.item_critiques import critique_any
from webapp.context import AppContext, JobSlot
from webapp.handlers.annotate import write_label
from webapp.limits import check_solutions, start_job
from webapp.permissions import Action, Actor, require

log = logging.getLogger(__name__)
BATCH = 8


@dataclass
class ReportRow:
    """One student's solution in the grading report."""

    student: str
    item_id: int
    problem: str
    steps: list[str]
    first_wrong_step: int | None
    comment: str
    corrected: bool
    critique: CritiqueResult | None
    code: CodeCritiqueResult | None = None
    """A code submission's critique with its test results (None for math, or not critiqued yet)."""
    is_code: bool = False
    test_list: list[str] = field(default_factory=list)
    """A code submission's assert-line tests (HumanEval tests have none: their failures are named instead)."""
    step_comments: dict[str, str] = field(default_factory=dict)
    """The teacher's notes on single steps, {"3": "text"}."""
    points: float | None = None
    """What the solution earns under its problem's grading (None: no grading set, or no verdict yet)."""
    max_points: float | None = None
    """Its problem's points (None: the teacher has not set them)."""
    rubric_ticks: list[str] = field(default_factory=list)

    @property
    def tests_passed(self) -> str:
        """`3/4` tests passed (code submissions once critiqued), else empty."""
        if self.code is None:
            return ""
        return f"{self.code.execution.passed}/{self.code.execution.total}"

    @property
    def verdict(self) -> str:
        """correct / incorrect (a code submission: the teacher's where corrected, else the critic's), else empty."""
        if not self.is_code or self.first_wrong_step is None:
            return ""
        return "correct" if self.first_wrong_step == -1 else "incorrect"


def classes(ctx: AppContext, actor: Actor | None) -> list[tuple[str, int]]:
    """(label, campaign id) of the classes the user owns (an admin: every class), newest first."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        return [(c.name, c.id) for c in list_classes(session, user_id=actor.id, role=actor.role)]


def class_to_show(ctx: AppContext, actor: Actor | None) -> tuple[list[tuple[str, int]], int | None]:
    """The user's classes (newest first) and the one to show: the class they picked last, else the newest."""
    actor = require(actor, Action.GRADE_CLASS)
    choices = classes(ctx, actor)
    with session_scope(ctx.database_url) as session:
        last = remembered_class(session, user_id=actor.id, role=actor.role)
    ids = [class_id for _, class_id in choices]
    return choices, last if last in ids else (ids[0] if ids else None)


def pick_class(ctx: AppContext, actor: Actor | None, *, class_id: int) -> None:
    """Remember the class the user picked, so that their next login or reload shows it again."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        remember_class(session, class_id=class_id, user_id=actor.id, role=actor.role)


def _own_class(session: Any, actor: Actor, class_id: int) -> Campaign:
    return get_class(session, class_id=class_id, user_id=actor.id, role=actor.role)


def upload_class(
    ctx: AppContext,
    actor: Actor | None,
    *,
    name: str,
    path: str | Path,
    start: bool = True,
    shared: SharedCode | None = None,
) -> tuple[int, list[str]]:
    """Store a class from a CSV/JSONL with a student column; start critiquing it. Returns (class id, bad rows).

    Code submissions (a `code` column or field) share `shared`'s problem and tests where their row has none.
    """
    actor = require(actor, Action.GRADE_CLASS)
    if not name.strip():
        raise BadInputError("give the class a name")
    parsed = read_upload(path, settings=ctx.settings, shared=shared, code=True)
    errors = [str(x) for x in parsed if isinstance(x, BadInputError)]
    items = [x for x in parsed if not isinstance(x, BadInputError)]
    if not items and errors:
        more = f" (and {len(errors) - 1} more rows)" if len(errors) > 1 else ""
        raise BadInputError(f"no solution in the file could be read: {errors[0]}{more}")
    # Code submissions have no steps to count: only the rows limit applies to them.
    check_solutions(ctx, actor, [i for i in items if isinstance(i, SolutionItem)], rows=len(parsed))
    unnamed = [i for i, item in enumerate(items, start=1) if not item.metadata.get("student")]
    if unnamed:
        raise BadInputError(
            f"{len(unnamed)} solution(s) have no student name (first: item {unnamed[0]}); "
            "add a 'student' column (CSV) or field (JSONL)"
        )
    job = start_job(ctx, actor) if start else None  # refused before the class is stored
    try:
        with session_scope(ctx.database_url) as session:
            campaign = create_class(
                session,
                name=name,
                submissions=[(str(i.metadata["student"]), i) for i in items],
                created_by_id=actor.id,
            )
            class_id = campaign.id
            remember_class(session, class_id=class_id, user_id=actor.id, role=actor.role)  # the new class is picked
    except BaseException:
        if job is not None:
            job.release()
        raise
    if job is not None:
        start_critiques(ctx, actor, class_id=class_id, job=job)
    return class_id, errors


def _uncritiqued(ctx: AppContext, class_id: int) -> list[tuple[int, SolutionItem | CodeItem]]:
    with session_scope(ctx.database_url) as session:
        item_ids = sorted({s.item_id for s in class_submissions(session, campaign_id=class_id)})
        done = critiqued_item_ids(session, item_ids)
        return [(i, to_item(session.get(Item, i))) for i in item_ids if i not in done]


def critique_class(ctx: AppContext, actor: Actor, *, class_id: int) -> int:
    """Critique every solution of the class that has no critique yet, in batches; returns how many were done."""
    todo = _uncritiqued(ctx, class_id)
    serving = ctx.serving()
    critic = ctx.critic(serving.model)
    done = 0
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        with ctx.generating(critic.backend):
            # Code submissions have their tests run first; the critique sees the outcome (core.code.critique).
            results = critique_any(critic, [item for _, item in chunk])
        with session_scope(ctx.database_url) as session:
            for (item_id, _), result in zip(chunk, results, strict=True):
                # Like the Critique tab's runs: the result and the run name the version that wrote them.
                if isinstance(result, CritiqueResult):
                    result = result.model_copy(update={"model_version": serving.version_name})
                save_critique_run(
                    session,
                    item_id=item_id,
                    result=result,
                    created_by_id=actor.id,
                    model_version_id=serving.version_id,
                )
        done += len(chunk)
    return done


def start_critiques(
    ctx: AppContext, actor: Actor | None, *, class_id: int, job: JobSlot | None = None
) -> threading.Thread:
    """Critique the class in a background thread; progress is read from the database (`class_progress`).

    The run counts as one of the teacher's critiques at once until it ends (`job`: a slot taken already)."""
    try:
        actor = require(actor, Action.GRADE_CLASS)
        with session_scope(ctx.database_url) as session:
            _own_class(session, actor, class_id)
        job = job or start_job(ctx, actor)
    except BaseException:
        if job is not None:
            job.release()
        raise

    def run() -> None:
        try:
            with job:
                critique_class(ctx, actor, class_id=class_id)
        except Exception:  # shown as stalled progress; the log has the cause
            log.exception("critiquing class %s failed", class_id)

    thread = threading.Thread(target=run, name=f"class-{class_id}", daemon=True)
    thread.start()
    return thread


def class_progress(ctx: AppContext, actor: Actor | None, *, class_id: int) -> tuple[int, int]:
    """(solutions critiqued, solutions in the class)."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        _own_class(session, actor, class_id)
        subs = class_submissions(session, campaign_id=class_id)
        item_ids = {s.item_id for s in subs}
        critiqued = critiqued_item_ids(session, item_ids)
        return sum(1 for s in subs if s.item_id in critiqued), len(subs)


def _first_wrong_comment(critique: CritiqueResult | None) -> tuple[int | None, str]:
    if critique is None or critique.first_error_step is None:
        return None, ""
    if critique.first_error_step == -1:
        return -1, "No mistake found."
    step = next((s for s in critique.steps if s.index == critique.first_error_step), None)
    return critique.first_error_step, (step.critique if step else "")


def report_rows(ctx: AppContext, actor: Actor | None, *, class_id: int) -> list[ReportRow]:
    """One row per student: the teacher's correction where there is one, else the critic's verdict."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        schemes = grading_schemes(_own_class(session, actor, class_id))
        rows = []
        for sub in class_submissions(session, campaign_id=class_id):
            item = session.get(Item, sub.item_id)
            run = latest_critique_run(session, item_id=sub.item_id)
            critique = to_critique_result(run) if run is not None else None
            code = to_code_critique_result(run) if run is not None and is_code_run(run) else None
            first, comment = _first_wrong_comment(critique)
            if code is not None:
                comment = code.analysis
            mine = find_annotation(session, item_id=sub.item_id, annotator_id=actor.id, campaign_id=class_id)
            corrected = mine is not None
            if mine is not None:  # the teacher's correction outranks the critic's verdict, in the grade too
                first, comment = mine.first_error_step, mine.comment
            scheme = schemes.get(problem_key(item.problem))
            ticks = list(sub.rubric_ticks)
            rows.append(
                ReportRow(
                    student=sub.student,
                    item_id=sub.item_id,
                    problem=item.problem,
                    steps=list(item.steps),
                    first_wrong_step=first,
                    comment=comment,
                    corrected=corrected,
                    critique=critique,
                    code=code,
                    is_code=is_code_row(item),
                    test_list=list((item.tests or {}).get("test_list") or []),
                    step_comments=dict(mine.step_comments) if mine is not None else {},
                    points=None
                    if scheme is None
                    else score(scheme, first_wrong_step=first, n_steps=len(item.steps), ticked=ticks),
                    max_points=None if scheme is None else scheme.points,
                    rubric_ticks=ticks,
                )
            )
        return rows


def ratings_for_first_wrong(first_wrong_step: int, n_steps: int) -> tuple[list[StepRating], str]:
    """PRM800K-style ratings and finish reason meaning 'step k is the first wrong one' (-1: none is wrong)."""
    if first_wrong_step == -1:
        return [1] * n_steps, "solution"
    if not 1 <= first_wrong_step <= n_steps:
        raise BadInputError(f"first wrong step must be -1 or between 1 and {n_steps}, got {first_wrong_step}")
    ratings: list[StepRating] = [1] * (first_wrong_step - 1) + [-1] + [None] * (n_steps - first_wrong_step)
    return ratings, "found_error"


def correct(
    ctx: AppContext,
    actor: Actor | None,
    *,
    class_id: int,
    item_id: int,
    first_wrong_step: int,
    comment: str = "",
    step_comments: Mapping[int | str, str] | None = None,
) -> dict[str, Any]:
    """Record the teacher's verdict on a solution (kept as their annotation in the class campaign); `step_comments`
    replaces their notes on single steps ({3: "text"}), None keeps the ones saved before."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        _own_class(session, actor, class_id)
        item = session.get(Item, item_id)
        if item is None:
            raise NotFoundError(f"no item with id {item_id}")
        in_class = item_id in {s.item_id for s in class_submissions(session, campaign_id=class_id)}
        if not in_class:
            raise NotFoundError(f"solution {item_id} is not in class {class_id}")
        ratings, finish = ratings_for_first_wrong(int(first_wrong_step), len(item.steps))
        existing = find_annotation(session, item_id=item_id, annotator_id=actor.id, campaign_id=class_id)
        row = write_label(
            session,
            actor_id=actor.id,
            item_id=item_id,
            campaign_id=class_id,
            stored=None if existing is None else (existing.id, existing.version),
            ratings=ratings,
            finish_reason=finish,
            comment=comment,
            status="submitted",
            **({} if step_comments is None else {"step_comments": step_comments}),
        )
        return {
            "item_id": item_id,
            "first_wrong_step": row.first_error_step,
            "comment": row.comment,
            "step_comments": dict(row.step_comments),
        }
