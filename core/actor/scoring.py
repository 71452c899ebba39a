"""Accuracy against ground truth with intervals: a Wilson interval per strategy, a paired bootstrap between two."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (sound at 0 and at small n); None without items."""
    if total <= 0:
        return None
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedAccuracy:
    """Accuracy of two models on the same problems and the bootstrap interval of their difference."""

    n: int
    candidate: float
    reference: float
    delta: float
    low: float
    high: float
    confidence: float
    resamples: int


def paired_bootstrap_accuracy(
    candidate: Sequence[bool],
    reference: Sequence[bool],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedAccuracy:
    """Percentile interval of accuracy(candidate) - accuracy(reference), problems resampled with replacement.

    Paired like the critic's gate (core.metrics.paired_bootstrap_f1): each resample draws the same problems for
    both, so the interval measures the difference. Raises ValueError when the lengths differ or there are none.
    """
    import numpy as np

    if len(candidate) != len(reference) or not candidate:
        raise ValueError(f"{len(candidate)} and {len(reference)} results: pair them by problem (and give some)")
    a = np.array(candidate, dtype=float)
    b = np.array(reference, dtype=float)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(a), (resamples, len(a)))
    deltas = a[index].mean(axis=1) - b[index].mean(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return PairedAccuracy(
        n=len(a),
        candidate=float(a.mean()),
        reference=float(b.mean()),
        delta=float(a.mean() - b.mean()),
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=resamples,
    )


def accuracy_summary(rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Per strategy: problems, correct, accuracy with its 95 % interval, any-correct share and mean tokens.

    `rows` are SolvedProblem objects or their dicts.
    """
    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        data = row if isinstance(row, dict) else row.model_dump()
        by_strategy.setdefault(data["strategy"], []).append(data)
    summary: dict[str, dict[str, Any]] = {}
    for strategy, group in by_strategy.items():
        n, correct = len(group), sum(bool(r["correct"]) for r in group)
        interval = wilson_interval(correct, n)
        summary[strategy] = {
            "problems": n,
            "correct": correct,
            "accuracy": correct / n,
            "interval": list(interval) if interval else None,
            "any_correct": sum(bool(r["any_correct"]) for r in group) / n,
            "actor_tokens_per_problem": sum(r["actor_tokens"] for r in group) / n,
            "critic_tokens_per_problem": sum(r["critic_tokens"] for r in group) / n,
        }
    return summary
