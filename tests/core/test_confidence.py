"""Step confidence read from the alternatives an engine reports at each judgement."""

from __future__ import annotations

import math

import pytest

from core.backends.base import TokenLogprobs
from core.confidence import first_error_probability, judgement_confidences


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
