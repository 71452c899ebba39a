"""The critique grammar: one pattern per step count that only well-formed, self-consistent critiques match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.grammar import (
    ANSWER_LINE,
    CRITIQUE_LABEL,
    JUDGEMENT_LINE,
    MAX_CONSTRAINED_TOKENS,
    META_LABEL,
    MIN_SENTENCE_CHARS,
    SHORTEST_LIMIT_CHARS,
    STEP_SEPARATOR,
    WORD_FINISH_CHARS,
    critique_constraint,
    sentence_chars,
    step_constraint,
)
from core.parsing import parse_critique
from core.types import SolutionItem


def written_critique(num_steps: int, first_error: int, sentence: str = "multiplies the numbers right.") -> str:
    """A critique in the exact format: every step up to the first error judged, then the agreeing answer."""
    last = num_steps if first_error == -1 else first_error
    blocks = [
        CRITIQUE_LABEL.format(index=i)
        + sentence
        + META_LABEL
        + "3.5 x 2 gives 7 here."
        + JUDGEMENT_LINE.format(index=i, value=-1 if i == first_error else 1)
        for i in range(1, last + 1)
    ]
    return STEP_SEPARATOR.join(blocks) + ANSWER_LINE.format(value=first_error)


@pytest.mark.parametrize("num_steps", [1, 2, 3, 7, 16, 40])
def test_every_consistent_critique_matches_and_every_inconsistent_one_does_not(num_steps: int) -> None:
    constraint = critique_constraint(num_steps, 512)
    for first_error in [-1, *range(1, num_steps + 1)]:
        text = written_critique(num_steps, first_error)
        assert constraint.matches(text), f"{num_steps} steps, first error {first_error}"
        parsed = parse_critique(text, num_steps)
        assert parsed.first_error_step == first_error and parsed.parse_status == "ok"
    good = written_critique(num_steps, -1)
    wrong_answer = good.replace("\\boxed{-1}", "\\boxed{1}")
    assert not constraint.matches(wrong_answer), "the answer must agree with the judgements"
    assert not constraint.matches(good + "\nMore text."), "nothing after the answer"
    if num_steps > 1:
        skipped = written_critique(num_steps, 2).replace("Step 1", "Step 9")
        assert not constraint.matches(skipped), "steps come in order"
        goes_on = written_critique(num_steps, 1).replace("\n\n**Answer**: \\boxed{1}", "") + (
            STEP_SEPARATOR + written_critique(num_steps, -1).split(STEP_SEPARATOR, 1)[1]
        )
        assert not constraint.matches(goes_on), "the critique stops at the first wrong step"


def test_text_parts_are_bounded_single_lines_without_markup() -> None:
    constraint = critique_constraint(3, 512)
    limit = sentence_chars(3, 512)
    assert MIN_SENTENCE_CHARS <= limit <= 240
    assert not constraint.matches(written_critique(3, 2, sentence="is ok."))
    assert not constraint.matches(written_critique(3, 2, sentence="A" * (limit + WORD_FINISH_CHARS + 5) + "."))
    assert not constraint.matches(written_critique(3, 2, sentence="A " * (limit // 2 + 5) + "end."))
    assert not constraint.matches(written_critique(3, 2, sentence="has\na new line inside it, see."))
    assert not constraint.matches(written_critique(3, 2, sentence="is \\boxed{-1} wrong in this step."))
    assert not constraint.matches(written_critique(3, 2, sentence="is **bold** and that is not allowed."))
    assert not constraint.matches(written_critique(3, 2, sentence="says 4 pens cost 12. It then goes on."))
    assert constraint.matches(written_critique(3, 2, sentence="says four pens cost 4.5 dollars in all."))


def test_the_token_cap_covers_the_longest_critique_the_pattern_allows() -> None:
    for num_steps in (1, 5, 40):
        constraint = critique_constraint(num_steps, 512)
        longest = written_critique(num_steps, -1, sentence="x" * (sentence_chars(num_steps, 512) - 1) + ".")
        assert constraint.matches(longest)
        assert constraint.max_tokens >= min(max(512, len(longest)), MAX_CONSTRAINED_TOKENS), "a token >= 1 character"
        assert constraint.max_tokens <= max(512, MAX_CONSTRAINED_TOKENS), "servers refuse caps above the context"
    # a budget too small for the text still leaves every step room for one plain sentence
    assert sentence_chars(40, 64) == SHORTEST_LIMIT_CHARS


def test_deliberate_calls_write_one_step_each() -> None:
    constraint = step_constraint(3, 256)
    text = CRITIQUE_LABEL.format(index=3) + "subtracts and gets 9, not 8." + JUDGEMENT_LINE.format(index=3, value=-1)
    assert constraint.matches(text)
    assert not constraint.matches(text.replace("Step 3", "Step 2"))


@pytest.mark.parametrize("num_steps", [1, 4, 12, 40])
def test_llguidance_compiles_the_pattern(num_steps: int) -> None:
    import llguidance

    grammar = llguidance.LLMatcher.grammar_from_regex(critique_constraint(num_steps, 512).regex)
    assert llguidance.LLMatcher.validate_grammar(grammar) == ""


def test_the_pattern_is_plain_regular_syntax() -> None:
    # Engines differ in regex dialects: no lookarounds, backreferences or named groups.
    regex = critique_constraint(5, 512).regex
    assert not re.search(r"\(\?[=!<P]", regex)


@pytest.mark.slow
def test_a_random_tiny_model_under_the_grammar_always_writes_a_readable_critique(tiny_model_dir: Path) -> None:
    from core.critic import Critic

    item = SolutionItem(problem="Tom has 3 bags of 4 apples and eats 2.", steps=["3*4=12", "12-2=10", "So 10."])
    critic = Critic.create(model=str(tiny_model_dir), backend="transformers", max_new_tokens=96, critic="llm")
    results = critic.critique_many([item] * 4, samples=3, temperature=1.0, seed=11)
    results += critic.critique_many([item] * 4, samples=3, temperature=1.5, seed=12)
    for result in results:
        assert result.constrained and result.parse_status == "ok"
        assert all(vote in (-1, 1, 2, 3) for vote in result.votes)
        assert all(s.p_correct is not None for s in result.steps if s.verdict != "unchecked")
    assert len({output for result in results for output in result.raw_outputs}) > 3, "samples really differ"
    deliberate = critic.critique(item, mode="deliberate", samples=1)
    assert deliberate.constrained and deliberate.parse_status == "ok", "each of the three calls keeps its format"
    assert all(s.verdict in ("correct", "incorrect", "unchecked") and s.critique for s in deliberate.steps[:1])


def test_a_sentence_at_its_length_bound_can_finish_its_word_and_never_ends_inside_one() -> None:
    limit = sentence_chars(3, 512)
    constraint = critique_constraint(3, 512)
    # The bound falls inside "covered": the pattern lets the word finish rather than forcing "... have been c."
    head = "x " * ((limit - 14) // 2)
    words = (head + "have been covered")[: limit + 5]
    cut_at_bound = (head + "have been covered")[:limit]
    assert len(cut_at_bound) == limit and not cut_at_bound.endswith(" ")
    assert constraint.matches(written_critique(3, 2, sentence=head + "have been covered."))
    assert constraint.matches(written_critique(3, 2, sentence=words + "."))
    # ... and a new word cannot start past the bound: the sentence must end at the word's end.
    assert not constraint.matches(written_critique(3, 2, sentence=head + "have been covered and more."))


def test_a_proven_step_is_judged_wrong_and_an_earlier_doubt_does_not_end_the_critique() -> None:
    constraint = critique_constraint(4, 512, proven_wrong=[3])
    doubt = written_critique(4, 3).replace(
        JUDGEMENT_LINE.format(index=2, value=1), JUDGEMENT_LINE.format(index=2, value=-1)
    )
    assert constraint.matches(written_critique(4, 3))
    assert constraint.matches(doubt), "a -1 on step 2 goes on to the proven step 3"
    assert not constraint.matches(written_critique(4, 2)), "a -1 before the proven step cannot end the critique"
    assert not constraint.matches(written_critique(4, -1)), "the proven step cannot be judged correct"
    parsed = parse_critique(doubt, 4, mode="strict")
    assert parsed.first_error_step == 3 and parsed.parse_status == "ok"
    assert [s.verdict for s in parsed.steps[:3]] == ["correct", "incorrect", "incorrect"]


def test_the_all_steps_grammar_judges_every_step_after_a_wrong_one() -> None:
    constraint = critique_constraint(3, 512, all_steps=True)
    every = written_critique(3, -1).replace(
        JUDGEMENT_LINE.format(index=1, value=1), JUDGEMENT_LINE.format(index=1, value=-1)
    )
    assert constraint.matches(every), "a -1 on step 1, then steps 2 and 3 judged too"
    assert not constraint.matches(written_critique(3, 1)), "the critique does not stop at the first -1"
    parsed = parse_critique(every, 3, all_steps=True)
    assert [s.verdict for s in parsed.steps] == ["incorrect", "correct", "correct"]
    assert parsed.first_error_step == 1 and parsed.parse_status == "ok", "the first -1 judgement, not the box of -1"
    strict = parse_critique(every, 3, mode="strict", all_steps=True)
    assert strict.first_error_step == 1 and strict.parse_status == "ok"
    assert parse_critique(every, 3).parse_status == "partial", "outside all-steps the box and judgements disagree"


def test_a_tight_sentence_cannot_copy_the_prompt_placeholder() -> None:
    constraint = critique_constraint(3, 512)
    assert not constraint.matches(written_critique(3, 2, sentence="<analysis> is what this step does."))
    assert constraint.matches(written_critique(3, 2, sentence="compares 3 and 5 and finds 3 is less."))
