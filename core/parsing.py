"""Read a critic's raw output (DeepCritic format) into per-step verdicts and a first-error step; never raises.

Format expected (see docs/formats.md):

    **Critique of Step i**: <analysis> <re-verification>
    **Judgement**: The correctness of Step i is: \\boxed{1}     (or \\boxed{-1})
    ...
    **Answer**: \\boxed{k}

Split rule for `critique` vs `meta_critique` inside a step block: the meta-critique starts at an explicit label
(`Meta-critique:`, `Re-verification:`, `Verification:`, `Second look:`, `Double-check:`, `Reflection:`) or else
at the first sentence that opens with a re-verification cue ("Wait", "Let me double-check", "Let's verify",
"Alternatively", "On second thought", ...); the text before it is the critique. A cue at the very start of the
block does not split it. Without either, the whole block is the critique and the meta-critique is empty.

Two modes, one reading. `lenient` (for showing an output to a person) repairs what it can and lists each repair in
`problems`. `strict` (for rewards and evaluation) applies the format's own rules and counts anything lenient would
repair as failed: a `**Critique of Step i**:` block for every step 1..k in order (k = the answer, or every step when
it is -1), each non-empty and ending in `**Judgement**: The correctness of Step i
is: \\boxed{1|-1}` (-1 at k; 1 or -1 before k, where a -1 is the critic's doubt on a step before the one the
checker proved wrong; every step 1 when k is -1), then `**Answer**: \\boxed{k}` as the last line. A
`**Meta-critique**:` line inside a block is allowed. In either mode a `\\boxed{}` in text without step blocks is
never a first-error step: it is usually the math answer.
"""

from __future__ import annotations

import re
from typing import Literal

from core.types import NO_ERROR, ParsedCritique, ParsedStep, ParseStatus, Verdict

ParseMode = Literal["lenient", "strict"]
"""lenient: repair and list what was repaired (for people); strict: the format's own rules (for rewards, evaluation)."""

_HEADER = re.compile(
    r"^[ \t>#*_\-]*(?:critique|analysis|review|verification|evaluation)[ \t]+(?:of|for)[ \t]+"
    r"(?:step|paragraph)[ \t]*#?[ \t]*(-?\d+)[ \t]*[*_]*[ \t]*[:.\-]?[ \t]*[*_]*[ \t]*",
    re.I | re.M,
)
# Fallback when no "Critique of Step i" header exists: "**Step 2**:" / "Step 2:" at a line start.
_LOOSE_HEADER = re.compile(
    r"^[ \t>#*_\-]*(?:step|paragraph)[ \t]*(-?\d+)[ \t]*[*_]*[ \t]*[:.\-][ \t]*[*_]*[ \t]*", re.I | re.M
)
_JUDGEMENT = re.compile(
    r"^[ \t>#*_\-]*(?:judge?ment|verdict|conclusion)[ \t]*[*_]*[ \t]*:?[ \t]*[*_]*(?P<rest>[^\n]*)", re.I | re.M
)
_JUDGED_STEP = re.compile(r"(?:step|paragraph)[ \t]*(\d+)", re.I)
_ANSWER = re.compile(r"^[ \t>#*_\-]*(?:final[ \t]+)?answer[ \t]*[*_]*[ \t]*:?", re.I | re.M)
_NEGATIVE_WORDS = re.compile(r"\b(?:incorrect|wrong|not correct|erroneous|invalid|false)\b", re.I)
_POSITIVE_WORDS = re.compile(r"\b(?:correct|right|valid|true)\b", re.I)
_NO_ERROR_WORDS = re.compile(r"^(?:none|no error|no errors|no incorrect step|all correct|n/?a)$", re.I)
_META_LABEL = re.compile(
    r"(?:^|(?<=[.!?])[ \t]+|\n)[ \t*_]*(?:meta[- ]?critique|re-?verification|verification|second look|double[- ]check|"
    r"reflection)[ \t*_]*:[ \t]*(?:[*_]{1,2}(?=\s))?[ \t]*",
    re.I,
)
_META_CUE = re.compile(
    r"(?:^|(?<=[.!?:])\s+|\n\s*)(?=(?:wait\b|hold on\b|hmm\b|"
    r"let me (?:double[- ]?check|re-?verify|verify|re-?check|check|re-?examine|reconsider|re-?evaluate)|"
    r"let'?s (?:double[- ]?check|re-?verify|verify|re-?check|check again|re-?examine|reconsider|re-?evaluate)|"
    r"to (?:double[- ]?check|verify|re-?check)|double[- ]?checking|verifying|"
    r"re-?checking|checking again|alternatively|another way|on second thought|looking back|re-?examining|"
    r"as a (?:check|cross-check|sanity check)))",
    re.I,
)


