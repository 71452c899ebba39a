"""Final answers of solutions: pull the answer out of free text and compare two answers with math-verify."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from math_verify import parse, verify

from core.symbolic.text import closing_brace
from core.types import SolutionItem

_BOXED_OPENERS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*(.+?)(?:\n|$)", re.IGNORECASE)
_HASHES = re.compile(r"####\s*(.+?)\s*(?:\n|$)")
# "18 dollars", "42 apples per day": a number followed only by words is the number (GSM8K style).
_NUMBER_THEN_WORDS = re.compile(r"^\s*(-?[\d.,]*\d)\s+[A-Za-z][A-Za-z\s/.-]*$")
# "$18", "\$18": a currency sign in front of a number.
_CURRENCY = re.compile(r"^\s*\\?\$\s*(?=-?\d)")


def _boxed_contents(text: str) -> list[str]:
    """Every `\\boxed{...}` / `\\fbox{...}` body in order, braces balanced; an unclosed one is ignored."""
    found: list[tuple[int, str]] = []
    for opener in _BOXED_OPENERS:
        start = 0
        while True:
            pos = text.find(opener, start)
            if pos < 0:
                break
            start = pos + len(opener)
            cursor = start
            while cursor < len(text) and text[cursor] == " ":
                cursor += 1
            if cursor < len(text) and text[cursor] == "{":
                end = closing_brace(text, cursor)
                if end is not None:
                    found.append((pos, text[cursor + 1 : end]))
            elif opener == "\\boxed" and cursor > start:
                # "\boxed 5": the token after the space is the answer.
                token = re.match(r"[^\s$]+", text[cursor:])
                if token:
                    found.append((pos, token.group(0)))
    return [body for _, body in sorted(found)]


def _clean(answer: str) -> str:
    answer = answer.strip()
    # A trailing full stop or display-math delimiter belongs to the sentence, not the answer.
    answer = re.sub(r"(?:\\\]|\\\)|\$)+\s*$", "", answer).strip()
    answer = re.sub(r"^(?:\\\[|\\\(|\$(?!\d))+", "", answer).strip()
    answer = answer.rstrip(".").strip()
    return answer


def extract_final_answer(text: str | None) -> str | None:
    """The final answer stated in a solution or completion, or None when it states none.

    The last `\\boxed{}` wins; otherwise the last GSM8K-style `#### X`; otherwise the last
    "The answer is X". Never raises, whatever the text.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    boxed = [b for b in _boxed_contents(text) if b.strip()]
    if boxed:
        return _clean(boxed[-1]) or None
    hashes = _HASHES.findall(text)
    if hashes:
        return _clean(hashes[-1]) or None
    stated = _ANSWER_IS.findall(text)
    if stated:
        return _clean(stated[-1]) or None
    return None


def _normalise(answer: str) -> str:
    answer = _clean(answer)
    answer = _CURRENCY.sub("", answer)
    number = _NUMBER_THEN_WORDS.match(answer)
    if number:
        answer = number.group(1)
    return answer


def _parse_answer(answer: str, timeout: int | None) -> list:
    # Wrapping in \boxed makes math-verify read the whole string as one expression ("x=3", "(1,2)").
    if "\\boxed" in answer or "$" in answer:
        return parse(answer, parsing_timeout=timeout)
    return parse(f"\\boxed{{{answer}}}", parsing_timeout=timeout) or parse(answer, parsing_timeout=timeout)


def _plain(answer: str) -> str:
    return re.sub(r"\s+", "", answer).lower()


def answers_match(predicted: str | None, truth: str | None) -> bool:
    """Whether a predicted final answer equals the ground truth (math-verify, symbolic). Never raises."""
    if not isinstance(predicted, str) or not isinstance(truth, str):
        return False
    predicted_clean, truth_clean = _normalise(predicted), _normalise(truth)
    if not predicted_clean or not truth_clean:
        return False
    if _plain(predicted_clean) == _plain(truth_clean):
        return True
    # math-verify times out with SIGALRM, which only the main thread may use (the web app runs handlers in threads).
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        gold = _parse_answer(truth_clean, timeout)
        target = _parse_answer(predicted_clean, timeout)
        if not gold or not target:
            return False
        return bool(verify(gold, target, timeout_seconds=timeout))
    except Exception:  # math-verify/sympy on odd input: an unreadable answer is simply not a match
        return False


def known_answer(item: SolutionItem) -> str | None:
    """The item's ground-truth final answer when it is known, else None.

    An explicit `answer` field wins. ProcessBench items carry none, but `final_answer_correct: true`
    says the solution's own final answer is right, so that answer is the ground truth.
    """
    if item.answer and item.answer.strip():
        return item.answer.strip()
    if item.metadata.get("final_answer_correct") is True:
        for step in reversed(item.steps):
            answer = extract_final_answer(step)
            if answer is not None:
                return answer
    return None


def with_known_answers(items: Sequence[SolutionItem]) -> list[SolutionItem]:
    """Copies of the items with `answer` filled in wherever it can be known.

    Besides `known_answer`, a solution with a wrong final answer gets the answer of another solution
    of the same problem whose final answer is correct (ProcessBench has several solutions of some problems).
    """
    by_problem: dict[str, str] = {}
    for item in items:
        answer = known_answer(item)
        if answer is not None:
            by_problem.setdefault(item.problem.strip(), answer)
    filled = []
    for item in items:
        answer = known_answer(item) or by_problem.get(item.problem.strip())
        filled.append(item.model_copy(update={"answer": answer}) if answer != item.answer else item)
    return filled
