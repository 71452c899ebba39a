"""Step confidence: the probability the critic gave `1` (correct) rather than `-1` at each judgement it wrote."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from core.backends.base import TokenLogprobs
from core.types import NO_ERROR, CritiqueResult

# Where a judgement's value starts: right after the opening brace of its box.
_JUDGEMENT_VALUE = re.compile(r"correctness of Step (\d+) is:?[ \t]*\\boxed[ \t]*\{[ \t]*", re.I)


def judgement_confidences(tokens: Sequence[TokenLogprobs]) -> dict[int, float]:
    """{step index: P(correct)} for every judgement in a generation's tokens, read from the alternatives there.

    At the token that writes a judgement's value, the alternatives that continue with `1` add to the correct side
    and those that continue with `-` to the incorrect side; P(correct) is the correct side's share. Under the
    critique grammar these are the only alternatives the engine allows, so the share is the engine's own choice
    probability. A side missing from the reported alternatives counts as zero.
    """
    if not tokens:
        return {}
    starts, text = [], ""
    for token in tokens:
        starts.append(len(text))
        text += token.text
    confidences: dict[int, float] = {}
    position = 0
    for match in _JUDGEMENT_VALUE.finditer(text):
        value_at = match.end()
        while position + 1 < len(tokens) and starts[position + 1] <= value_at:
            position += 1
        if position >= len(tokens) or value_at >= starts[position] + len(tokens[position].text):
            continue  # the text ends before the value
        already = text[starts[position] : value_at]  # part of this token before the value, e.g. "{"
        correct = incorrect = 0.0
        for alternative, logprob in tokens[position].top:
            if not alternative.startswith(already) or math.isinf(logprob):
                continue
            rest = alternative[len(already) :].lstrip()
            if rest.startswith("1"):
                correct += math.exp(logprob)
            elif rest.startswith("-"):
                incorrect += math.exp(logprob)
        if correct + incorrect > 0:
            confidences[int(match.group(1))] = correct / (correct + incorrect)
    return confidences


def first_error_probability(p_correct: Sequence[float | None], first_error_step: int | None) -> float | None:
    """P(the first wrong step is `first_error_step`) from per-step P(correct): all before it right, it wrong.

    -1 (no error) is the probability that every step is right. None when a probability it needs is missing.
    """
    if first_error_step is None:
        return None
    last = len(p_correct) if first_error_step == NO_ERROR else first_error_step
    needed = p_correct[:last]
    if len(needed) < last or any(p is None for p in needed):
        return None
    return math.prod((1.0 - p) if index == first_error_step else p for index, p in enumerate(needed, start=1))  # type: ignore[operator]


def combined_first_error_probability(result: CritiqueResult) -> float | None:
    """P(the result's first wrong step is right) after the checker's proofs are applied.

    A step the checker proved wrong (or verified, where the shown verdict is correct) is certain; the other steps
    take the model's P(correct). The probability is that all steps before the first error are right and it wrong.
    """
    p_correct: list[float | None] = []
    for step in result.steps:
        status = step.check.status if step.check is not None else "unchecked"
        if status == "wrong" and step.verdict == "incorrect":
            p_correct.append(0.0)
        elif status == "verified" and step.verdict == "correct" and step.p_correct is None:
            p_correct.append(1.0)
        else:
            p_correct.append(step.p_correct)
    return first_error_probability(p_correct, result.first_error_step)


def verdict_confidence(result: CritiqueResult) -> float | None:
    """How sure the critique is of its answer, without growing less sure just because a solution is long: the
    weakest step it rests on. Per step up to the first error (every step for "no error"): 1 where the checker proved
    the step wrong, else the model's confidence in its own judgement, max(p, 1 - p) (a checker-verified step the
    model doubts stays doubtful: right arithmetic does not make a step right); the minimum over them.
    None when a step it needs has no confidence (no probabilities, or no readable answer)."""
    if result.first_error_step is None:
        return None
    last = len(result.steps) if result.first_error_step == NO_ERROR else result.first_error_step
    margins: list[float] = []
    for step in result.steps[:last]:
        proven = step.check is not None and step.check.status == "wrong" and step.verdict == "incorrect"
        if proven:
            margins.append(1.0)
        elif step.p_correct is not None:
            margins.append(max(step.p_correct, 1.0 - step.p_correct))
        elif step.verdict_source in ("checker", "both"):
            margins.append(1.0)
        else:
            return None
    return min(margins) if margins else None