# The exact lines of the format, for strict mode (the patterns above accept their variants).
_STRICT_HEADER = re.compile(r"^\*\*Critique of Step (\d+)\*\*:[ \t]*", re.M)
_STRICT_JUDGEMENT = re.compile(r"^\*\*Judgement\*\*: The correctness of Step (\d+) is: \\boxed\{(-?1)\}[ \t]*$", re.M)
_STRICT_ANSWER = re.compile(r"^\*\*Answer\*\*: \\boxed\{(-?\d+)\}[ \t]*$", re.M)


def boxed_values(text: str) -> list[str]:
    """Contents of every `\\boxed{...}` in order, with nested braces matched."""
    values: list[str] = []
    start = 0
    while (pos := text.find("\\boxed", start)) != -1:
        i = pos + len("\\boxed")
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text) or text[i] != "{":
            start = i
            continue
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        values.append(text[i + 1 : j])  # an unclosed box (truncated output) keeps what was written
        start = j + 1
    return values


def boxes_in(text: str) -> list[int | None]:
    """Every boxed value in `text` read as a step index (None where unreadable)."""
    return [boxed_step_index(b) for b in boxed_values(text)]


def boxed_step_index(content: str) -> int | None:
    """Read a boxed first-error value: `-1`, ` -1 `, `3`, `Step 3`, `\\text{Step 3}`, `none`; None if unreadable."""
    value = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", content)
    value = value.replace("$", "").replace("\\", "").strip().rstrip(".").strip()
    if _NO_ERROR_WORDS.match(value):
        return NO_ERROR
    match = re.fullmatch(r"(?:step|paragraph)?[ \t]*#?[ \t]*([+-]?)[ \t]*(\d+)", value, re.I)
    if not match:
        return None
    return -int(match.group(2)) if match.group(1) == "-" else int(match.group(2))


def _judgement_verdict(text: str) -> tuple[Verdict, ParseStatus]:
    boxes = [b for b in boxes_in(text) if b in (1, 0, -1)]
    if boxes:
        return ("correct" if boxes[-1] == 1 else "incorrect"), "ok"
    words = re.sub(r"correctness of", "", text, flags=re.I)
    if _NEGATIVE_WORDS.search(words):
        return "incorrect", "partial"
    if _POSITIVE_WORDS.search(words):
        return "correct", "partial"
    return "unchecked", "failed"


def split_meta_critique(body: str) -> tuple[str, str]:
    """Split one step's text into (critique, meta_critique) by the module's split rule."""
    body = body.strip()
    for pattern in (_META_LABEL, _META_CUE):
        for match in pattern.finditer(body):
            if body[: match.start()].strip():
                return body[: match.start()].strip(), body[match.end() :].strip()
    return body, ""


class _Block:
    def __init__(self, index: int, body: str) -> None:
        self.index = index
        self.status: ParseStatus = "ok"
        judgements = list(_JUDGEMENT.finditer(body))
        if judgements:
            text, verdict_text = body[: judgements[-1].start()], judgements[-1].group("rest")
            self.verdict, status = _judgement_verdict(verdict_text)
        else:
            text = body
            # No judgement line: a final boxed 1/-1 still says what the model decided.
            boxes = [b for b in boxes_in(body) if b in (1, -1)]
            if boxes:
                self.verdict, status = ("correct" if boxes[-1] == 1 else "incorrect"), "partial"
            else:
                self.verdict, status = "unchecked", "failed"
        self.status = status
        self.critique, self.meta_critique = split_meta_critique(text)


