"""The promotion gate: both models scored on the same items, a paired bootstrap of the F1 difference, a decision."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.benchmarks import Benchmark, spread
from core.errors import NotFoundError
from core.metrics import paired_bootstrap_f1, score
from core.types import SolutionItem
from db.eval_sets import eval_set_items, get_eval_set, list_eval_sets
from db.evals import EVAL_FINISHED
from db.models import EvalRun

HELD_OUT_SUBSET = "held-out"
"""Name of the job's own held-out split when no evaluation set is registered."""

REFERENCE_MIN_PARSE_RATE = 0.95
"""A reference read cleanly on fewer of its items is never compared with: an unreadable reference (e.g. scored
without the grammar, F1 near 0) would let any candidate through."""

ItemKey = tuple[str, str]
"""(gate set name, item id): identifies one scored item across the sets the gate pools."""


@dataclass(frozen=True)
class GateSet:
    """Items the gate scores both models on: a registered evaluation set, or the job's own held-out split."""

    name: str
    items: list[SolutionItem]
    eval_set_id: int | None = None


@dataclass(frozen=True)
class GateDecision:
    """The outcome of comparing a candidate with the serving model on the same items."""

    promoted: bool
    reason: str
    candidate_score: float | None
    active_score: float | None
    metric: str
    details: dict[str, Any] = field(default_factory=dict)
    interval: tuple[float, float] | None = None
    n_items: int = 0


def gate_sets(
    session: Session, *, names: Sequence[str] | None, held_out: Sequence[SolutionItem], max_items: int
) -> list[GateSet]:
    """The registered evaluation sets (all, or those named); without any, the job's held-out items.

    Each set is cut to `max_items` spread evenly over it (deterministic), so every model sees the same items.
    """
    registered = list_eval_sets(session)
    if names:
        by_name = {s.name: s for s in registered}
        missing = [n for n in names if n not in by_name]
        if missing:
            known = ", ".join(by_name) or "none registered"
            raise NotFoundError(f"eval_sets names unknown evaluation set(s) {', '.join(missing)} (known: {known})")
        registered = [by_name[n] for n in names]
    if registered:
        return [GateSet(s.name, spread(eval_set_items(s), max_items), s.id) for s in registered]
    return [GateSet(HELD_OUT_SUBSET, list(held_out[:max_items]))] if held_out else []


def registered_set(session: Session, *, name: str, max_items: int | None = None) -> GateSet:
    """A registered evaluation set by name, cut to `max_items` spread evenly (the gate's cut) when given."""
    eval_set = get_eval_set(session, name=name)
    items = eval_set_items(eval_set)
    return GateSet(eval_set.name, spread(items, max_items) if max_items else items, eval_set.id)


def gate_eval_config(
    model: str,
    gate_set: GateSet,
    *,
    output: Path,
    max_new_tokens: int,
    model_version_id: int | None = None,
    backend: str = "transformers",
    critic: str = "combined",
) -> Any:
    """The evaluation config the gate scores a model with (greedy, one sample): one place, so a stored score's
    fingerprint is compared with the one a fresh scoring would have. `critic`: the gate's combined critic, or llm
    for the model alone (no checker findings in its prompt or forced into its critique)."""
    from training.evaluation import EvalConfig

    return EvalConfig.build(
        benchmark=f"eval-set:{gate_set.name}" if gate_set.eval_set_id else HELD_OUT_SUBSET,
        output=output,
        model=str(model),
        backend=backend,
        # A vLLM server batches continuously: more items in flight per call use it better.
        batch_size=8 if backend == "transformers" else 32,
        max_new_tokens=max_new_tokens,
        model_version_id=model_version_id,
        eval_set_id=gate_set.eval_set_id,
        critic=critic,
    )


def evaluate_on_set(
    model: str,
    gate_set: GateSet,
    *,
    output: Path,
    max_new_tokens: int,
    model_version_id: int | None = None,
    backend: str = "transformers",
    on_progress: Callable[[int, int], None] | None = None,
    critic: str = "combined",
) -> dict[ItemKey, dict[str, Any]]:
    """Score `model` on the set (greedy, one sample) through the evaluation harness; the run is stored as an EvalRun.

    Returns the prediction records keyed by (set name, item id).
    """
    from training.evaluation import run_eval

    config = gate_eval_config(
        model,
        gate_set,
        output=output,
        max_new_tokens=max_new_tokens,
        model_version_id=model_version_id,
        backend=backend,
        critic=critic,
    )
    benchmark = Benchmark(name=gate_set.name, subsets={gate_set.name: list(gate_set.items)})
    run_eval(config, benchmark=benchmark, show_progress=False, on_progress=on_progress)
    return _keyed(gate_set, output)


