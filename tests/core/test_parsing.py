"""The critique parser on realistic well-formed and malformed model outputs; it never raises."""
# ruff: noqa: E501  (model outputs are long single lines, kept verbatim)

from __future__ import annotations

import pytest

from core.parsing import boxed_step_index, parse_critique, parse_step_critique, split_meta_critique

WELL_FORMED = r"""**Critique of Step 1**: The step starts with 18 pink flamingos on Friday. This matches the problem statement. Let me double-check: the problem says "placed 18 pink plastic flamingos", so 18 is right.
**Judgement**: The correctness of Step 1 is: \boxed{1}

**Critique of Step 2**: One third of 18 is 6, and 18 - 6 = 12 pink flamingos remain. The 6 taken back are painted white and returned, so there are 12 pink and 6 white. But the step then claims 12 + 6 = 18 pink flamingos. Wait, the 6 returned flamingos are white, not pink, so the pink count should stay 12. The step is incorrect.
**Judgement**: The correctness of Step 2 is: \boxed{-1}

**Answer**: \boxed{2}"""

ALL_CORRECT = r"""I will check each step.

**Critique of Step 1**: 3 * 4 = 12 eggs. Correct.
**Judgement**: The correctness of Step 1 is: \boxed{1}

**Critique of Step 2**: 12 - 2 = 10. Alternatively, 4 * 3 - 2 = 10 as well.
**Judgement**: The correctness of Step 2 is: \boxed{1}

**Answer**: \boxed{ -1 }
All steps are correct, so the answer is -1."""


def test_well_formed_output_gives_first_error_verdicts_and_meta_critique() -> None:
    parsed = parse_critique(WELL_FORMED, 4)
    assert parsed.parse_status == "ok" and parsed.problems == []
    assert parsed.first_error_step == 2
    assert [s.verdict for s in parsed.steps] == ["correct", "incorrect", "unchecked", "unchecked"]
    step1, step2 = parsed.steps[0], parsed.steps[1]
    assert step1.critique.startswith("The step starts with 18") and step1.meta_critique.startswith(
        "Let me double-check"
    )
    assert step2.critique.endswith("12 + 6 = 18 pink flamingos.")
    assert step2.meta_critique.startswith("Wait, the 6 returned flamingos are white")
    assert "Judgement" not in step2.meta_critique


def test_all_correct_with_spaces_in_the_box_and_extra_text() -> None:
    parsed = parse_critique(ALL_CORRECT, 2)
    assert parsed.first_error_step == -1 and parsed.parse_status == "ok"
    assert [s.verdict for s in parsed.steps] == ["correct", "correct"]
    assert parsed.steps[1].meta_critique.startswith("Alternatively")


def test_missing_judgement_is_reported_on_that_step() -> None:
    text = r"""**Critique of Step 1**: Adding 5 and 7 gives 12, which is right.

**Critique of Step 2**: 12 * 3 = 36 but the step says 35.
**Judgement**: The correctness of Step 2 is: \boxed{-1}

**Answer**: \boxed{2}"""
    parsed = parse_critique(text, 3)
    assert parsed.first_error_step == 2 and parsed.parse_status == "partial"
    assert parsed.steps[0].parse_status == "failed" and parsed.steps[0].verdict == "unchecked"
    assert parsed.steps[1].parse_status == "ok"
    assert any("Step 1: no judgement" in p for p in parsed.problems)


def test_truncated_output_without_answer_uses_the_judgements_so_far() -> None:
    text = r"""**Critique of Step 1**: 20% of 50 is 10. Correct.
**Judgement**: The correctness of Step 1 is: \boxed{1}

**Critique of Step 2**: The step divides 10 by 4 and gets 3, but 10 / 4 = 2.5.
**Judgement**: The correctness of Step 2 is: \boxed{-1}

**Critique of Step 3**: Since the previous"""
    parsed = parse_critique(text, 5)
    assert parsed.first_error_step == 2 and parsed.parse_status == "partial"
    assert any("no '**Answer**" in p for p in parsed.problems)
    cut_early = parse_critique(
        "**Critique of Step 1**: 20% of 50 is 10. Correct.\n**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n**Critique of Step 2**: The step div",
        3,
    )
    assert cut_early.first_error_step is None and cut_early.parse_status == "failed"
    assert cut_early.steps[0].verdict == "correct" and cut_early.steps[1].parse_status == "failed"


