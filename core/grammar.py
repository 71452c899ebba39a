"""The critique format as a regular expression, per item: what constrained decoding lets the model write.

One pattern per item (its step count fixes the step numbers), in the DeepCritic format with the meta-critique as
its own labelled part:

    **Critique of Step 1**: <text>
    **Meta-critique**: <text>
    **Judgement**: The correctness of Step 1 is: \\boxed{1}

    **Critique of Step 2**: ...
    **Judgement**: The correctness of Step 2 is: \\boxed{-1}

    **Answer**: \\boxed{2}

Two profiles differ only in what a text part may be. `tight` (small models, the embedded one): one sentence of
bounded length after fixed opening words ("This step", "Checking again,"), so every critique fits its token budget,
a part cannot run on into a loop and the analysis and meta-critique cannot be the same sentence. `structure` (every
other model): free text, several sentences, new lines, lists and LaTeX, bounded only by the token budget, in which
only the format's own markers (`**Critique`, `**Meta-critique`, `**Judgement`, `**Answer`, `\\boxed`) cannot appear.

The pattern nests so that the answer always agrees with the judgements: after a step judged 1 comes the next step's
block (or, after the last step, `\\boxed{-1}`); after a step judged -1 comes the answer naming that step, so the
critique stops at the first wrong step as DeepCritic's does. Steps the symbolic checker proved wrong change that:
the first of them must be judged -1 and is the answer, and a -1 before it does not end the critique (the model's
doubt is recorded on its step and the proven step is still reached). `all_steps` judges every step whatever the
judgements (for measuring step-level quality). Every engine (vLLM's structured outputs, llguidance for
transformers, an OpenAI-compatible server) receives the same pattern.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

GrammarProfileName = Literal["tight", "structure"]

# vLLM's name for llguidance, the engine the transformers backend uses too: every path enforces a pattern one way.
VLLM_STRUCTURED_OUTPUTS_BACKEND = "guidance"

CRITIQUE_HEADER = "**Critique of Step {index}**: "
META_HEADER = "\n**Meta-critique**: "
# The tight profile's text parts are one sentence opened by fixed words: the analysis talks about the step, the
# meta-critique takes a second look, and the two can never be the same sentence (a looping model's favourite move).
TIGHT_CRITIQUE_OPENER = "This step "
TIGHT_META_OPENER = "Checking again, "
CRITIQUE_LABEL = CRITIQUE_HEADER + TIGHT_CRITIQUE_OPENER
META_LABEL = META_HEADER + TIGHT_META_OPENER
JUDGEMENT_LINE = "\n**Judgement**: The correctness of Step {index} is: \\boxed{{{value}}}"
STEP_SEPARATOR = "\n\n"
ANSWER_LINE = "\n\n**Answer**: \\boxed{{{value}}}"
FORMAT_MARKERS = ("**Critique of Step", "**Meta-critique**", "**Judgement**", "**Answer**", "\\boxed")
"""What a structure-profile text part can never contain: the format's own markers."""

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
# After its length bound a sentence may still finish the word it is in (up to this many more characters, no space):
# the bound never forces an end mark mid-word ("... have been c.").
WORD_FINISH_CHARS = 24
# The token cap of a constrained critique never exceeds this: vLLM refuses a max_tokens above the model's context,
# and a realistic critique of even a 40-step solution stays far below it.
MAX_CONSTRAINED_TOKENS = 4096

# The rest of a sentence: no newline (a new line would open a new part), no '*' (markup of the labels), no
# backslash (no `\boxed{}` inside the text that a parser could misread), no angle brackets (a small model would
# otherwise copy the prompt's "<analysis>" placeholder); '.', '!' or '?' end it, except a '.' between digits.
_SENTENCE_START = r"(?:[^\s*\\.!?<>]|[0-9]\.[0-9])"
_SENTENCE_CHAR = r"(?:[^\n*\\.!?<>]|[0-9]\.[0-9])"
_WORD_CHAR = r"[^\s*\\.!?<>]"
_SENTENCE_END = r"[.!?]"


