"""Agreement statistics behind the dashboard (core/agreement.py), checked against hand-computed values."""

from __future__ import annotations

import pytest

from core.agreement import (
    CriticAgreement,
    agreement_rate,
    cohen_kappa_pairwise,
    critic_agreement,
    fleiss_kappa_first_error,
    krippendorff_alpha_ratings,
)


def test_cohen_kappa_matches_the_textbook_value() -> None:
    # a and b share 4 items: observed agreement 3/4; chance 1/2*3/4 + 1/2*1/4 = 1/2 -> kappa (0.75-0.5)/0.5 = 0.5.
    # c shares no item with anyone, so it adds no pair.
    labels = {"a": {1: 2, 2: -1, 3: -1, 4: 2}, "b": {1: 2, 2: -1, 3: 2, 4: 2}, "c": {9: 1}}
    assert cohen_kappa_pairwise(labels) == pytest.approx(0.5)
    assert cohen_kappa_pairwise({"a": {1: 1}, "b": {2: 1}}) is None  # no shared items


def test_fleiss_kappa_perfect_and_none() -> None:
    assert fleiss_kappa_first_error({1: [2, 2], 2: [-1, -1], 3: [3, 3]}) == pytest.approx(1.0)
    assert fleiss_kappa_first_error({1: [2], 2: [3]}) is None  # nobody overlaps
    assert fleiss_kappa_first_error({1: [2, 3], 2: [3, 2], 3: [2, 3]}) < 0  # systematic disagreement


def test_krippendorff_alpha_on_step_ratings() -> None:
    same = {"a": {(1, 1): 1, (1, 2): -1, (2, 1): 0}, "b": {(1, 1): 1, (1, 2): -1, (2, 1): 0}}
    assert krippendorff_alpha_ratings(same) == pytest.approx(1.0)
    opposite = {"a": {(1, 1): 1, (1, 2): -1}, "b": {(1, 1): -1, (1, 2): 1}}
    assert krippendorff_alpha_ratings(opposite) < 0
    assert krippendorff_alpha_ratings({"a": {(1, 1): 1}}) is None


def test_agreement_rate_counts_an_unreadable_critic_output_as_a_disagreement() -> None:
    assert agreement_rate([(2, 2), (None, 3), (1, 2)]) == pytest.approx(1 / 3)
    assert agreement_rate([(None, 1)]) == 0.0
    assert agreement_rate([(2, None)]) is None  # no human label: nothing to compare
    assert critic_agreement([(2, 2), (None, 3), (-1, -1), (None, 2)]) == CriticAgreement(0.5, 4, 2)
