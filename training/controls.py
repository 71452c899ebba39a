"""The shuffled-label control: the training items' own labels, permuted among them, so the label mix stays the same."""

from __future__ import annotations

import random
from collections.abc import Sequence

from core.types import NO_ERROR


def _fits(label: int, num_steps: int) -> bool:
    return label == NO_ERROR or 1 <= label <= num_steps


def shuffled_labels(labels: Sequence[int], step_counts: Sequence[int], *, seed: int) -> list[int]:
    """A permutation of `labels` over the items (each with `step_counts[i]` steps) where every label fits its item.

    The multiset of labels is exactly the input's (the same share of correct solutions and the same first-error
    positions), so a model trained on it can learn the label prior but nothing that links a solution to its label.
    A label past an item's last step is swapped with one that fits both items; none is redrawn or clipped.
    """
    if len(labels) != len(step_counts):
        raise ValueError("one label per item: labels and step_counts differ in length")
    bad = [i for i, (lab, n) in enumerate(zip(labels, step_counts, strict=True)) if not _fits(lab, n)]
    if bad:
        raise ValueError(f"label {labels[bad[0]]} does not fit item {bad[0]} ({step_counts[bad[0]]} steps)")
    rng = random.Random(seed)
    out = list(labels)
    rng.shuffle(out)
    order = list(range(len(out)))
    for i in range(len(out)):
        if _fits(out[i], step_counts[i]):
            continue
        rng.shuffle(order)
        swap = next(
            (j for j in order if _fits(out[j], step_counts[i]) and _fits(out[i], step_counts[j])),
            None,
        )
        if swap is None:  # cannot happen when the input fits: its own assignment is a witness, but guard anyway
            raise ValueError(f"no label-preserving swap for item {i}")
        out[i], out[swap] = out[swap], out[i]
    return out
