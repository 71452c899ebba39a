"""The judgement-weighted SFT objective: which critique tokens decide, their weights, and class-balanced examples."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from core.types import NO_ERROR

# Where a critique of a correct step and of a wrong one part: the first words of each step's analysis (in the
# constrained format every analysis opens with "This step "; under teacher forcing everything after them follows),
# and the judgement and answer values.
_ANALYSIS_OPENING = re.compile(r"\*\*Critique of Step \d+\*\*:\s*This step\s+(\S+(?:\s+\S+){0,2})")
_BOXED_VALUE = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")


def decision_spans(completion: str) -> list[tuple[int, int]]:
    """Character spans of the decision text in a critique: each analysis' first three words and each boxed value."""
    spans = [m.span(1) for m in _ANALYSIS_OPENING.finditer(completion)]
    spans += [m.span(1) for m in _BOXED_VALUE.finditer(completion)]
    return sorted(spans)


def token_weights(pieces: Sequence[str], weight: float) -> list[float]:
    """One weight per completion token (given as its decoded text, in order): `weight` for a token that overlaps a
    decision span, 1 for the others."""
    text = "".join(pieces)
    spans = decision_spans(text)
    weights, position, span = [], 0, 0
    for piece in pieces:
        start, end = position, position + len(piece)
        while span < len(spans) and spans[span][1] <= start:
            span += 1
        overlaps = span < len(spans) and spans[span][0] < end and start < spans[span][1]
        weights.append(weight if overlaps and end > start else 1.0)
        position = end
    return weights


def balance_classes(examples: Sequence[dict[str, Any]], *, seed: int) -> list[dict[str, Any]]:
    """The examples with the smaller class (erroneous or correct solutions, by `first_error_step`) repeated, drawn
    without replacement round by round, until both classes are as many; examples without a label are kept as they are.
    """
    correct = [e for e in examples if e.get("first_error_step") == NO_ERROR]
    wrong = [e for e in examples if e.get("first_error_step") not in (None, NO_ERROR)]
    other = [e for e in examples if e.get("first_error_step") is None]
    if not correct or not wrong:
        return list(examples)
    small, large = (correct, wrong) if len(correct) < len(wrong) else (wrong, correct)
    rng = random.Random(seed)
    extra: list[dict[str, Any]] = []
    while len(small) + len(extra) < len(large):
        round_ = list(small)
        rng.shuffle(round_)
        extra.extend(round_[: len(large) - len(small) - len(extra)])
    out = [*examples, *extra] if not other else [*correct, *wrong, *other, *extra]
    rng.shuffle(out)
    return out
