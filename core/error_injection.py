"""AutoMathCritique-style error injection: one step of a correct solution changed detectably, the first error known.

A step's arithmetic chain (`12 \\times 3 = 36`, `9 + 14 + 11 = 34`) is changed in one of five ways. Four keep the
step's own arithmetic true, so only a reader who follows the problem sees the mistake (the symbolic checker cannot
prove it): a swapped operation, a wrong quantity taken from the problem, a dropped term, a unit slip (a conversion
factor confused with another). The fifth, an arithmetic slip, writes a wrong result the checker can prove. The
changed result is carried through the later steps (their chains recomputed, the final answer rewritten), as the
solver would have continued, so the injected step is the first and only place the solution goes wrong.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from core.symbolic import check_solution
from core.types import NO_ERROR

InjectionKind = Literal["swapped_operation", "wrong_quantity", "dropped_term", "unit_slip", "arithmetic_slip"]
UNPROVABLE_KINDS: tuple[InjectionKind, ...] = ("swapped_operation", "wrong_quantity", "dropped_term", "unit_slip")
"""Kinds whose changed step is still arithmetically true: only reading the problem shows the error."""
INJECTION_KINDS: tuple[InjectionKind, ...] = (*UNPROVABLE_KINDS, "arithmetic_slip")

_NUMBER = r"\d+(?:\.\d+)?"
_OPERATOR = r"\\times|\\cdot|\\div|[+\-*/×÷x]"
# `a op b (op c)* = r`: plain numbers only (a number with a label in parentheses or a variable is left alone).
_CHAIN = re.compile(
    rf"(?<![\w.])(?P<lhs>{_NUMBER}(?:\s*(?:{_OPERATOR})\s*{_NUMBER})+)\s*=\s*\$?(?P<rhs>{_NUMBER})(?![\w.]|\.\d)"
)
_TOKEN = re.compile(rf"{_NUMBER}|{_OPERATOR}")
_OP_VALUE = {"\\times": "*", "\\cdot": "*", "×": "*", "x": "*", "*": "*", "\\div": "/", "÷": "/", "/": "/"}
_OP_VALUE.update({"+": "+", "-": "-"})
_SWAPS = {"+": ["-", "*"], "-": ["+"], "*": ["+", "/"], "/": ["*", "-"]}
_WRITTEN = {"+": "+", "-": "-", "*": "\\times", "/": "\\div"}
# Conversion factors and the one a hurried solver confuses each with.
_CONFUSED_FACTOR = {"60": "100", "100": "1000", "1000": "100", "24": "12", "365": "360"}


@dataclass(frozen=True)
class Injection:
    """An erroneous copy of a correct solution: its steps, the first wrong step (1-based) and what was changed."""

    steps: tuple[str, ...]
    first_error_step: int
    kind: InjectionKind
    detail: str


@dataclass(frozen=True)
class _Chain:
    """One true chain in a step: its tokens as written (with their spans in the step) and its result's span."""

    step: int
    tokens: list[tuple[str, int, int]]  # numbers and operators, alternating, as written
    result: str
    result_span: tuple[int, int]

    @property
    def numbers(self) -> list[str]:
        return [t for t, _, _ in self.tokens[0::2]]

    @property
    def operators(self) -> list[str]:
        return [_OP_VALUE[t] for t, _, _ in self.tokens[1::2]]

    @property
    def style(self) -> dict[str, str]:
        """How this solver writes each operation (`\\times`, `x` or `*` for a product)."""
        written = dict(_WRITTEN)
        for token, _, _ in self.tokens[1::2]:
            written[_OP_VALUE[token]] = token
        return written


def _format(value: Fraction) -> str | None:
    """A value as a solver would write it: an integer, or a decimal with at most two places; None otherwise."""
    if value.denominator == 1:
        return str(value.numerator)
    if (value * 100).denominator == 1:
        return f"{float(value):.2f}".rstrip("0").rstrip(".")
    return None


