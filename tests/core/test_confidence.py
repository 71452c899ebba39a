"""Step confidence read from the alternatives an engine reports at each judgement."""

from __future__ import annotations

import math

import pytest

from core.backends.base import TokenLogprobs
from core.confidence import (
    combined_first_error_probability,
    first_error_probability,
    judgement_confidences,
    verdict_confidence,
)
from core.symbolic import with_checker_verdicts
from core.types import CritiqueResult, StepResult


def tokens_of(*pieces: str | tuple[str, dict[str, float]]) -> tuple[TokenLogprobs, ...]:
    """Tokens from plain strings (no alternatives) or (text, {alternative: probability})."""
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(TokenLogprobs(text=piece))
        else:
            text, alternatives = piece
            out.append(TokenLogprobs(text=text, top=tuple((alt, math.log(p)) for alt, p in alternatives.items())))
    return tuple(out)


def test_each_judgement_gets_the_share_of_1_against_minus_1() -> None:
    tokens = tokens_of(
        "**Critique of Step 1**: Fine.\n**Judgement**: The correctness of Step 1 is: \\boxed{",
        ("1", {"1": 0.6, "-": 0.2, "2": 0.2}),
        "}\n\n**Critique of Step 2**: Wrong.\n**Judgement**: The correctness of Step 2 is: \\boxed",
        # a tokenizer that merges the brace with the value: alternatives start with "{"
        ("{-", {"{-": 0.75, "{1": 0.25}),
        "1}\n\n**Answer**: \\boxed{2}",
    )
    confidences = judgement_confidences(tokens)
    assert confidences[1] == pytest.approx(0.75)  # 0.6 / (0.6 + 0.2): the "2" is neither
    assert confidences[2] == pytest.approx(0.25)
    assert set(confidences) == {1, 2}, "the answer's box is not a judgement"


def test_no_alternatives_means_no_confidence() -> None:
    tokens = tokens_of("**Judgement**: The correctness of Step 1 is: \\boxed{", "1", "}")
    assert judgement_confidences(tokens) == {}
    assert judgement_confidences(()) == {}


def test_masked_alternatives_do_not_count() -> None:
    tokens = tokens_of("The correctness of Step 1 is: \\boxed{", ("1", {"1": 1.0}))
    tokens = (tokens[0], TokenLogprobs(text="1", top=(("1", 0.0), ("-", float("-inf")))))
    assert judgement_confidences(tokens) == {1: 1.0}


def test_first_error_probability_chains_the_steps() -> None:
    p = [0.9, 0.5, 0.2]
    assert first_error_probability(p, 2) == pytest.approx(0.9 * 0.5)
    assert first_error_probability(p, -1) == pytest.approx(0.9 * 0.5 * 0.2)
    assert first_error_probability([0.9, None, None], 1) == pytest.approx(0.1)
    assert first_error_probability([0.9, None], -1) is None
    assert first_error_probability(p, None) is None


def _pencils_result(p_correct: list[float | None], model_first_error: int, extra_steps: int = 0) -> CritiqueResult:
    """The pencils critique as the model judged it (step 2 doubted), before the checker's proofs."""
    texts = [
        "6 pencils cost 6 * 2 = 12 dollars.",
        "3 erasers cost 3 * 1 = 3 dollars.",
        "Together she spends 12 + 3 = 16 dollars.",
        "Her change is 20 - 16 = 4 dollars.",
        *(f"Note {i}: nothing is computed here." for i in range(extra_steps)),
    ]
    verdicts = ["correct", "incorrect", "incorrect", "unchecked", *(["unchecked"] * extra_steps)]
    steps = [
        StepResult(index=i, text=t, verdict=v, model_verdict=v, p_correct=p)
        for i, (t, v, p) in enumerate(zip(texts, verdicts, [*p_correct, *([None] * extra_steps)], strict=True), 1)
    ]
    return CritiqueResult(problem="p", steps=steps, first_error_step=model_first_error, model="m", backend="b")


def test_confidence_after_the_combination_counts_the_checker_proof_as_certain() -> None:
    combined = with_checker_verdicts(_pencils_result([0.9, 0.44, 0.3, None], 3), forced_step=False)
    assert combined.first_error_step == 3
    # Steps 1 and 2 right (0.9, 0.44), step 3 wrong for certain: the checker proved it.
    assert combined_first_error_probability(combined) == pytest.approx(0.9 * 0.44)
    # The weakest step the answer rests on is the doubted step 2: its margin max(0.44, 0.56).
    assert verdict_confidence(combined) == pytest.approx(0.56)


def test_the_uncertainty_measure_does_not_fall_with_the_number_of_steps() -> None:
    short = _pencils_result([0.9, 0.8, 0.3, 0.9], 3)
    long_ = _pencils_result([0.9, 0.8, 0.3, 0.9], 3, extra_steps=20)
    long_ = long_.model_copy(update={"first_error_step": -1})
    long_ = long_.model_copy(
        update={
            "steps": [
                s.model_copy(update={"verdict": "correct", "model_verdict": "correct", "p_correct": 0.9})
                for s in long_.steps
            ]
        }
    )
    assert verdict_confidence(long_) == pytest.approx(0.9), "24 steps at 0.9 each: as sure as its weakest step"
    assert first_error_probability([0.9] * 24, -1) < 0.1, "the product would call it a doubtful critique"
    assert verdict_confidence(with_checker_verdicts(short)) == pytest.approx(0.8)