def test_wrong_duplicated_and_out_of_range_numbering_is_repaired_by_position() -> None:
    text = r"""**Critique of Step 0**: Fine.
**Judgement**: \boxed{1}
**Critique of Step 1**: Wrong sum.
**Judgement**: \boxed{-1}
**Critique of Step 1**: Repeated block.
**Judgement**: \boxed{1}
**Answer**: \boxed{2}"""
    parsed = parse_critique(text, 3)
    assert parsed.first_error_step == 2 and parsed.parse_status == "partial"
    assert [s.verdict for s in parsed.steps[:2]] == ["correct", "incorrect"]
    assert parsed.steps[1].critique == "Wrong sum."
    assert any("duplicate" in p for p in parsed.problems) and any("repaired" in p for p in parsed.problems)
    beyond = parse_critique("**Critique of Step 7**: ok\n**Judgement**: \\boxed{1}\n**Answer**: \\boxed{9}", 2)
    assert beyond.first_error_step is None and beyond.parse_status == "failed"
    assert any("outside steps 1..2" in p for p in beyond.problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"**Answer**: \boxed{Step 3}", 3),
        (r"**Answer**: \boxed{\text{Step 2}}", 2),
        (r"**Answer**: $\boxed{-1}$.", -1),
        (r"**Final Answer**: \boxed{none}", -1),
    ],
)
def test_answer_without_step_blocks_still_gives_the_first_error(text: str, expected: int) -> None:
    parsed = parse_critique(text, 3)
    assert parsed.first_error_step == expected
    assert parsed.parse_status == "partial"
    assert any("no per-step critiques" in p for p in parsed.problems)


@pytest.mark.parametrize("mode", ["lenient", "strict"])
@pytest.mark.parametrize(
    "text",
    [
        r"The earliest error is in \boxed{1}.",
        r"Adding the two parts gives 12 + 7 = 19, so the answer is \boxed{2}.",
        r"Step 2 multiplies instead of adding. The answer is \boxed{2}.",
    ],
)
def test_a_bare_box_without_step_blocks_is_never_a_first_error(text: str, mode: str) -> None:
    parsed = parse_critique(text, 3, mode=mode)
    assert parsed.first_error_step is None and parsed.parse_status == "failed"
    assert any("outside step blocks" in p for p in parsed.problems)


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "<|im_end|><|im_end|>", "The the the the the", "\\boxed{", "\\boxed{12}", "**Answer**: \\boxed{x}"],
)
def test_garbage_never_raises_and_is_failed(garbage: str) -> None:
    parsed = parse_critique(garbage, 3)
    assert parsed.first_error_step is None and parsed.parse_status == "failed"
    assert len(parsed.steps) == 3 and all(s.verdict == "unchecked" for s in parsed.steps)


def test_loose_headers_word_judgements_and_disagreeing_answer() -> None:
    text = r"""Step 1: The multiplication 4 * 6 = 24 is correct.
Judgement: correct
Step 2: 24 + 5 = 30 is wrong, it is 29.
Judgement: incorrect
**Answer**: \boxed{3}"""
    parsed = parse_critique(text, 3)
    assert [s.verdict for s in parsed.steps[:2]] == ["correct", "incorrect"]
    assert parsed.steps[0].parse_status == "partial"
    assert parsed.first_error_step == 3 and parsed.parse_status == "partial"  # the boxed answer is what is scored
    assert any("disagrees" in p for p in parsed.problems)


def test_boxed_values_and_meta_split_rule() -> None:
    assert boxed_step_index(" -1 ") == -1 and boxed_step_index("Step 3") == 3 and boxed_step_index("3.5") is None
    assert split_meta_critique("It is 12. **Re-verification**: 3 * 4 = 12 indeed.") == (
        "It is 12.",
        "3 * 4 = 12 indeed.",
    )
    assert split_meta_critique("Let me verify right away: fine.") == ("Let me verify right away: fine.", "")
    assert split_meta_critique("Plain analysis only.") == ("Plain analysis only.", "")
    step = parse_step_critique(
        "**Critique of Step 2**: 7 + 5 = 12. To verify, 12 - 5 = 7.\n**Judgement**: \\boxed{1}", 2
    )
    assert (step.verdict, step.critique, step.meta_critique) == ("correct", "7 + 5 = 12.", "To verify, 12 - 5 = 7.")


