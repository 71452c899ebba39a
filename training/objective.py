"""The judgement-weighted SFT objectives: which critique tokens decide, their weights, and class-balanced examples."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.types import NO_ERROR

# Where a critique of a correct step and of a wrong one part: the first words of each step's analysis (in the
# constrained format every analysis opens with "This step "; under teacher forcing everything after them follows),
# and the judgement and answer values.
_ANALYSIS_OPENING = re.compile(r"\*\*Critique of Step \d+\*\*:\s*This step\s+(\S+(?:\s+\S+){0,2})")
_BOXED_VALUE = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")


def sided_decision_spans(completion: str) -> list[tuple[int, int, bool]]:
    """(start, end, on the error side) for each decision span of a critique.

    The error side is what a critique of a wrong solution says where a right one's would differ: a `\\boxed{-1}`
    judgement and the analysis opening of its block, and an answer naming a step (not -1).
    """
    boxes = []
    for match in _BOXED_VALUE.finditer(completion):
        line_start = completion.rfind("\n", 0, match.start()) + 1
        is_answer = "Answer" in completion[line_start : match.start()]
        value = int(match.group(1))
        boxes.append((match.start(1), match.end(1), value != NO_ERROR if is_answer else value < 0))
    spans = list(boxes)
    for match in _ANALYSIS_OPENING.finditer(completion):
        # An analysis takes the side of the first judgement after it: the one that closes its block.
        side = next((error for start, _, error in boxes if start > match.end(1)), False)
        spans.append((*match.span(1), side))
    return sorted(spans)


def decision_spans(completion: str) -> list[tuple[int, int]]:
    """Character spans of the decision text in a critique: each analysis' first three words and each boxed value."""
    return [(start, end) for start, end, _ in sided_decision_spans(completion)]


def error_side_ratio(completions: Sequence[str]) -> float:
    """Decision spans on the right-solution side per span on the error side, over the training critiques (at least 1).

    Before its first wrong step a wrong solution's critique judges every step right, so judgements of `1` outnumber
    those of `-1` several times over even when the solutions are balanced; weighting the error side by this ratio
    makes "every step is right" cost as much as "this step is wrong".
    """
    sides = Counter(error for text in completions for _, _, error in sided_decision_spans(text))
    return max(1.0, sides[False] / sides[True]) if sides[True] else 1.0


def token_weights(pieces: Sequence[str], weight: float, error_weight: float | None = None) -> list[float]:
    """One weight per completion token (given as its decoded text, in order): `weight` for a token that overlaps a
    decision span (`error_weight`, when given, for one on the error side), 1 for the others."""
    text = "".join(pieces)
    spans = sided_decision_spans(text)
    weights, position, span = [], 0, 0
    for piece in pieces:
        start, end = position, position + len(piece)
        while span < len(spans) and spans[span][1] <= start:
            span += 1
        overlaps = span < len(spans) and spans[span][0] < end and start < spans[span][1] and end > start
        if not overlaps:
            weights.append(1.0)
        else:
            weights.append(error_weight if error_weight is not None and spans[span][2] else weight)
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
