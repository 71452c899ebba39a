"""The critique format as a regular expression, per item: what constrained decoding lets the model write.

One pattern per item (its step count fixes the step numbers), in the DeepCritic format with the meta-critique as
its own labelled part:

    **Critique of Step 1**: This step <the rest of one sentence>
    **Meta-critique**: Checking again, <the rest of one sentence>
    **Judgement**: The correctness of Step 1 is: \\boxed{1}

    **Critique of Step 2**: ...
    **Judgement**: The correctness of Step 2 is: \\boxed{-1}

    **Answer**: \\boxed{2}

The pattern nests so that the answer always agrees with the judgements: after a step judged 1 comes the next step's
block (or, after the last step, `\\boxed{-1}`); after a step judged -1 comes the answer naming that step, so the
critique stops at the first wrong step as DeepCritic's does. Every engine (vLLM's structured outputs, llguidance for
transformers, an OpenAI-compatible server) receives the same pattern. Text parts are one sentence of bounded
length after fixed opening words: the bound keeps every critique inside its token budget, a part cannot run on into a
loop, and a step's analysis and meta-critique cannot be the same sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# vLLM's name for llguidance, the engine the transformers backend uses too: every path enforces a pattern one way.
VLLM_STRUCTURED_OUTPUTS_BACKEND = "guidance"

# Each text part is one sentence opened by fixed words: the analysis talks about the step, the meta-critique takes
# a second look, and the two can never be the same sentence (a looping model's favourite move).
CRITIQUE_LABEL = "**Critique of Step {index}**: This step "
META_LABEL = "\n**Meta-critique**: Checking again, "
JUDGEMENT_LINE = "\n**Judgement**: The correctness of Step {index} is: \\boxed{{{value}}}"
STEP_SEPARATOR = "\n\n"
ANSWER_LINE = "\n\n**Answer**: \\boxed{{{value}}}"

# Tokens the fixed text of one step block can take, counted generously (SmolLM2 splits digits and markup finely).
_FIXED_TOKENS_PER_STEP = 40
_FIXED_TOKENS_ANSWER = 14
# A token of free text is at least one character; two per token is a cautious average for math prose.
_CHARS_PER_TOKEN = 2
# Bounds of one text part (after its opening words): at least a short clause; at most what the token budget leaves,
# but never less than room for one plain sentence, even if a long solution then needs more tokens than budgeted.
MIN_SENTENCE_CHARS = 16
SHORTEST_LIMIT_CHARS = 48
MAX_SENTENCE_CHARS = 240
# The token cap of a constrained critique never exceeds this: vLLM refuses a max_tokens above the model's context,
# and a realistic critique of even a 40-step solution stays far below it.
MAX_CONSTRAINED_TOKENS = 4096

# The rest of a sentence: no newline (a new line would open a new part), no '*' (markup of the labels), no
# backslash (no `\boxed{}` inside the text that a parser could misread); '.', '!' or '?' end it, except a '.'
# between digits.
_SENTENCE_START = r"(?:[^\s*\\.!?]|[0-9]\.[0-9])"
_SENTENCE_CHAR = r"(?:[^\n*\\.!?]|[0-9]\.[0-9])"
_SENTENCE_END = r"[.!?]"


@dataclass(frozen=True)
class Constraint:
    """A constrained generation: the pattern the whole completion must match and the tokens it can need at most."""

    regex: str
    max_tokens: int

    def matches(self, text: str) -> bool:
        """Whether a completion is in the format (what an engine that enforced the pattern guarantees)."""
        return re.fullmatch(self.regex, text, flags=re.DOTALL) is not None


def text_pattern(max_chars: int) -> str:
    """The rest of a sentence whose opening words the format wrote: MIN_SENTENCE_CHARS to `max_chars` characters."""
    longest = max(MIN_SENTENCE_CHARS, max_chars)
    return f"{_SENTENCE_START}{_SENTENCE_CHAR}{{{MIN_SENTENCE_CHARS - 2},{longest - 2}}}{_SENTENCE_END}"


def as_sentence(text: str, max_chars: int) -> str | None:
    """`text` as the rest of one format sentence (no new line, markup or backslash; one end mark), or None when it
    does not fit between MIN_SENTENCE_CHARS and `max_chars` characters."""
    plain = " ".join(text.replace("*", " ").replace("\\", " ").split())
    # A '.', '!' or '?' ends a sentence, except a decimal point between digits.
    plain = re.sub(r"(?<![0-9])\.|\.(?![0-9])|[!?]", ",", plain).strip(" ,;:") + "."
    if plain[:1] in {"", ".", ","} or not MIN_SENTENCE_CHARS <= len(plain) <= max_chars:
        return None
    return plain if re.fullmatch(text_pattern(max_chars), plain) else None


def sentence_chars(num_steps: int, max_new_tokens: int, parts_per_step: int = 2) -> int:
    """Longest sentence so that a critique of every step fits the token budget (within the allowed range)."""
    free_tokens = max_new_tokens - num_steps * _FIXED_TOKENS_PER_STEP - _FIXED_TOKENS_ANSWER
    per_part = free_tokens * _CHARS_PER_TOKEN // max(1, num_steps * parts_per_step)
    return max(SHORTEST_LIMIT_CHARS, min(MAX_SENTENCE_CHARS, per_part))


def _literal(text: str) -> str:
    # re.escape also escapes spaces and '-', which some engines' regex dialects reject; escape only what must be.
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def _step_block(index: int, sentence: str, *, meta: bool) -> str:
    block = _literal(CRITIQUE_LABEL.format(index=index)) + sentence
    if meta:
        block += _literal(META_LABEL) + sentence
    return block


def _judgement(index: int, value: int) -> str:
    return _literal(JUDGEMENT_LINE.format(index=index, value=value))


def _answer(value: int) -> str:
    return _literal(ANSWER_LINE.format(value=value))


def critique_constraint(num_steps: int, max_new_tokens: int) -> Constraint:
    """The whole single-mode critique of a solution with `num_steps` steps (1 or more)."""
    if num_steps < 1:
        raise ValueError("a critique needs at least one step")
    longest = sentence_chars(num_steps, max_new_tokens)
    sentence = text_pattern(longest)
    # Built from the last step back: step i is its block, then either "1" and the rest, or "-1" and the answer i.
    rest = _judgement(num_steps, 1) + _answer(-1)
    for index in range(num_steps, 0, -1):
        wrong_here = _judgement(index, -1) + _answer(index)
        if index < num_steps:
            rest = _judgement(index, 1) + _literal(STEP_SEPARATOR) + rest
        rest = _step_block(index, sentence, meta=True) + f"(?:{rest}|{wrong_here})"
    return Constraint(regex=rest, max_tokens=_token_cap(max_new_tokens, _longest_critique(num_steps, longest)))


def step_constraint(index: int, max_new_tokens: int) -> Constraint:
    """One step's critique and judgement, as each of deliberate mode's three calls writes it."""
    longest = sentence_chars(1, max_new_tokens, parts_per_step=1)
    regex = (
        _literal(CRITIQUE_LABEL.format(index=index))
        + text_pattern(longest)
        + f"(?:{_judgement(index, 1)}|{_judgement(index, -1)})"
    )
    fixed = len(CRITIQUE_LABEL.format(index=index)) + len(JUDGEMENT_LINE.format(index=index, value=-1))
    return Constraint(regex=regex, max_tokens=_token_cap(max_new_tokens, fixed + 3 * longest))


def _token_cap(max_new_tokens: int, longest_chars: int) -> int:
    """The budget, raised to the longest text the pattern allows (every token is at least one character), but
    not past MAX_CONSTRAINED_TOKENS unless the budget itself is larger."""
    return max(max_new_tokens, min(longest_chars, MAX_CONSTRAINED_TOKENS))


def _longest_critique(num_steps: int, longest_sentence: int) -> int:
    """Characters in the longest critique the pattern allows: every step judged, each with two sentences.

    Every token is at least one character, so this bounds the tokens a constrained critique can take: with it as the
    cap an engine never cuts a critique off mid-format, whatever the text's tokenization.
    """
    # A repeat of _SENTENCE_CHAR is one character, or three for a decimal point with its digits.
    longest_part = 3 * longest_sentence
    per_step = [
        len(CRITIQUE_LABEL.format(index=i))
        + len(META_LABEL)
        + 2 * longest_part
        + len(JUDGEMENT_LINE.format(index=i, value=-1))
        + len(STEP_SEPARATOR)
        for i in range(1, num_steps + 1)
    ]
    return sum(per_step) + len(ANSWER_LINE.format(value=num_steps))
