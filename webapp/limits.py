"""Limits per role on the work a web request starts (core.settings.RoleLimits), checked before anything runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from core.errors import BadInputError, PermissionDeniedError
from core.settings import BACKEND_CHOICES, BACKEND_NAMES, RoleLimits
from core.types import Mode, SolutionItem
from webapp.context import AppContext, JobSlot
from webapp.permissions import Actor

MODES: tuple[str, ...] = get_args(Mode)
SETTING = "CRITIC_ROLE_LIMITS"


def limits_of(ctx: AppContext, actor: Actor) -> RoleLimits:
    return ctx.settings.limits_for(actor.role)


def _refuse(actor: Actor, problems: list[str]) -> None:
    if problems:
        raise PermissionDeniedError(
            f"over the {actor.role} role's limits: {'; '.join(problems)} (an admin sets them in {SETTING})"
        )


def check_critique_request(
    ctx: AppContext,
    actor: Actor,
    *,
    model: str | None,
    backend: str | None,
    mode: str,
    samples: int,
    items: Sequence[SolutionItem] = (),
    rows: int | None = None,
) -> None:
    """Refuse a critique the actor's role may not start (one message naming every limit it breaks): its samples,
    mode, model, backend, and the `items` it critiques (for a file, `rows` is its row count). Unknown backends and
    modes are refused for every role. Nothing is loaded or run before this check."""
    if mode not in MODES:
        raise BadInputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if backend and backend not in BACKEND_NAMES and backend != ctx.default_backend:
        raise BadInputError(f"backend {backend!r} is not one of {BACKEND_CHOICES}")
    limits, role = limits_of(ctx, actor), actor.role
    problems = []
    if samples > limits.max_samples:
        problems.append(f"samples (k) {samples} is more than {limits.max_samples} ({role}.max_samples)")
    if mode not in limits.modes:
        problems.append(f"mode {mode!r} is not open to it ({role}.modes: {', '.join(limits.modes)})")
    if not limits.choose_model:
        if model:
            serving = ctx.serving()
            if model not in (serving.model, serving.version_name):
                ctx.offered_model(model)  # a name nobody offers gets the same answer for every role and path
                problems.append(
                    f"only admins pick the model: leave it empty for the serving model ({role}.choose_model)"
                )
        if backend and backend != ctx.default_backend:
            problems.append(f"only admins pick the backend: leave it at {ctx.default_backend!r} ({role}.choose_model)")
    _refuse(actor, problems + _solution_problems(limits, role, items, rows))


def check_solutions(ctx: AppContext, actor: Actor, items: Sequence[SolutionItem], *, rows: int | None = None) -> None:
    """Refuse solutions longer than the role's steps per solution and, for a file (`rows`: its row count), more rows
    than the role's rows per file."""
    _refuse(actor, _solution_problems(limits_of(ctx, actor), actor.role, items, rows))


def _solution_problems(limits: RoleLimits, role: str, items: Sequence[SolutionItem], rows: int | None) -> list[str]:
    problems = []
    if rows is not None and rows > limits.max_file_rows:
        problems.append(f"the file holds {rows} solutions, more than {limits.max_file_rows} ({role}.max_file_rows)")
    too_long = [(n, len(item.steps)) for n, item in enumerate(items, start=1) if len(item.steps) > limits.max_steps]
    if too_long:
        n, steps = too_long[0]
        if rows is None:
            problems.append(f"the solution has {steps} steps, more than {limits.max_steps} ({role}.max_steps)")
        else:
            problems.append(
                f"{len(too_long)} solution(s) have more than {limits.max_steps} steps, item {n} has {steps} "
                f"({role}.max_steps)"
            )
    return problems


def start_job(ctx: AppContext, actor: Actor) -> JobSlot:
    """Count a critique the actor starts against their role's critiques at once; release the slot when it ends."""
    return ctx.start_job(actor.id, limit=limits_of(ctx, actor).max_jobs, role=actor.role)
