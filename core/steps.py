"""Split raw solution text into steps: `Step i:` prefixes, numbered lists, paragraphs or lines."""

from __future__ import annotations

import re

# "Step 3:", "**Step 3.**", "Step 3 -" at the start of a line; the prompt adds its own prefixes, so these are stripped.
_STEP_PREFIX = re.compile(
    r"^[ \t]*(?:[*_#]+[ \t]*)?step[ \t]*(\d+)[ \t]*(?:[*_]+[ \t]*)?[:.)\-][ \t]*(?:[*_]+[ \t]*)?", re.I | re.M
)
# "1. ", "2) " at the start of a line. A decimal such as "1.5 hours" has no space after the dot, so it never matches.
_NUMBERED = re.compile(r"^[ \t]*(\d+)[.)][ \t]+", re.M)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Lines that continue the previous line when a solution has one step per line (bullets, indented text).
_CONTINUATION = re.compile(r"^(?:[ \t]+\S|[-*\u2022+][ \t])")
# GSM8K's final-answer line ("#### 72") belongs to the last step rather than being a step of its own.
_FINAL_ANSWER = re.compile(r"^#{4}[ \t]*\S")


def strip_step_prefix(step: str) -> str:
    """Remove one leading `Step i:` prefix from a step, if present."""
    return _STEP_PREFIX.sub("", step.strip(), count=1).strip()


def _split_at(text: str, pattern: re.Pattern[str], *, strip_marker: bool) -> list[str]:
    starts = [m for m in pattern.finditer(text)]
    pieces: list[str] = []
    preamble = text[: starts[0].start()].strip()
    if preamble:
        pieces.append(preamble)
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        begin = match.end() if strip_marker else match.start()
        pieces.append(text[begin:end].strip())
    return [p for p in pieces if p]


def _is_sequence(matches: list[re.Match[str]]) -> bool:
    numbers = [int(m.group(1)) for m in matches]
    consecutive = all(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False))
    return len(numbers) >= 2 and numbers[0] in (0, 1) and consecutive


def _split_lines(text: str) -> list[str]:
    steps: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        if steps and (_CONTINUATION.match(line) or _FINAL_ANSWER.match(line.strip())):
            steps[-1] = f"{steps[-1]}\n{line.rstrip()}"
        else:
            steps.append(line.strip())
    return steps


def split_steps(text: str) -> list[str]:
    """Split a solution into steps, in order of preference:

    1. `Step i:` prefixes at line starts (the prefixes are stripped);
    2. a numbered list `1.` / `1)` counting up from 1 at line starts (numbers stripped; text before it is a step);
    3. paragraphs separated by blank lines;
    4. one step per line (bullets and indented lines join the line above, `#### answer` joins the last step).

    Text inside a step is kept verbatim, including GSM8K calculator annotations such as `<<2*6=12>>`.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return []
    prefixed = list(_STEP_PREFIX.finditer(text))
    if prefixed and (len(prefixed) >= 2 or prefixed[0].start() == 0):
        return _split_at(text, _STEP_PREFIX, strip_marker=True)
    numbered = list(_NUMBERED.finditer(text))
    if _is_sequence(numbered):
        return _split_at(text, _NUMBERED, strip_marker=True)
    paragraphs = [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]
    if len(paragraphs) > 1:
        return paragraphs
    return _split_lines(text)
