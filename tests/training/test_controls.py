"""The shuffled-label control keeps the training items' label mix and breaks the link to each solution."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from core.types import NO_ERROR
from training.controls import shuffled_labels


def test_the_control_keeps_the_label_mix_and_every_label_fits() -> None:
    rng = random.Random(3)
    step_counts = [rng.randint(2, 12) for _ in range(300)]
    labels = [NO_ERROR if rng.random() < 0.4 else rng.randint(1, n) for n in step_counts]
    shuffled = shuffled_labels(labels, step_counts, seed=0)
    assert Counter(shuffled) == Counter(labels)  # same share of correct solutions, same first-error positions
    assert all(lab == NO_ERROR or 1 <= lab <= n for lab, n in zip(shuffled, step_counts, strict=True))
    moved = sum(a != b for a, b in zip(shuffled, labels, strict=True))
    assert moved > len(labels) // 2  # the labels no longer follow their solutions
    assert shuffled_labels(labels, step_counts, seed=0) == shuffled  # one seed, one control


def test_a_label_that_does_not_fit_its_own_item_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        shuffled_labels([5], [3], seed=0)
