"""Inter-annotator agreement: Cohen's and Fleiss' kappa on first-error steps, Krippendorff's alpha on step ratings."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ItemKey = Any
"""Anything hashable that names an item (a database id, a source id)."""


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def cohen_kappa_pairwise(labels: Mapping[str, Mapping[ItemKey, int]], *, min_shared: int = 2) -> float | None:
    """Mean Cohen's kappa over annotator pairs that labelled at least `min_shared` common items.

    `labels[annotator][item]` is a first-error step (1-based, -1 for none). None when no pair qualifies
    or every pair is degenerate (one label only, where kappa is undefined).
    """
    from sklearn.metrics import cohen_kappa_score

    scores: list[float] = []
    for a, b in itertools.combinations(sorted(labels), 2):
        shared = sorted(set(labels[a]) & set(labels[b]), key=str)
        if len(shared) < min_shared:
            continue
        left = [labels[a][k] for k in shared]
        right = [labels[b][k] for k in shared]
        if len(set(left) | set(right)) < 2:
            scores.append(1.0)  # both always chose the same single label: perfect agreement
            continue
        value = _finite(cohen_kappa_score(left, right))
        if value is not None:
            scores.append(value)
    return sum(scores) / len(scores) if scores else None


def fleiss_kappa_first_error(per_item: Mapping[ItemKey, Sequence[int]]) -> float | None:
    """Fleiss' kappa on first-error steps, over items with the most common number (>= 2) of labels.

    Fleiss' kappa needs the same number of raters per item; items with more labels use their first n.
    """
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    counts = [len(v) for v in per_item.values() if len(v) >= 2]
    if not counts:
        return None
    n = max(set(counts), key=lambda c: (counts.count(c), -c))
    rows = [list(v)[:n] for v in per_item.values() if len(v) >= n]
    if len(rows) < 2:
        return None
    table, _categories = aggregate_raters(rows)
    if table.shape[1] < 2:
        return 1.0
    return _finite(fleiss_kappa(table, method="fleiss"))


def krippendorff_alpha_ratings(ratings: Mapping[str, Mapping[tuple[ItemKey, int], int | None]]) -> float | None:
    """Krippendorff's alpha (ordinal) on step ratings; `ratings[annotator][(item, step)]` is -1, 0, 1 or None."""
    import krippendorff
    import numpy as np

    units = sorted({unit for per in ratings.values() for unit, r in per.items() if r is not None}, key=str)
    annotators = sorted(ratings)
    if len(annotators) < 2 or not units:
        return None
    matrix = np.full((len(annotators), len(units)), np.nan)
    for row, name in enumerate(annotators):
        for col, unit in enumerate(units):
            value = ratings[name].get(unit)
            if value is not None:
                matrix[row, col] = value
    paired = (~np.isnan(matrix)).sum(axis=0) >= 2
    if paired.sum() == 0:
        return None
    values = matrix[:, paired]
    if len(set(values[~np.isnan(values)].tolist())) < 2:
        return 1.0
    return _finite(krippendorff.alpha(reliability_data=values, level_of_measurement="ordinal"))


@dataclass(frozen=True)
class CriticAgreement:
    """How often the critic named the human's first-error step; an unreadable critic output counts as a miss."""

    rate: float | None
    compared: int
    unreadable: int


def critic_agreement(pairs: Sequence[tuple[int | None, int | None]]) -> CriticAgreement:
    """Agreement over (critic, human) first-error pairs: pairs without a human label are left out; a critic output
    that could not be read (None) is a disagreement, as in evaluation, so it lowers the rate."""
    usable = [(critic, human) for critic, human in pairs if human is not None]
    unreadable = sum(critic is None for critic, _ in usable)
    if not usable:
        return CriticAgreement(None, 0, 0)
    return CriticAgreement(sum(c == h for c, h in usable) / len(usable), len(usable), unreadable)


def agreement_rate(pairs: Sequence[tuple[int | None, int | None]]) -> float | None:
    """Share of (critic, human) pairs that agree; see `critic_agreement` for what counts."""
    return critic_agreement(pairs).rate