def stored_scores(
    session: Session,
    *,
    model_version_id: int | None,
    model: str,
    gate_set: GateSet,
    max_new_tokens: int,
    backend: str = "transformers",
    min_parse_rate: float = REFERENCE_MIN_PARSE_RATE,
) -> dict[ItemKey, dict[str, Any]] | None:
    """A finished run's predictions on this set, when every item is there and the run's prediction fingerprint equals
    the one scoring `model` now would have (same model version, engine, budget, critic settings, grammar, prompt and
    code: `EvalConfig.prediction_fingerprint`), and at least `min_parse_rate` of its critiques read cleanly.
    Anything else is None: the caller scores the model afresh rather than compare with a stale or unreadable run."""
    from training.evaluation import PREDICTION_FINGERPRINT, parse_rate

    if gate_set.eval_set_id is None:
        return None
    expected = gate_eval_config(
        model,
        gate_set,
        output=Path("."),
        max_new_tokens=max_new_tokens,
        model_version_id=model_version_id,
        backend=backend,
    ).prediction_fingerprint()
    who = (
        EvalRun.model_version_id == model_version_id
        if model_version_id is not None
        else EvalRun.model_version_id.is_(None)
    )
    runs = session.scalars(
        select(EvalRun)
        .where(who, EvalRun.eval_set_id == gate_set.eval_set_id, EvalRun.status == EVAL_FINISHED)
        .order_by(EvalRun.id.desc())
    ).all()
    for run in runs:
        if (run.config or {}).get(PREDICTION_FINGERPRINT) != expected or not run.predictions_path:
            continue
        records = _keyed(gate_set, Path(run.predictions_path))
        if len(records) == len(gate_set.items) and parse_rate(list(records.values())) >= min_parse_rate:
            return records
    return None


def _keyed(gate_set: GateSet, output: Path) -> dict[ItemKey, dict[str, Any]]:
    from training.evaluation import read_predictions

    wanted = {item.id for item in gate_set.items}
    return {
        (gate_set.name, r["id"]): r
        for r in read_predictions(output)
        if r.get("subset") == gate_set.name and r["id"] in wanted
    }


def decide(
    candidate: Mapping[ItemKey, Mapping[str, Any]],
    reference: Mapping[ItemKey, Mapping[str, Any]] | None,
    *,
    min_lift: float,
    min_items: int,
    auto_promote: bool,
    resamples: int = 2000,
    seed: int = 0,
) -> GateDecision:
    """Promote only when the lower bound of the 95 % bootstrap interval of F1(candidate) - F1(reference) on the
    same items is above `min_lift`, with at least `min_items` items. No reference scores: never promoted.

    `candidate` and `reference` map item keys to prediction records (`label`, `prediction`).
    """
    from training.evaluation import parse_rate

    keys = sorted(candidate)
    labels = [int(candidate[k]["label"]) for k in keys]
    cand_scores = score(labels, [candidate[k]["prediction"] for k in keys])
    cand_f1 = cand_scores.f1 if keys else None
    details: dict[str, Any] = {
        "min_lift": min_lift,
        "min_items": min_items,
        "resamples": resamples,
        "candidate_scores": cand_scores.to_dict(),
    }

    def keep(reason: str, ref_f1: float | None = None, **extra: Any) -> GateDecision:
        return GateDecision(False, reason, cand_f1, ref_f1, "f1", {**details, **extra}, n_items=len(keys))

    if not keys:
        return keep("no evaluation items: register an evaluation set (`critic eval-set add`)")
    if reference is None:
        return keep("no reference score (the serving model could not be evaluated): an admin may promote by hand")
    missing = [k for k in keys if k not in reference]
    if missing:
        return keep(f"the reference has no prediction for {len(missing)} of the {len(keys)} items; not comparable")
    ref_scores = score(labels, [reference[k]["prediction"] for k in keys])
    ref_f1 = ref_scores.f1
    details["reference_scores"] = ref_scores.to_dict()
    if len(keys) < min_items:
        return keep(f"only {len(keys)} evaluation items, fewer than gate_min_items={min_items}", ref_f1)
    ref_parse = parse_rate([reference[k] for k in keys])
    if ref_parse < REFERENCE_MIN_PARSE_RATE:
        return keep(
            f"the reference's critiques read cleanly on only {100 * ref_parse:.0f}% of the items (under "
            f"{100 * REFERENCE_MIN_PARSE_RATE:.0f}%): not a fair comparison; an admin may promote by hand",
            ref_f1,
            reference_parse_rate=ref_parse,
        )
    try:
        boot = paired_bootstrap_f1(
            labels,
            [candidate[k]["prediction"] for k in keys],
            [reference[k]["prediction"] for k in keys],
            resamples=resamples,
            seed=seed,
        )
    except ValueError as exc:
        return keep(str(exc), ref_f1)
    interval = (boot.low, boot.high)
    summary = (
        f"F1 {boot.candidate_f1:.3f} vs serving {boot.reference_f1:.3f} on {boot.n} items, difference "
        f"{boot.delta:+.3f}, {100 * boot.confidence:.0f}% interval [{boot.low:+.3f}, {boot.high:+.3f}]"
    )
    base = GateDecision(False, "", boot.candidate_f1, boot.reference_f1, "f1", details, interval, len(keys))
    if boot.low <= min_lift:
        return replace(base, reason=f"{summary}: lower bound not above {min_lift:+g}, kept")
    if not auto_promote:
        return replace(base, reason=f"{summary}: passed, but auto_promote is off")
    return replace(base, reason=f"{summary}: lower bound above {min_lift:+g}", promoted=True)


