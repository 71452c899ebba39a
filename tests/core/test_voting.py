"""Maj@k voting: the most common first-error step, unreadable samples excluded, per-step vote shares."""

from __future__ import annotations

from core.voting import majority_vote, verdicts_for, vote


def test_majority_vote_ignores_unreadable_samples_and_breaks_ties_by_sample_order() -> None:
    assert majority_vote([3, None, 3, -1, None]) == 3
    assert majority_vote([-1, 2, 2, -1]) == -1
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None


def test_verdicts_follow_the_first_error() -> None:
    assert verdicts_for(2, 4) == ["correct", "incorrect", "unchecked", "unchecked"]
    assert verdicts_for(-1, 2) == ["correct", "correct"]
    assert verdicts_for(None, 2) == ["unchecked", "unchecked"]


def test_vote_shares_count_samples_agreeing_with_each_step_verdict() -> None:
    result = vote([2, 2, None, 3, -1], 4)
    assert result.first_error_step == 2 and result.readable_votes == 4
    assert result.verdicts == ["correct", "incorrect", "unchecked", "unchecked"]
    # step 1: every readable sample calls it correct; step 2: two of four say incorrect;
    # step 3: the two "2" votes leave it unchecked; step 4: only the "-1" vote judged it.
    assert result.vote_shares == [1.0, 0.5, 0.5, 0.75]
    failed = vote([None, None], 3)
    assert failed.first_error_step is None and failed.vote_shares == [None, None, None]