def _free_text_pattern() -> str:
    """A structure-profile text part: any text (new lines, lists, `$...$`, `$$...$$`, `\\frac`, `\\times`) that
    holds none of FORMAT_MARKERS and starts with a visible character.

    Built from units so that a plain regular expression (no look-around, which not every engine has) excludes the
    markers: a backslash opens a LaTeX command whose name is not `boxed` (a non-letter ends it, so plain letters
    cannot extend it into one) or escapes one non-letter; a single '*' and a '**' are followed by a character that
    cannot start a marker word ("**Check**" stays possible, "**Critique" does not).
    """
    letters = "A-Za-z"
    stop = r"*\\"
    rest = f"[{letters}]*"
    # A command name other than "boxed": it leaves "boxed" at some letter, stops before its end, or runs past it.
    name = (
        f"(?:[A-Zac-z]{rest}"
        f"|b(?:[A-Za-np-z]{rest}|o(?:[A-Za-wyz]{rest}|x(?:[A-Za-df-z]{rest}|e(?:[A-Za-ce-z]{rest}|d[{letters}]+)?)?)?)?)"
    )
    command = rf"\\(?:{name}[^{letters}{stop}]|[^{letters}{stop}]|\\[^{letters}{stop}])"
    words = ("Critique", "Meta-critique", "Judgement", "Answer")
    firsts = "".join(sorted({word[0] for word in words}))
    after_stars = [f"[^{firsts}{stop}]", *(_broken_word(word, stop) for word in words)]
    double_star = rf"\*\*(?:{'|'.join(after_stars)})"
    single_star = rf"\*[^{stop}]"
    unit = rf"(?:[^{stop}]|{command}|{double_star}|{single_star})"
    first = rf"(?:[^\s{stop}]|{command}|{double_star}|{single_star})"
    return f"{first}{unit}*"


def _broken_word(word: str, stop: str) -> str:
    """After '**': a proper prefix of `word` and then a character that breaks it off (not its next letter, not '*'
    or a backslash), e.g. for "Answer": "A[^n*\\]", "An[^s*\\]", ... "Answe[^r*\\]"."""
    alternatives = []
    for position in range(1, len(word)):
        following = "\\-" if word[position] == "-" else word[position]
        alternatives.append(f"{_literal(word[:position])}[^{following}{stop}]")
    return "(?:" + "|".join(alternatives) + ")"


@dataclass(frozen=True)
class Constraint:
    """A constrained generation: the pattern the whole completion must match and the tokens it can need at most."""

    regex: str
    max_tokens: int
    profile: GrammarProfileName = "tight"

    def matches(self, text: str) -> bool:
        """Whether a completion is in the format (what an engine that enforced the pattern guarantees)."""
        return re.fullmatch(self.regex, text, flags=re.DOTALL) is not None


def text_pattern(max_chars: int) -> str:
    """The rest of a sentence whose opening words the format wrote: MIN_SENTENCE_CHARS to `max_chars` characters,
    then at most WORD_FINISH_CHARS more to finish its last word."""
    longest = max(MIN_SENTENCE_CHARS, max_chars)
    # Two alternatives that cannot overlap (the second only after exactly the longest run), so no engine has to try
    # every split between the run and the word's end.
    within = f"{_SENTENCE_CHAR}{{{MIN_SENTENCE_CHARS - 2},{longest - 2}}}"
    at_bound = f"{_SENTENCE_CHAR}{{{longest - 2}}}{_WORD_CHAR}{{1,{WORD_FINISH_CHARS}}}"
    return f"{_SENTENCE_START}(?:{within}|{at_bound}){_SENTENCE_END}"


def as_sentence(text: str, max_chars: int) -> str | None:
    """`text` as the rest of one format sentence (no new line, markup or backslash; one end mark), or None when it
    does not fit between MIN_SENTENCE_CHARS and `max_chars` characters."""
    plain = text.replace("<", " less than ").replace(">", " greater than ")
    plain = " ".join(plain.replace("*", " ").replace("\\", " ").split())
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


FREE_TEXT = _free_text_pattern()


def _step_block(index: int, profile: GrammarProfileName, sentence: str) -> str:
    if profile == "structure":
        return _literal(CRITIQUE_HEADER.format(index=index)) + FREE_TEXT + _literal(META_HEADER) + FREE_TEXT
    return _literal(CRITIQUE_LABEL.format(index=index)) + sentence + _literal(META_LABEL) + sentence


def _judgement(index: int, value: int) -> str:
    return _literal(JUDGEMENT_LINE.format(index=index, value=value))


def _either_judgement(index: int) -> str:
    return f"(?:{_judgement(index, 1)}|{_judgement(index, -1)})"


def _answer(value: int) -> str:
    return _literal(ANSWER_LINE.format(value=value))