def _blocks(region: str) -> tuple[list[_Block], list[str]]:
    problems: list[str] = []
    # The format's own headers, where the text has them: a free-text line such as "Verification of step 2:" inside
    # a long critique is then not taken for a block of its own.
    headers = list(_STRICT_HEADER.finditer(region)) or list(_HEADER.finditer(region))
    if not headers:
        headers = list(_LOOSE_HEADER.finditer(region))
        if headers:
            problems.append("no 'Critique of Step i' headers; used 'Step i:' lines")
    if headers:
        return [
            _Block(int(h.group(1)), region[h.end() : headers[k + 1].start() if k + 1 < len(headers) else len(region)])
            for k, h in enumerate(headers)
        ], problems
    judgements = list(_JUDGEMENT.finditer(region))
    if not judgements:
        return [], problems
    problems.append("no step headers; split the text at judgement lines")
    blocks, start = [], 0
    for position, match in enumerate(judgements, start=1):
        named = _JUDGED_STEP.search(match.group("rest"))
        blocks.append(_Block(int(named.group(1)) if named else position, region[start : match.end()]))
        start = match.end()
    return blocks, problems


def _renumber(blocks: list[_Block], num_steps: int, problems: list[str]) -> list[_Block]:
    kept: list[_Block] = []
    seen: set[int] = set()
    for block in blocks:
        if block.index in seen:
            problems.append(f"duplicate block for Step {block.index} ignored")
            continue
        seen.add(block.index)
        kept.append(block)
    indices = [b.index for b in kept]
    in_order = all(b > a for a, b in zip(indices, indices[1:], strict=False))
    if kept and (not in_order or min(indices) < 1 or max(indices) > num_steps):
        problems.append(f"step numbering {indices} repaired by position")
        if len(kept) > num_steps:
            problems.append(f"{len(kept) - num_steps} block(s) beyond the {num_steps} steps ignored")
        kept = kept[:num_steps]
        for position, block in enumerate(kept, start=1):
            block.index = position
            block.status = "partial" if block.status == "ok" else block.status
    return kept


def _first_error_from_steps(blocks: list[_Block], num_steps: int) -> int | None:
    for block in blocks:
        if block.verdict == "incorrect":
            return block.index
        if block.verdict == "unchecked":
            return None
    covered = {b.index for b in blocks if b.verdict == "correct"}
    return NO_ERROR if covered >= set(range(1, num_steps + 1)) else None


def _doubt_before(blocks: list[_Block], answer: int) -> bool:
    """Whether an answer k agrees with judgements that put -1 on an earlier step too: every step up to k judged and
    k judged -1 (the critic's doubt on an earlier step, when the checker proved step k wrong, does not end it)."""
    if answer == NO_ERROR:
        return False
    verdicts = {b.index: b.verdict for b in blocks}
    return verdicts.get(answer) == "incorrect" and all(
        verdicts.get(i) in ("correct", "incorrect") for i in range(1, answer)
    )


def _unlabelled_answer(text: str, num_steps: int, problems: list[str]) -> tuple[int | None, int]:
    # A final box after the last judgement is taken as the answer. Without step blocks a box is never one: a critique
    # ending "the answer is \\boxed{2}" names the solution's result, not its second step.
    judgements = list(_JUDGEMENT.finditer(text))
    if not judgements:
        if boxed_values(text) and not (_HEADER.search(text) or _LOOSE_HEADER.search(text)):
            problems.append("a \\boxed{} outside step blocks is not read as the first-error step")
        problems.append("no '**Answer**: \\boxed{k}' found (output truncated or off-format)")
        return None, len(text)
    tail_start = judgements[-1].end()
    tail = text[tail_start:]
    values = [boxed_step_index(b) for b in boxed_values(tail)]
    if values and values[-1] is not None and (values[-1] == NO_ERROR or 1 <= values[-1] <= num_steps):
        problems.append("answer box has no '**Answer**:' label")
        return values[-1], tail_start + tail.find("\\boxed")
    problems.append("no '**Answer**: \\boxed{k}' found (output truncated or off-format)")
    return None, len(text)


