"""The judgement-weighted objective: the decision tokens weigh more, erroneous and correct solutions are balanced."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from core.types import NO_ERROR
from training.config import load_config
from training.objective import (
    balance_classes,
    decision_spans,
    error_side_ratio,
    sided_decision_spans,
    token_weights,
)
from training.progress import MemoryReporter
from training.sft import run_sft
from training.targets import LabelledItem, build_sft_targets, template_critique


def _item(label: int, n: int = 0) -> LabelledItem:
    return LabelledItem(
        problem=f"What is {n} + 2?",
        steps=(f"{n} + 2 = {n + 2}.", "Done."),
        first_error_step=label,
        source="t",
        source_id=str(n),
    )


def test_the_decision_text_is_where_a_right_and_a_wrong_critique_part() -> None:
    text = template_critique(_item(2))
    spans = [text[a:b] for a, b in decision_spans(text)]
    assert spans == ["follows from the", "1", "is wrong, so", "-1", "2"]
    # A strong model's own critique in the format, LaTeX and several sentences: the same places are found.
    written = (
        "**Critique of Step 1**: This step computes $\\frac{3}{4} \\times 8 = 6$, which is right. "
        "It uses the given rate.\n**Meta-critique**: Checking again, the product holds.\n"
        "**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n"
        "**Answer**: \\boxed{-1}"
    )
    assert [written[a:b] for a, b in decision_spans(written)] == ["computes $\\frac{3}{4} \\times", "1", "-1"]


def test_tokens_overlapping_a_decision_span_get_the_weight() -> None:
    pieces = [
        "**Critique of Step 1**: This step",
        " is",
        " wrong",
        ",",
        " so",
        " it",
        " fails",
        ". \\boxed{",
        "-",
        "1",
        "}",
    ]
    weights = token_weights(pieces, 5.0)
    assert weights == [1.0, 5.0, 5.0, 5.0, 5.0, 1.0, 1.0, 1.0, 5.0, 5.0, 1.0]


def test_the_error_side_is_the_wrong_steps_block_and_an_answer_naming_a_step() -> None:
    text = template_critique(_item(2))
    sides = [(text[a:b], error) for a, b, error in sided_decision_spans(text)]
    assert sides == [("follows from the", False), ("1", False), ("is wrong, so", True), ("-1", True), ("2", True)]
    right = template_critique(_item(NO_ERROR))
    assert not any(error for _, _, error in sided_decision_spans(right))  # its answer -1 is the right side's


def test_the_error_side_weighs_as_much_in_all_as_the_right_side() -> None:
    # One wrong solution (step 2 wrong: 2 spans before it on the right side, 3 on the error side) beside one right
    # solution (2 steps, 4 spans plus the answer, all on the right side): 7 right-side spans, 3 error-side ones.
    texts = [template_critique(_item(2)), template_critique(_item(NO_ERROR))]
    ratio = error_side_ratio(texts)
    assert ratio == pytest.approx(7 / 3)
    # The wrong solution's critique cut at every span's edges: each span's piece takes its side's weight.
    text = texts[0]
    spans = sided_decision_spans(text)
    cuts = sorted({0, len(text), *(edge for start, end, _ in spans for edge in (start, end))})
    pieces = [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    expected = []
    for a in cuts[:-1]:
        side = next((error for start, _, error in spans if start == a), None)
        expected.append(1.0 if side is None else 5.0 * ratio if side else 5.0)
    assert token_weights(pieces, 5.0, 5.0 * ratio) == pytest.approx(expected)
    assert sorted(set(expected)) == pytest.approx([1.0, 5.0, 5.0 * ratio])
    assert error_side_ratio(texts[1:]) == 1.0  # no error side: nothing to weigh up


def test_the_smaller_class_is_repeated_until_both_weigh_the_same() -> None:
    examples = [{"first_error_step": NO_ERROR, "n": i} for i in range(2)] + [
        {"first_error_step": 1, "n": i} for i in range(7)
    ]
    balanced = balance_classes(examples, seed=0)
    counts = Counter(e["first_error_step"] == NO_ERROR for e in balanced)
    assert counts[True] == counts[False] == 7
    assert all(e in balanced for e in examples)  # nothing dropped


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["judgements", "balanced"])
def test_a_judgement_weighted_job_trains(objective: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    items = [_item(NO_ERROR, 0), _item(1, 1), _item(2, 2), _item(1, 3)]
    examples = build_sft_targets(items, teacher=None).examples
    config = load_config(
        "sft",
        None,
        {
            "base_model": str(tiny_model_dir),
            "max_steps": 2,
            "max_length": 1024,
            "learning_rate": 1e-4,
            "evaluate": False,
            "objective": objective,
            "gradient_accumulation_steps": 2,
        },
    )
    reporter = MemoryReporter()
    outcome = run_sft(
        config,
        model_path=str(tiny_model_dir),
        train_examples=examples,
        output_dir=tmp_path,
        reporter=reporter,
        save=False,
    )
    losses = [value for _, name, value in reporter.metrics if name == "loss"]
    assert outcome.steps == 2 and len(losses) == 2 and all(math.isfinite(x) and x > 0 for x in losses)
    weighed_up = [message for _, message in reporter.logs if "error-side decision tokens weigh" in message]
    assert bool(weighed_up) == (objective == "balanced")
