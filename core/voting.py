"""Maj@k voting over sampled critiques: the most common first-error step and a per-step vote share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.types import NO_ERROR, Verdict


def verdicts_for(first_error_step: int | None, num_steps: int) -> list[Verdict]:
    """Per-step verdicts implied by a first-error step: correct before it, incorrect at it, unchecked after.

    -1 marks every step correct; None (unreadable) marks every step unchecked.
    """
    if first_error_step is None:
        return ["unchecked"] * num_steps
    if first_error_step == NO_ERROR:
        return ["correct"] * num_steps
    return [
        "correct" if i < first_error_step else "incorrect" if i == first_error_step else "unchecked"
        for i in range(1, num_steps + 1)
    ]


def majority_vote(votes: Sequence[int | None]) -> int | None:
    """The most common first-error step among readable votes (None = unreadable, excluded).

    Ties go to the value that reached the top count first in sample order, so the result is deterministic.
    Returns None when no vote is readable.
    """
    readable = [v for v in votes if v is not None]
    if not readable:
        return None
    return Counter(readable).most_common(1)[0][0]


@dataclass(frozen=True)
class VoteResult:
    """The outcome of voting: the chosen first-error step, per-step verdicts and the share agreeing with each."""

    first_error_step: int | None
    verdicts: list[Verdict]
    vote_shares: list[float | None]
    readable_votes: int


def vote(votes: Sequence[int | None], num_steps: int) -> VoteResult:
    """Vote over samples; each step's share is the fraction of readable samples whose implied verdict matches."""
    winner = majority_vote(votes)
    verdicts = verdicts_for(winner, num_steps)
    readable = [v for v in votes if v is not None]
    if not readable:
        return VoteResult(None, verdicts, [None] * num_steps, 0)
    implied = [verdicts_for(v, num_steps) for v in readable]
    shares: list[float | None] = [
        sum(sample[i] == verdicts[i] for sample in implied) / len(implied) for i in range(num_steps)
    ]
    return VoteResult(winner, verdicts, shares, len(readable))