def _evaluate(numbers: Sequence[str], operators: Sequence[str]) -> Fraction | None:
    """The chain's value with the usual precedence (* and / before + and -); None on a division by zero."""
    terms: list[Fraction] = [Fraction(numbers[0])]
    signs: list[str] = []
    for op, number in zip(operators, numbers[1:], strict=True):
        value = Fraction(number)
        if op in "*/":
            if op == "/" and value == 0:
                return None
            terms[-1] = terms[-1] * value if op == "*" else terms[-1] / value
        else:
            signs.append(op)
            terms.append(value)
    total = terms[0]
    for sign, term in zip(signs, terms[1:], strict=True):
        total = total + term if sign == "+" else total - term
    return total


def _writable(value: Fraction | None) -> str | None:
    return _format(value) if value is not None and value >= 0 else None


def find_chains(steps: Sequence[str]) -> list[_Chain]:
    """Every arithmetic chain `a op b ... = r` that is true as written, with its step index (0-based) and spans."""
    chains = []
    for index, step in enumerate(steps):
        for match in _CHAIN.finditer(step):
            offset = match.start("lhs")
            tokens = [(m.group(0), offset + m.start(), offset + m.end()) for m in _TOKEN.finditer(match.group("lhs"))]
            if len(tokens) % 2 == 0:
                continue
            chain = _Chain(index, tokens, match.group("rhs"), match.span("rhs"))
            if _evaluate(chain.numbers, chain.operators) == Fraction(chain.result):
                chains.append(chain)
    return chains


def _rewrite(text: str, chain: _Chain, tokens: Sequence[tuple[str, int, int]], result: str) -> str:
    """The step with the chain's tokens and result replaced; spacing, `$` and words kept as written.

    `tokens` are the chain's tokens with their original spans (a changed one carries the span of the one it
    replaces); two tokens that were neighbours keep the text between them, others are joined by a space.
    """
    starts = [start for _, start, _ in chain.tokens]
    lhs = ""
    previous: int | None = None
    for word, start, _ in tokens:
        position = starts.index(start)
        if previous is not None:
            lhs += text[chain.tokens[previous][2] : start] if position == previous + 1 else " "
        lhs += word
        previous = position
    head, middle = text[: chain.tokens[0][1]], text[chain.tokens[-1][2] : chain.result_span[0]]
    return head + lhs + middle + result + text[chain.result_span[1] :]


def _replace_number(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w]|\.\d)", new, text)