def parse_critique(
    text: str, num_steps: int, mode: ParseMode = "lenient", *, all_steps: bool = False
) -> ParsedCritique:
    """Parse one model output for a solution of `num_steps` steps. Never raises; problems are listed.

    In strict mode any problem (a repair lenient mode made, or a break of the format's rules) leaves the output
    without a first-error step and `parse_status` "failed"; the steps keep what could be read, for inspection.
    `all_steps`: the critique judged every step (`critic eval --all-steps`), so its first error is its first -1
    judgement, whatever the answer line says.
    """
    try:
        text = text if isinstance(text, str) else str(text)
        num_steps = max(int(num_steps), 1)
        parsed = _parse(text, num_steps, all_steps=all_steps)
        if mode == "strict":
            return _strictly(parsed, num_steps, all_steps=all_steps)
        return parsed
    except Exception as exc:  # model output is data: a parser bug must not lose the rest of a batch
        return ParsedCritique(
            raw=str(text), steps=_unread_steps(num_steps), parse_status="failed", problems=[f"parser error: {exc!r}"]
        )


def _strictly(parsed: ParsedCritique, num_steps: int, *, all_steps: bool = False) -> ParsedCritique:
    problems = list(parsed.problems)
    if parsed.first_error_step is not None:
        problems.extend(_format_violations(parsed.raw, num_steps, parsed.first_error_step, all_steps=all_steps))
    if parsed.parse_status == "ok" and not problems:
        return parsed
    if parsed.first_error_step is None and not problems:
        problems.append("no first-error step could be read")
    return parsed.model_copy(update={"first_error_step": None, "parse_status": "failed", "problems": problems})


def _format_violations(text: str, num_steps: int, answer: int, *, all_steps: bool = False) -> list[str]:
    """What breaks the format's own rules in an output whose lenient reading has answer `answer` (`all_steps`:
    every step is judged, and the answer line's value is not read)."""
    problems: list[str] = []
    answers = list(_STRICT_ANSWER.finditer(text))
    if len(answers) != 1:
        return ["not exactly one '**Answer**: \\boxed{k}' line"]
    if text[answers[0].end() :].strip():
        problems.append("text after the '**Answer**:' line")
    last = num_steps if all_steps or answer == NO_ERROR else answer
    region = text[: answers[0].start()]
    headers = list(_STRICT_HEADER.finditer(region))
    if [int(h.group(1)) for h in headers] != list(range(1, last + 1)):
        found = [int(h.group(1)) for h in headers]
        problems.append(f"'**Critique of Step i**:' blocks are {found}, not steps 1..{last} in order")
        return problems
    if len(list(_HEADER.finditer(region))) != len(headers):
        problems.append("a step header is not written as '**Critique of Step i**:'")
    preamble = region[: headers[0].start()] if headers else region
    if "\\boxed" in preamble:
        problems.append("a box before the first step block")
    for k, header in enumerate(headers):
        index = k + 1
        body = region[header.end() : headers[k + 1].start() if k + 1 < len(headers) else len(region)]
        judgements = list(_STRICT_JUDGEMENT.finditer(body))
        if len(judgements) != 1:
            problems.append(f"Step {index}: not exactly one '**Judgement**: The correctness of Step {index} is: ' line")
            continue
        judgement = judgements[0]
        if int(judgement.group(1)) != index:
            problems.append(f"Step {index}: its judgement names Step {judgement.group(1)}")
        if body[judgement.end() :].strip():
            problems.append(f"Step {index}: text after its judgement")
        critique, _meta = split_meta_critique(body[: judgement.start()])
        if not critique:
            problems.append(f"Step {index}: no critique before its judgement")
        # Before the answer's step a -1 is the critic's doubt (allowed: the answer is a later, proven step); the
        # answer's step is -1; with answer -1 every step is 1.
        if index == answer and judgement.group(2) != "-1":
            problems.append(f"Step {index}: judged {judgement.group(2)} but the answer {answer} needs -1")
        elif answer == NO_ERROR and judgement.group(2) != "1":
            problems.append(f"Step {index}: judged {judgement.group(2)} but the answer -1 needs 1")
    return problems


def _unread_steps(num_steps: int) -> list[ParsedStep]:
    return [ParsedStep(index=i, parse_status="failed") for i in range(1, max(int(num_steps), 0) + 1)]


