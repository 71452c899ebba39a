"""The actor job: explore training problems with the critic in the loop (or without it: plain self-training), fine-tune
the actor on the right solutions, evaluate it on held-out problems and let the gate decide."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.actor.problems import split_held_out
from core.actor.self_improve import Exploration, balanced_examples, explore, merge_explorations
from core.actor.strategies import SolveConfig, solve_problems
from core.backends.base import Backend
from core.errors import BadInputError
from core.types import SolutionItem
from db.models import TrainingJob
from training.config import ActorJobConfig
from training.gate import GateSet
from training.progress import Reporter

EXPLORE_BATCH = 8
"""Problems explored per backend call: progress is logged, and cancel checked, after each batch."""


def resolve_actor(session: Session, base_model: str) -> tuple[str, int | None]:
    """(model path, parent version id): 'active' is the serving actor version, else the embedded model."""
    from core.models import resolve_model
    from training.registry import ACTOR, active_model

    if base_model == "active":
        version = active_model(session, ACTOR)
        if version is not None:
            return version.path, version.id
        return str(resolve_model("embedded")), None
    return str(resolve_model(base_model)), None


def resolve_critic(session: Session, critic_model: str) -> str:
    """The critic's path: 'active' is the serving critic version, else the configured default model."""
    from core.models import resolve_model
    from core.settings import get_settings
    from training.registry import serving_model

    if critic_model == "active":
        return str(resolve_model(serving_model(session, get_settings().model)))
    return str(resolve_model(critic_model))