def _carry(steps: list[str], after: int, old: str, new: str) -> list[str] | None:
    """The later steps as the solver would have written them with `new` in place of `old`: the number replaced and
    every chain recomputed, its changed result carried on in turn. None when a recomputed value is not writable."""
    changes = {old: new}
    out = list(steps)
    for index in range(after + 1, len(out)):
        text = out[index]
        chains = find_chains([text])
        rewritten = text
        for chain in reversed(chains):  # right to left: earlier spans stay valid
            numbers = [changes.get(n, n) for n in chain.numbers]
            if numbers == chain.numbers:
                continue
            written = _writable(_evaluate(numbers, chain.operators))
            if written is None:
                return None
            tokens = [
                (numbers[i // 2] if i % 2 == 0 else word, start, end)
                for i, (word, start, end) in enumerate(chain.tokens)
            ]
            rewritten = _rewrite(rewritten, chain, tokens, written)
            if written != chain.result:
                changes[chain.result] = written
        # Numbers outside the chains (a result restated, the final answer) follow the changes.
        protected = [(c.tokens[0][1], c.result_span[1]) for c in find_chains([rewritten])]
        pieces, last = [], 0
        for start, end in protected:
            pieces.append(_replace_all(rewritten[last:start], changes))
            pieces.append(rewritten[start:end])
            last = end
        pieces.append(_replace_all(rewritten[last:], changes))
        out[index] = "".join(pieces)
    return out


def _replace_all(text: str, changes: dict[str, str]) -> str:
    for before, after in changes.items():
        text = _replace_number(text, before, after)
    return text


def _candidates(kind: InjectionKind, chain: _Chain, problem_numbers: Sequence[str]) -> list:
    """(tokens, detail) for each way `kind` can change the chain (tokens with their original spans)."""
    tokens = list(chain.tokens)
    numbers, operators = chain.numbers, chain.operators
    options: list[tuple[list, str]] = []
    if kind == "swapped_operation":
        for i, op in enumerate(operators):
            for new_op in _SWAPS[op]:
                changed = [*tokens[: 2 * i + 1], _as(tokens[2 * i + 1], chain.style[new_op]), *tokens[2 * i + 2 :]]
                options.append((changed, f"operation {op} replaced by {new_op}"))
    elif kind == "wrong_quantity":
        for i, number in enumerate(numbers):
            if number in problem_numbers:
                for other in problem_numbers:
                    if other != number:
                        changed = [*tokens[: 2 * i], _as(tokens[2 * i], other), *tokens[2 * i + 1 :]]
                        options.append((changed, f"{other} from the problem used instead of {number}"))
    elif kind == "dropped_term":
        if len(numbers) >= 3:
            for i in range(1, len(numbers)):
                if operators[i - 1] in "+-" and (i == len(numbers) - 1 or operators[i] in "+-"):
                    changed = [*tokens[: 2 * i - 1], *tokens[2 * i + 1 :]]
                    options.append((changed, f"the term {numbers[i]} dropped"))
    elif kind == "unit_slip":
        for i, number in enumerate(numbers):
            if number in _CONFUSED_FACTOR and (
                (i > 0 and operators[i - 1] in "*/") or (i == 0 and operators and operators[0] == "*")
            ):
                changed = [*tokens[: 2 * i], _as(tokens[2 * i], _CONFUSED_FACTOR[number]), *tokens[2 * i + 1 :]]
                options.append((changed, f"conversion factor {number} taken as {_CONFUSED_FACTOR[number]}"))
    return options


def _as(token: tuple[str, int, int], word: str) -> tuple[str, int, int]:
    """`word` in the place of `token`."""
    return (word, token[1], token[2])


def _value_of(tokens: Sequence[tuple[str, int, int]]) -> Fraction | None:
    words = [t[0] for t in tokens]
    return _evaluate(words[0::2], [_OP_VALUE[w] for w in words[1::2]])


def problem_numbers(problem: str) -> list[str]:
    """The plain numbers a problem states, in order, each once."""
    seen: list[str] = []
    for number in re.findall(rf"(?<![\w.]){_NUMBER}(?![\w])", problem):
        if number not in seen:
            seen.append(number)
    return seen


def inject_error(problem: str, steps: Sequence[str], kind: InjectionKind, rng: random.Random) -> Injection | None:
    """An erroneous copy of a correct solution with one step changed by `kind`; None when no step allows it.

    The changed value must be writable (an integer or two decimals, not negative) and differ from the original, and
    every later step must be recomputable with it.
    """
    quantities = problem_numbers(problem)
    chains = find_chains(steps)
    rng.shuffle(chains)
    for chain in chains:
        text = steps[chain.step]
        if kind == "arithmetic_slip":
            value = Fraction(chain.result)
            wrongs = [_writable(w) for w in (value + 1, value - 1, value + 10, value * 10, value + 2)]
            options = [(list(chain.tokens), w, f"result written as {w} instead of {chain.result}") for w in wrongs]
        else:
            options = [
                (tokens, _writable(_value_of(tokens)), detail)
                for tokens, detail in _candidates(kind, chain, quantities)
            ]
        rng.shuffle(options)
        for tokens, written, detail in options:
            if written is None or written == chain.result:
                continue
            changed = _rewrite(text, chain, tokens, written)
            # The same result restated later in this step ("so she has 36 left") follows the change.
            cut = len(changed) - (len(text) - chain.result_span[1])
            changed = changed[:cut] + _replace_number(changed[cut:], chain.result, written)
            carried = _carry(
                [*steps[: chain.step], changed, *steps[chain.step + 1 :]], chain.step, chain.result, written
            )
            if carried is not None and _checker_agrees(carried, kind, chain.step + 1):
                return Injection(tuple(carried), chain.step + 1, kind, detail)
    return None


def _checker_agrees(steps: Sequence[str], kind: InjectionKind, first_error: int) -> bool:
    """The symbolic checker proves an arithmetic slip at its step and finds nothing wrong in the other kinds: so a
    later step the carrying missed (a chain written in a way it cannot read) never becomes the first error."""
    found = check_solution(list(steps), None).first_error_step
    return found == (first_error if kind == "arithmetic_slip" else NO_ERROR)
