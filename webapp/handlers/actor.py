"""Actor handlers: the actor solves a problem, and a solution is refined in critique -> revision rounds."""

from __future__ import annotations

from dataclasses import dataclass

from core.backends.base import GenerationParams
from core.errors import BadInputError
from core.items_io import make_item
from core.prompts import format_steps
from core.refine import RefineConfig, Refinement, refine
from core.solving import solve
from webapp.context import AppContext
from webapp.handlers.critique import serving_model_name
from webapp.permissions import Action, Actor, require

MAX_ROUNDS = 5


@dataclass(frozen=True)
class ActorSolution:
    """The actor's solution to a problem, as steps and as text for the solution box."""

    steps: list[str]
    final_answer: str | None
    solution_text: str
    model: str


def actor_model_name(ctx: AppContext) -> str:
    """The serving actor version's path when one is promoted, else the app's default model."""
    from db.session import session_scope
    from training.registry import ACTOR, active_model

    with session_scope(ctx.database_url) as session:
        version = active_model(session, ACTOR)
        return version.path if version is not None else ctx.default_model


def solve_problem(
    ctx: AppContext, actor: Actor | None, *, problem: str, model: str | None = None, backend: str | None = None
) -> ActorSolution:
    """One greedy solution to `problem` by the actor (the model asked for, else the serving actor)."""
    require(actor, Action.CRITIQUE)  # whoever may critique may have the actor solve
    problem = (problem or "").strip()
    if not problem:
        raise BadInputError("write a problem first: the actor needs something to solve")
    make_item(problem, solution="placeholder")  # the problem's length limits are the critique input's
    chosen = model or actor_model_name(ctx)
    engine = ctx.critic(chosen, backend or ctx.default_backend).backend  # a loaded model is shared, not reloaded
    params = GenerationParams(max_new_tokens=ctx.settings.max_new_tokens, temperature=0.0)
    with ctx.generating(engine):
        [[solution]] = solve(engine, [problem], params)
    if not solution.steps:
        raise BadInputError(f"the actor ({chosen}) wrote no steps for this problem; try another actor model")
    return ActorSolution(
        steps=solution.steps,
        final_answer=solution.final_answer,
        solution_text=format_steps(solution.steps),
        model=chosen,
    )


def refine_solution(
    ctx: AppContext,
    actor: Actor | None,
    *,
    problem: str,
    solution: str,
    rounds: int = 2,
    model: str | None = None,
    critic_model: str | None = None,
    backend: str | None = None,
    mode: str = "single",
) -> Refinement:
    """Critique -> revision rounds on a pasted (or solved) solution: the critic flags the first wrong step, the actor
    rewrites from there, until the critic accepts it or after `rounds` rounds."""
    require(actor, Action.CRITIQUE)
    if not 1 <= int(rounds) <= MAX_ROUNDS:
        raise BadInputError(f"rounds must be between 1 and {MAX_ROUNDS}, got {rounds}")
    item = make_item(problem, solution=solution, item_id="refine")
    critic = ctx.critic(critic_model or serving_model_name(ctx), backend or ctx.default_backend, mode)
    engine = ctx.critic(model or actor_model_name(ctx), backend or ctx.default_backend).backend
    config = RefineConfig(rounds=int(rounds), max_new_tokens=ctx.settings.max_new_tokens)
    with ctx.generating(engine):
        [refinement] = refine(engine, critic.critique_many, [item], config)
    return refinement