def actor_problems(
    session: Session, config: ActorJobConfig, reporter: Reporter
) -> tuple[list[SolutionItem], list[GateSet]]:
    """(training problems, the gate's sets): registered actor evaluation sets (named, or all), else problems held out
    from the file; problems of any registered evaluation set never train."""
    from db.eval_sets import held_out_problem_keys, list_eval_sets
    from db.items import problem_key
    from training.gate import HELD_OUT_SUBSET, registered_set
    from training.generation_jobs import answered_items, distinct_problems, load_items

    errors: list[str] = []
    problems = distinct_problems(answered_items(load_items(Path(config.problems), errors), errors))
    for error in errors[:5]:
        reporter.log(f"problems file: {error}", "warning")
    held_keys = held_out_problem_keys(session)
    train = [p for p in problems if problem_key(p.problem) not in held_keys]
    reporter.log(
        f"problems: {len(problems)} with answers in {config.problems}; {len(problems) - len(train)} left out as "
        "problems of registered evaluation sets"
    )
    names = config.eval_sets or [s.name for s in list_eval_sets(session, "actor")]
    sets = [registered_set(session, name=n, max_items=config.eval_max_items) for n in names]
    for gate_set in sets:
        if any(not item.answer for item in gate_set.items):
            raise BadInputError(f"evaluation set {gate_set.name!r} is not an actor set (its items have no answers)")
    if not sets and config.held_out_problems:
        train, held = split_held_out(train, min(config.held_out_problems, len(train) // 2), seed=config.seed)
        sets = [GateSet(HELD_OUT_SUBSET, held[: config.eval_max_items])]
    train = train[: config.max_problems] if config.max_problems else train
    if not train:
        raise BadInputError(f"no training problems left in {config.problems} after the evaluation problems")
    return train, sets


def explore_all(
    actor: Backend, critique: Any, items: Sequence[SolutionItem], config: ActorJobConfig, reporter: Reporter
) -> Exploration | None:
    """Explore every training problem in batches (None when cancel was requested)."""
    solve_config = SolveConfig(
        samples=config.samples,
        rounds=config.rounds,
        temperature=config.temperature,
        max_new_tokens=config.solve_max_new_tokens,
        seed=config.seed,
    )
    parts = []
    for start in range(0, len(items), EXPLORE_BATCH):
        if reporter.should_stop():
            return None
        batch = list(items[start : start + EXPLORE_BATCH])
        parts.append(explore(actor, critique, batch, solve_config))
        done = min(start + EXPLORE_BATCH, len(items))
        reporter.log(
            f"exploration: {done}/{len(items)} problem(s) sampled" + (", critiqued and refined" if critique else "")
        )
    return merge_explorations(parts, config.rounds if critique else 0)


def score_actor(backend: Backend, items: Sequence[SolutionItem], max_new_tokens: int, output: Path) -> dict[str, bool]:
    """Greedy accuracy of an actor on problems: whether each final answer is right, keyed by problem id; the
    results are written to `output` (JSONL)."""
    from core.jsonl import append_jsonl

    solved = solve_problems(backend, None, items, "greedy", SolveConfig(max_new_tokens=max_new_tokens))
    output.unlink(missing_ok=True)
    append_jsonl(output, (s.model_dump() for s in solved))
    return {s.id: s.correct for s in solved}


def run_actor_job(session: Session, job: TrainingJob, reporter: Any, out_dir: Path) -> bool:
    """Run the job to the end; False when it stopped because cancel was requested."""
    from core.backends import create_backend
    from core.critic import Critic, CriticConfig
    from training import queue, registry
    from training.sft import run_sft

    config = queue.job_config(job)
    assert isinstance(config, ActorJobConfig)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, parent_id = resolve_actor(session, config.base_model)
    reporter.log(f"base actor: {model_path}" + (f" (version {parent_id})" if parent_id else ""))
    train, sets = actor_problems(session, config, reporter)
    actor = create_backend("transformers", model_path)
    critic_backend = None
    critique = None
    if config.use_critique:
        critic_path = resolve_critic(session, config.critic_model)
        critic_backend = actor if critic_path == model_path else create_backend("transformers", critic_path)
        critique = Critic(critic_backend, CriticConfig.build(max_new_tokens=config.critic_max_new_tokens)).critique_many
        reporter.log(f"critic in the loop: {critic_path}, up to {config.rounds} round(s) per wrong solution")
    else:
        reporter.log("no critique: plain self-training (rejection sampling) baseline")
    try:
        exploration = explore_all(actor, critique, train, config, reporter)
    finally:
        if critic_backend is not None and critic_backend is not actor:
            critic_backend.close()
        actor.close()
    if exploration is None:
        return False
    for stats in exploration.rounds:
        reporter.log(
            f"round {stats.round}: {stats.explored}/{stats.problems} problems with a right solution (exploration), "
            f"{stats.from_refinement} right solution(s) from refinement this round, {stats.right_solutions} in all, "
            f"{stats.diversity:.2f} distinct right solution paths per explored problem"
        )
        reporter.metric(stats.round, "explore/explored", stats.explored)
        reporter.metric(stats.round, "explore/diversity", stats.diversity)
    examples = balanced_examples(train, exploration.kept, config.max_per_problem)
    from_refinement = sum(e["origin"] == "refinement" for e in examples)
    reporter.log(
        f"SFT data: {len(examples)} solution(s) ({from_refinement} from refinement), at most "
        f"{config.max_per_problem} per problem; tokens: actor {exploration.actor_tokens}, critic "
        f"{exploration.critic_tokens}"
    )
    job_metrics: dict[str, Any] = {
        "exploration": [r.model_dump() for r in exploration.rounds],
        "examples": len(examples),
        "examples_from_refinement": from_refinement,
        "tokens": {"actor": exploration.actor_tokens, "critic": exploration.critic_tokens},
    }
    rows = json.dumps(examples)
    (out_dir / "train_rows.json").write_text(rows, encoding="utf-8")
    # The version traces to exactly the solutions it learned from, as a critic version does to its snapshot.
    data_hash = hashlib.sha256(rows.encode("utf-8")).hexdigest()
    queue.update_job_fields(
        session, job_id=job.id, metrics=job_metrics, output_path=str(out_dir.parent), data_hash=data_hash
    )
    if not examples:
        raise BadInputError(
            "no right solution was found for any training problem: nothing to train on (use easier problems, more "
            "samples, or more critique rounds)"
        )
    outcome = run_sft(config, model_path=model_path, train_examples=examples, output_dir=out_dir, reporter=reporter)  # type: ignore[arg-type]
    if outcome.stopped_early or outcome.model_dir is None:
        return False
    job_metrics["train"] = outcome.metrics
    queue.update_job_fields(session, job_id=job.id, metrics=job_metrics)
    version = registry.register_candidate(
        session,
        job_id=job.id,
        path=str(outcome.model_dir),
        base_model=model_path,
        parent_id=parent_id,
        data_hash=data_hash,
        config=config.model_dump(mode="json"),
        metrics={"train": outcome.metrics, **job_metrics},
        kind=registry.ACTOR,
    )
    reporter.log(f"registered actor version {version.id} ({version.name}) as candidate")
    if config.evaluate:
        gate_actor(session, reporter, config, version.id, sets, out_dir / "eval")
    return True


def gate_actor(
    session: Session, reporter: Any, config: ActorJobConfig, version_id: int, sets: Sequence[GateSet], eval_dir: Path
) -> None:
    """Score the candidate and the serving actor (else the embedded model) greedily on the same problems; the gate
    (paired bootstrap of the accuracy difference) decides."""
    from core.backends import create_backend
    from core.models import resolve_model
    from training import gate, registry

    serving = registry.active_model(session, registry.ACTOR)
    expected_id = serving.id if serving is not None else None
    reference_path = serving.path if serving is not None else str(resolve_model("embedded"))
    candidate = registry.get_version(session, version_id=version_id)
    items = [(s.name, item) for s in sets for item in s.items]
    where = ", ".join(f"{s.name} ({len(s.items)} problems)" for s in sets) or "nothing"
    reporter.log(f"gate: scoring the candidate actor and the serving one ({reference_path}) on {where}")
    scores: dict[str, dict[str, bool]] = {}
    for role, path in (("candidate", candidate.path), ("reference", reference_path)):
        backend = create_backend("transformers", path)
        try:
            scores[role] = {}
            for gate_set in sets:
                found = score_actor(
                    backend, gate_set.items, config.eval_max_new_tokens, eval_dir / gate_set.name / f"{role}.jsonl"
                )
                scores[role].update({f"{gate_set.name}/{k}": v for k, v in found.items()})
        finally:
            backend.close()
        right = sum(scores[role].values())
        reporter.log(f"evaluation of the {role}: {right}/{len(items)} problem(s) right")
    decision = gate.decide_accuracy(
        scores["candidate"],
        scores["reference"],
        min_lift=config.promote_min_delta,
        min_items=config.gate_min_items,
        auto_promote=config.auto_promote,
        resamples=config.gate_resamples,
        seed=config.seed,
    )
    version = registry.apply_gate(
        session, version_id=version_id, decision=decision, expected_serving_id=expected_id, actor="gate (actor job)"
    )
    reporter.metric(0, "eval/accuracy", decision.candidate_score or 0.0)
    verb = "promoted to serving actor" if version.status == registry.ACTIVE else "kept as candidate"
    reporter.log(f"actor version {version_id} {verb}: {version.metrics['gate']['reason']}")