def _parse(text: str, num_steps: int, *, all_steps: bool = False) -> ParsedCritique:
    problems: list[str] = []
    if not text.strip():
        return ParsedCritique(
            raw=text, steps=_unread_steps(num_steps), parse_status="failed", problems=["empty output"]
        )
    answer_value: int | None = None
    region_end = len(text)
    answers = [m for m in _ANSWER.finditer(text) if boxed_values(text[m.end() : m.end() + 300].split("\n\n")[0])]
    if answers:
        region_end = answers[-1].start()
        raw_answer = boxed_values(text[answers[-1].end() :])[0]
        answer_value = boxed_step_index(raw_answer)
        if answer_value is None:
            problems.append(f"answer \\boxed{{{raw_answer}}} is not a step number")
        elif answer_value != NO_ERROR and not 1 <= answer_value <= num_steps:
            problems.append(f"answer {answer_value} is outside steps 1..{num_steps} (or -1)")
            answer_value = None
    else:
        answer_value, region_end = _unlabelled_answer(text, num_steps, problems)

    blocks, block_problems = _blocks(text[:region_end])
    problems.extend(block_problems)
    blocks = _renumber(blocks, num_steps, problems)
    for block in blocks:
        if block.status == "failed":
            problems.append(f"Step {block.index}: no judgement")
    from_steps = _first_error_from_steps(blocks, num_steps)

    if all_steps and from_steps is not None:
        # Judging every step, a model may box -1 after a -1 judgement (its answer line is not tied to the
        # judgements: a grammar that ties them grows with the square of the steps); the judgements are the critique.
        first_error = from_steps
    elif answer_value is not None:
        first_error = answer_value
        if from_steps is not None and from_steps != answer_value and not _doubt_before(blocks, answer_value):
            problems.append(f"answer {answer_value} disagrees with the step judgements ({from_steps})")
    else:
        first_error = from_steps
        if first_error is not None:
            problems.append(f"first error {first_error} taken from the step judgements")

    if not blocks:
        problems.append("no per-step critiques")
    by_index = {b.index: b for b in blocks}
    reviewed_up_to = num_steps if all_steps or first_error in (None, NO_ERROR) else first_error
    steps: list[ParsedStep] = []
    for index in range(1, num_steps + 1):
        block = by_index.get(index)
        if block is not None:
            steps.append(
                ParsedStep(
                    index=index,
                    verdict=block.verdict,
                    critique=block.critique,
                    meta_critique=block.meta_critique,
                    parse_status=block.status,
                )
            )
        else:
            steps.append(ParsedStep(index=index, parse_status="failed" if index <= reviewed_up_to else "ok"))

    if first_error is None:
        status: ParseStatus = "failed"
    elif problems or any(s.parse_status != "ok" for s in steps[:reviewed_up_to]):
        status = "partial"
    else:
        status = "ok"
    return ParsedCritique(raw=text, steps=steps, first_error_step=first_error, parse_status=status, problems=problems)


def parse_step_critique(text: str, index: int, mode: ParseMode = "lenient") -> ParsedStep:
    """Parse one per-step critique (deliberate mode): its judgement, analysis and meta-critique. Never raises.

    Strict mode needs a non-empty critique ending in `**Judgement**: The correctness of Step {index} is:
    \\boxed{1|-1}`; anything else leaves the step unchecked and failed.
    """
    try:
        text = text if isinstance(text, str) else str(text)
        body = _HEADER.sub("", text.strip(), count=1)
        block = _Block(index, body)
        step = ParsedStep(
            index=index,
            verdict=block.verdict,
            critique=block.critique,
            meta_critique=block.meta_critique,
            parse_status=block.status,
        )
        if mode == "strict":
            judgements = list(_STRICT_JUDGEMENT.finditer(body))
            readable = (
                len(judgements) == 1
                and int(judgements[0].group(1)) == index
                and not body[judgements[0].end() :].strip()
                and bool(step.critique)
            )
            if not readable:
                return step.model_copy(update={"verdict": "unchecked", "parse_status": "failed"})
        return step
    except Exception:  # model output is data
        return ParsedStep(index=index, critique=str(text), parse_status="failed")


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")


def repeats_a_sentence(text: str) -> bool:
    """Whether any sentence of the text occurs twice (case and spacing aside): the mark of a looping model."""
    seen: set[str] = set()
    for sentence in _SENTENCE_SPLIT.split(text):
        key = " ".join(sentence.lower().split())
        if len(key) < 8:  # "Yes." twice is not a loop
            continue
        if key in seen:
            return True
        seen.add(key)
    return False