def decide_accuracy(
    candidate: Mapping[str, bool],
    reference: Mapping[str, bool] | None,
    *,
    min_lift: float,
    min_items: int,
    auto_promote: bool,
    resamples: int = 2000,
    seed: int = 0,
) -> GateDecision:
    """The actor's gate, the critic's rule on accuracy: promote only when the lower bound of the 95 % paired bootstrap
    interval of accuracy(candidate) - accuracy(reference) on the same problems is above `min_lift`, with at least
    `min_items` problems. `candidate` and `reference` map problem ids to whether the final answer was right."""
    from core.actor.scoring import paired_bootstrap_accuracy

    keys = sorted(candidate)
    cand_acc = sum(candidate[k] for k in keys) / len(keys) if keys else None
    details: dict[str, Any] = {"min_lift": min_lift, "min_items": min_items, "resamples": resamples}
    details["candidate_scores"] = {"accuracy": cand_acc, "n": len(keys)}

    def keep(reason: str, ref_acc: float | None = None) -> GateDecision:
        return GateDecision(False, reason, cand_acc, ref_acc, "accuracy", details, n_items=len(keys))

    if not keys:
        return keep("no evaluation problems: register an actor evaluation set (`critic eval-set add --kind actor`)")
    if reference is None:
        return keep("no reference score (the serving actor could not be evaluated): an admin may promote by hand")
    missing = [k for k in keys if k not in reference]
    if missing:
        return keep(f"the reference has no result for {len(missing)} of the {len(keys)} problems; not comparable")
    ref_acc = sum(reference[k] for k in keys) / len(keys)
    details["reference_scores"] = {"accuracy": ref_acc, "n": len(keys)}
    if len(keys) < min_items:
        return keep(f"only {len(keys)} evaluation problems, fewer than gate_min_items={min_items}", ref_acc)
    boot = paired_bootstrap_accuracy(
        [candidate[k] for k in keys], [reference[k] for k in keys], resamples=resamples, seed=seed
    )
    interval = (boot.low, boot.high)
    summary = (
        f"accuracy {boot.candidate:.3f} vs serving {boot.reference:.3f} on {boot.n} problems, difference "
        f"{boot.delta:+.3f}, {100 * boot.confidence:.0f}% interval [{boot.low:+.3f}, {boot.high:+.3f}]"
    )
    base = GateDecision(False, "", boot.candidate, boot.reference, "accuracy", details, interval, len(keys))
    if boot.low <= min_lift:
        return replace(base, reason=f"{summary}: lower bound not above {min_lift:+g}, kept")
    if not auto_promote:
        return replace(base, reason=f"{summary}: passed, but auto_promote is off")
    return replace(base, reason=f"{summary}: lower bound above {min_lift:+g}", promoted=True)