# The format the constrained critic emits: a labelled meta-critique line inside each step block.
WITH_META_LINES = r"""**Critique of Step 1**: 4 * 6 = 24 pencils in the boxes, as the problem says.
**Meta-critique**: Counting again, 6 + 6 + 6 + 6 = 24, so the analysis holds.
**Judgement**: The correctness of Step 1 is: \boxed{1}

**Critique of Step 2**: The step adds the 5 loose pencils and writes 24 + 5 = 30, but 24 + 5 = 29.
**Meta-critique**: Subtracting back, 30 - 5 = 25, not 24, which confirms the sum is wrong.
**Judgement**: The correctness of Step 2 is: \boxed{-1}

**Answer**: \boxed{2}"""


@pytest.mark.parametrize("text", [WELL_FORMED, WITH_META_LINES])
def test_strict_mode_accepts_the_format_with_or_without_meta_critique_lines(text: str) -> None:
    parsed = parse_critique(text, 4, mode="strict")
    assert parsed.parse_status == "ok" and parsed.problems == [] and parsed.first_error_step == 2
    assert [s.verdict for s in parsed.steps[:2]] == ["correct", "incorrect"]
    assert parsed.steps[1].meta_critique.startswith("Subtracting back") or text is WELL_FORMED


def test_strict_mode_accepts_every_step_judged_correct() -> None:
    text = ALL_CORRECT.replace(r"\boxed{ -1 }", r"\boxed{-1}").split("\nAll steps")[0]
    parsed = parse_critique(text, 2, mode="strict")
    assert parsed.first_error_step == -1 and parsed.parse_status == "ok"


STEP_1_OK = "**Critique of Step 1**: 4 * 6 = 24.\n**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n"
STEP_2_BAD = (
    "**Critique of Step 2**: 24 + 5 is 29, not 30.\n**Judgement**: The correctness of Step 2 is: \\boxed{-1}\n\n"
)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (r"**Answer**: \boxed{2}", "blocks are []"),
        (STEP_1_OK + STEP_2_BAD, "no '**Answer**"),
        (STEP_1_OK + STEP_2_BAD + r"**Answer**: \boxed{3}", "disagrees"),
        (STEP_1_OK + STEP_2_BAD + r"The first error is \boxed{2}", "no '**Answer**:' label"),
        (STEP_2_BAD + r"**Answer**: \boxed{2}", "not steps 1..2"),
        (STEP_1_OK.replace("\\boxed{1}", "correct") + STEP_2_BAD + r"**Answer**: \boxed{2}", "Step 1: not exactly one"),
        (STEP_1_OK.replace("Step 1**", "Step 0**") + STEP_2_BAD + r"**Answer**: \boxed{2}", "repaired"),
        (STEP_1_OK.replace("4 * 6 = 24.", "") + STEP_2_BAD + r"**Answer**: \boxed{2}", "no critique"),
        (STEP_1_OK + STEP_2_BAD + "**Answer**: \\boxed{2}\nActually step 1 is wrong: \\boxed{1}", "text after"),
        (STEP_1_OK + STEP_2_BAD + STEP_2_BAD.replace("Step 2", "Step 3") + r"**Answer**: \boxed{2}", "not steps 1..2"),
        (
            "Step 1: 4 * 6 = 24.\nJudgement: correct\nStep 2: wrong sum.\nJudgement: incorrect\n**Answer**: \\boxed{2}",
            "headers",
        ),
    ],
)
def test_strict_mode_fails_what_lenient_mode_repairs(text: str, why: str) -> None:
    strict = parse_critique(text, 3, mode="strict")
    assert strict.first_error_step is None and strict.parse_status == "failed"
    assert any(why in p for p in strict.problems), strict.problems


def test_strict_step_critique_needs_the_exact_judgement_line() -> None:
    good = "**Critique of Step 2**: 7 + 5 = 12.\n**Judgement**: The correctness of Step 2 is: \\boxed{-1}"
    assert parse_step_critique(good, 2, mode="strict").verdict == "incorrect"
    words = "**Critique of Step 2**: 7 + 5 = 12.\n**Judgement**: correct"
    assert parse_step_critique(words, 2).verdict == "correct"
    strict = parse_step_critique(words, 2, mode="strict")
    assert strict.verdict == "unchecked" and strict.parse_status == "failed"


def test_a_repeated_sentence_is_the_mark_of_a_loop() -> None:
    from core.parsing import repeats_a_sentence

    looping = "The correct step to solve this problem is: add. The correct step to solve this problem is: add."
    assert repeats_a_sentence(looping)
    assert not repeats_a_sentence("Four pens cost 12 dollars. Checking: 4 x 3 = 12 again gives 12.")
    assert not repeats_a_sentence("Yes. Yes. The step is right.")