def critique_constraint(
    num_steps: int,
    max_new_tokens: int,
    *,
    profile: GrammarProfileName = "tight",
    proven_wrong: Collection[int] = (),
    all_steps: bool = False,
) -> Constraint:
    """The whole single-mode critique of a solution with `num_steps` steps (1 or more).

    `proven_wrong`: steps the symbolic checker proved wrong; the first of them is judged -1 and is the answer, and a
    -1 before it does not end the critique. `all_steps`: every step is judged (the answer is any step or -1, read
    by the parser with the judgements).
    """
    if num_steps < 1:
        raise ValueError("a critique needs at least one step")
    if profile not in ("tight", "structure"):
        raise ValueError(f"unknown grammar profile {profile!r}: use tight or structure")
    proven = min((p for p in proven_wrong if 1 <= p <= num_steps), default=None)
    longest = sentence_chars(num_steps, max_new_tokens)
    sentence = text_pattern(longest)
    separator = _literal(STEP_SEPARATOR)
    if all_steps:
        values = "|".join(str(v) for v in [-1, *range(1, num_steps + 1)]) if proven is None else str(proven)
        blocks = [
            _step_block(i, profile, sentence) + (_judgement(i, -1) if i == proven else _either_judgement(i))
            for i in range(1, num_steps + 1)
        ]
        regex = separator.join(blocks) + _literal(ANSWER_LINE.format(value="@")).replace("@", f"(?:{values})")
    else:
        stop_at = num_steps if proven is None else proven
        # Built from the last step back: step i is its block, then either "1" and the rest, or "-1" and the answer i
        # (before a proven step, "-1" goes on to the rest too; at it, only "-1" and its answer).
        regex = ""
        for index in range(stop_at, 0, -1):
            block = _step_block(index, profile, sentence)
            if index == proven:
                regex = block + _judgement(index, -1) + _answer(index)
            elif proven is not None:
                regex = block + _either_judgement(index) + separator + regex
            elif index == num_steps:
                regex = block + f"(?:{_judgement(index, 1) + _answer(-1)}|{_judgement(index, -1) + _answer(index)})"
            else:
                wrong_here = _judgement(index, -1) + _answer(index)
                regex = block + f"(?:{_judgement(index, 1) + separator + regex}|{wrong_here})"
    longest_chars = _longest_critique(num_steps, longest, profile)
    return Constraint(regex=regex, max_tokens=_token_cap(max_new_tokens, longest_chars), profile=profile)


def step_constraint(index: int, max_new_tokens: int, *, profile: GrammarProfileName = "tight") -> Constraint:
    """One step's critique and judgement, as each of deliberate mode's three calls writes it."""
    longest = sentence_chars(1, max_new_tokens, parts_per_step=1)
    text = FREE_TEXT if profile == "structure" else text_pattern(longest)
    label = CRITIQUE_HEADER if profile == "structure" else CRITIQUE_LABEL
    regex = _literal(label.format(index=index)) + text + _either_judgement(index)
    if profile == "structure":
        return Constraint(regex=regex, max_tokens=max_new_tokens, profile=profile)
    fixed = len(CRITIQUE_LABEL.format(index=index)) + len(JUDGEMENT_LINE.format(index=index, value=-1))
    return Constraint(regex=regex, max_tokens=_token_cap(max_new_tokens, fixed + 3 * longest), profile=profile)


def _token_cap(max_new_tokens: int, longest_chars: int | None) -> int:
    """The budget, raised to the longest text the pattern allows (every token is at least one character), but
    not past MAX_CONSTRAINED_TOKENS unless the budget itself is larger. Free text (structure) has no longest text:
    its bound is the budget itself."""
    if longest_chars is None:
        return max_new_tokens
    return max(max_new_tokens, min(longest_chars, MAX_CONSTRAINED_TOKENS))


def _longest_critique(num_steps: int, longest_sentence: int, profile: GrammarProfileName) -> int | None:
    """Characters in the longest critique the tight pattern allows: every step judged, each with two sentences.

    Every token is at least one character, so this bounds the tokens a constrained critique can take: with it as the
    cap an engine never cuts a critique off mid-format, whatever the text's tokenization.
    """
    if profile == "structure":
        return None
    # A repeat of _SENTENCE_CHAR is one character, or three for a decimal point with its digits.
    longest_part = 3 * longest_sentence + WORD_FINISH_CHARS
    per_step = [
        len(CRITIQUE_LABEL.format(index=i))
        + len(META_LABEL)
        + 2 * longest_part
        + len(JUDGEMENT_LINE.format(index=i, value=-1))
        + len(STEP_SEPARATOR)
        for i in range(1, num_steps + 1)
    ]
    return sum(per_step) + len(ANSWER_LINE.format(value=num_steps))
