"""Find the equalities a step's text claims and judge each true, false or unknown with sympy."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from core.symbolic.text import Token, normalise, tokenise
from core.symbolic.units import strip_units, units_conflict
from core.symbolic.values import (
    Side,
    evaluate_side,
    format_value,
    judge,
    judge_approximation,
    linear_solution,
    value_letters,
)
from core.symbolic.words import remainder_claims

# Words that make a number next to them part of a larger quantity or a different operation.
_LEFT_GUARD = frozenset(
    "of times by plus minus mod modulo bmod pmod over divided multiplied half twice double triple thrice "
    "quarter third thirds fourth fifth tenth squared cubed root sqrt log ln sin cos tan exp percent "
    "from between to".split()
)
_RIGHT_GUARD = frozenset(
    "thousand thousands million millions billion billions trillion hundred hundreds dozen dozens k m b bn mn "
    "times squared cubed mod modulo pmod bmod remainder r rem with to or percent minus plus "
    "over divided multiplied".split()
)
_ARITH = frozenset({"num", "var", "op", "lp", "rp", "func", "const", "pct", "bang", "sep", "mix"})


@dataclass
class Claim:
    """One claimed equality `left = right` and what the checker made of it."""

    left: str
    right: str
    status: str  # "true", "false" or "unknown"
    value: str = ""  # the calculated side's value when the claim is false
    seconds: float = 0.0
    value_of: str = ""  # which side `value` belongs to, when not the left one ("5050 = 77 * 64 + 28")
    # an equation in one unknown: its sides' tokens, solved only when another equation follows it
    equation: tuple[tuple[Token, ...], tuple[Token, ...]] | None = field(default=None, repr=False, compare=False)
    contradicts: str = ""  # the earlier equation this one disagrees with
    approximate: bool = False  # claimed with '≈'

    def describe(self) -> str:
        if self.contradicts:
            return f"{self.left} = {self.right} contradicts {self.contradicts}"
        sign = "≈" if self.approximate else "="
        if self.status == "false":
            return f"{self.left} {sign} {self.right} is false ({self.value_of or self.left} = {self.value})"
        return f"{self.left} {sign} {self.right}"


def _run_bounds(tokens: Sequence[Token], start: int, step: int) -> int:
    """Index one past the end of the arithmetic run from `start` going in direction `step`."""
    index = start
    while 0 <= index < len(tokens) and tokens[index].kind in _ARITH:
        index += step
    return index


def _balanced(tokens: Sequence[Token]) -> bool:
    depth = 0
    for token in tokens:
        depth += token.kind == "lp"
        depth -= token.kind == "rp"
        if depth < 0:
            return False
    return depth == 0


def _left_run(tokens: Sequence[Token], eq: int) -> list[Token] | None:
    begin = _run_bounds(tokens, eq - 1, -1) + 1
    run = list(tokens[begin:eq])
    while run and run[0].kind == "lp" and not _balanced(run):
        run.pop(0)  # "(3 + 4 = 7)": the bracket opens around the claim
        begin += 1
    if not run or not _balanced(run) or run[0].kind == "sep":
        return None
    before = tokens[begin - 1] if begin > 0 else None
    first = run[0]
    if first.kind == "op" and first.text != "-":
        return None  # "apples × 4 = 12": the calculation started before the run
    if first.kind == "op" and len(run) > 1 and run[1].space_before and (before is None or before.kind == "break"):
        return None  # "- 3^2 = 9" is a list bullet, not a negative number
    if before is not None:
        if first.kind == "op" and before.kind not in {"eq", "approx", "break"}:
            return None  # "x - 3 = 4": a binary minus, not a negative number
        if before.kind in {"word", "cmd"} and (not first.space_before or before.kind == "cmd"):
            return None  # "f(5) = 6", "\log_2 8 = 3"
        if before.kind == "word" and before.text.lower() in _LEFT_GUARD:
            return None  # "half of 10 = 5", "3 times 4 = 12"
        if before.kind == "punct" and not first.space_before and before.text not in "([{":
            return None  # "3:4 = 0.75"
        if before.kind == "punct" and before.text in {"]", "|"}:
            return None  # "[a + b] 2 = ...": a bracketed factor precedes
    return run


def _right_run(tokens: Sequence[Token], eq: int) -> list[Token] | None:
    end = _run_bounds(tokens, eq + 1, 1)
    run = list(tokens[eq + 1 : end])
    while run and run[-1].kind == "rp" and not _balanced(run):
        run.pop()
        end -= 1
    if not run or not _balanced(run) or run[-1].kind in {"op", "sep", "lp"}:
        return None
    after = tokens[end] if end < len(tokens) else None
    if after is not None:
        if after.kind == "cmd" or (after.kind == "word" and not after.space_before):
            return None  # "= 3x", "= 5cm", "= 4 \pmod 5"
        if after.kind == "word" and after.text.lower() in _RIGHT_GUARD:
            return None  # "= 12 thousand", "= 3 remainder 2"
        if after.kind == "punct" and not after.space_before and after.text in {":", "/", "^", "_", "'", "|"}:
            return None
        if after.kind == "punct" and after.text in {"[", "|"}:
            return None  # "= \\frac{1}{2} [\\cos 60 + \\cos 40]": a bracketed factor follows
    if run[0].kind == "op" and run[0].text != "-":
        return None
    return run


def _question_sentence(tokens: Sequence[Token], eq: int) -> bool:
    """A claim inside a question ("Does 2 + 2 = 5?") or a hypothetical is not asserted."""
    for token in tokens[eq:]:
        if token.kind == "break" or (token.kind == "punct" and token.text in {".", "?"}):
            return token.text == "?"
    return False


def _run_on(left: Side, right_tokens: Sequence[Token]) -> bool:
    """'5 + 3 = 8 + 2 = 10': the right side continues from the left side's value."""
    if len(right_tokens) < 3 or right_tokens[0].kind != "num" or right_tokens[1].kind != "op":
        return False
    head = sympy.Rational(right_tokens[0].value)
    return any(not value.free_symbols and abs(float(sympy.N(value - head, 20))) < 1e-9 for value in left.values)


def find_claims(text: str) -> list[Claim]:
    """Every checkable equality claimed in a step's text, each judged true, false or unknown."""
    claims: list[Claim] = []
    if "=" not in text and "remainder" not in text and "approx" not in text and "≈" not in text:
        return claims  # fast path: most prose claims nothing
    body = text
    for match in _ANNOTATION.finditer(text):
        claims.append(_check_pair(match.group(1), match.group(2)))
    body = normalise(_QUOTED.sub(" ", _ANNOTATION.sub(" ", body)))
    for worded in remainder_claims(body):
        claims.append(Claim(worded.left, worded.right, "true" if worded.true else "false", worded.value))
    sentences: list[str] = []
    for sentence in _SENTENCE_END.split(body):
        if sentences and sentence.lstrip().startswith("="):
            sentences[-1] += " " + sentence  # "\\[ A \\] \\[ = B \\]": a display line continuing the chain
        else:
            sentences.append(sentence)
    for sentence in sentences:
        if _NOT_ASSERTED.search(sentence):
            continue  # a negated, hypothetical or quoted claim: the step does not assert it
        if "=" in sentence or "≈" in sentence:
            try:
                claims.extend(_sentence_claims(tokenise(sentence)))
            except Exception:  # noqa: BLE001 - text is data: an input we cannot handle is unchecked, never a crash
                continue
    if not _CASES.search(body):
        try:
            claims.extend(_contradictions(claims))
        except Exception:  # noqa: BLE001 - an equation we cannot solve is unchecked, never a crash
            pass
    return claims


# Sentences whose equalities the step does not assert: negated ("it is not true that 20 - 12 = 9"), hypothetical
# ("suppose 2 + 2 = 5; then ... a contradiction") or quoted as someone's mistake ("earlier I wrote 20 - 12 = 9, which
# is wrong"). Questions ("is 3 + 4 = 8?") are left out where the claims are read (_question_sentence).
_NOT_ASSERTED = re.compile(
    r"(?i)\b(?:it\s+is|it's|that\s+is|that's)\s+not\s+(?:true|the\s+case|correct|right)\b"
    r"|\bnot\s+true\s+that\b|\bit\s+is\s+false\s+that\b"
    r"|\b(?:suppose|supposing)\b|\bcontradict(?:ion|s)\b|\bfor\s+the\s+sake\s+of\s+argument\b"
    r"|\b(?:I|we|you|they|he|she)\s+(?:wrote|said|claimed|stated|had\s+written|mistakenly|incorrectly|wrongly)\b"
    r"|\b(?:which|that|this)\s+(?:is|was)\s+(?:wrong|incorrect|false|a\s+mistake|an\s+error|not\s+correct)\b"
)
# Text in quotation marks is cited, not claimed.
_QUOTED = re.compile(r"“[^”\n]*”|\"[^\"\n]*=[^\"\n]*\"")


# Words that put equations side by side rather than in one derivation: cases, trials, alternatives.
_CASES = re.compile(
    r"(?i)\b(?:cases?|if|or|either|suppose|assume|assuming|whether|try|trying|check|checking|test|testing|"
    r"otherwise|alternatively|instead|wait|incorrect|mistake|error|recheck|re-?evaluate|actually)\b|±|∓|≠"
)


def _contradictions(claims: Sequence[Claim]) -> list[Claim]:
    """An equation in one unknown ("16 + x = 27") and the next one in the same unknown ("x = 8") disagree.

    The earlier one must be a real equation, not an assignment ("x = 2", then "x = 3" lists candidates), and
    the solutions must differ by more than rounding ("n = 74/3", then "n = 24.67").
    """
    found: list[Claim] = []
    equations = [c for c in claims if c.equation is not None]
    solved: dict[int, tuple[str, sympy.Expr] | None] = {}

    def solve(claim: Claim) -> tuple[str, sympy.Expr] | None:
        if id(claim) not in solved:
            solved[id(claim)] = _solve(claim)
        return solved[id(claim)]

    for previous, claim in zip(equations, equations[1:], strict=False):
        if _ASSIGNMENT.match(previous.left) or _ASSIGNMENT.match(previous.right):
            continue
        if _unknown(previous) != _unknown(claim):
            continue
        first, second = solve(previous), solve(claim)
        if second is None:
            continue
        if first is None:
            # "3x^2 - x - 646 = 0", then "x = 15": a value must at least satisfy the equation it came from
            assignment = _ASSIGNMENT.match(claim.left) or _ASSIGNMENT.match(claim.right)
            written = not any(t.kind == "num" and "." in t.value for side in claim.equation or () for t in side)
            if assignment and written and _satisfies(previous, *second) is False:
                found.append(Claim(claim.left, claim.right, "false", contradicts=f"{previous.left} = {previous.right}"))
            continue
        name, value = first
        if abs(float(value - second[1])) > 0.01 * max(1.0, abs(float(value))):
            reason = f"{previous.left} = {previous.right} ({name} = {format_value(value)})"
            found.append(Claim(claim.left, claim.right, "false", contradicts=reason))
    return found


def _satisfies(equation: Claim, name: str, value: sympy.Expr) -> bool | None:
    """Whether `name = value` (an exact, written value) satisfies an equation in that unknown; None: cannot tell."""
    assert equation.equation is not None
    left, right = evaluate_side(equation.equation[0]), evaluate_side(equation.equation[1])
    if left is None or right is None or len(left.values) != 1 or len(right.values) != 1 or not value.is_Rational:
        return None
    point = {sympy.Symbol(name): value}
    try:
        lv = complex(sympy.N(left.values[0].xreplace(point), 30))
        rv = complex(sympy.N(right.values[0].xreplace(point), 30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if any(math.isnan(v.real) or math.isinf(v.real) for v in (lv, rv)) or lv.imag or rv.imag:
        return None
    return abs(lv - rv) <= 0.02 * max(abs(lv), abs(rv), 1.0)


def _unknown(claim: Claim) -> set[str]:
    assert claim.equation is not None
    return {t.text for side in claim.equation for t in side if t.kind == "var"}


def _solve(claim: Claim) -> tuple[str, sympy.Expr] | None:
    assert claim.equation is not None
    left, right = evaluate_side(claim.equation[0]), evaluate_side(claim.equation[1])
    return linear_solution(left, right) if left is not None and right is not None else None


def _joined(tokens: Sequence[Token]) -> str:
    return "".join((" " if t.space_before and i else "") + t.text for i, t in enumerate(tokens))


_ASSIGNMENT = re.compile(r"^\s*-?\s*[A-Za-z]\s*$")


# A claim never crosses a sentence end, a newline or ';': only sentences with '=' are tokenised.
_SENTENCE_END = re.compile(r"(?<=[.?])\s+|\n|;")


def _chain_lengths(tokens: Sequence[Token]) -> dict[int, int]:
    """For each '=' token, how many '=' its chain has ("a = b = c" has 2): links share arithmetic-only runs."""
    equals = [i for i, t in enumerate(tokens) if t.kind == "eq"]
    lengths: dict[int, int] = {}
    chain: list[int] = []
    for position, index in enumerate(equals):
        if chain and not all(t.kind in _ARITH for t in tokens[chain[-1] + 1 : index]):
            chain = []
        chain.append(index)
        if position == len(equals) - 1 or not all(t.kind in _ARITH for t in tokens[index + 1 : equals[position + 1]]):
            for member in chain:
                lengths[member] = len(chain)
    return lengths


def _sentence_claims(raw_tokens: list[Token]) -> list[Claim]:
    claims: list[Claim] = []
    stripped = strip_units(raw_tokens)
    tokens = stripped.tokens
    chains = _chain_lengths(tokens)
    for index, token in enumerate(tokens):
        if token.kind == "approx":
            claims.extend(_approximation(tokens, index))
        if token.kind != "eq":
            continue
        left_tokens, right_tokens = _left_run(tokens, index), _right_run(tokens, index)
        if left_tokens is None or right_tokens is None or _question_sentence(tokens, index):
            continue
        if units_conflict(stripped, index, len(left_tokens), len(right_tokens)):
            continue  # "1 hour + 30 minutes = 90 minutes": a conversion, not arithmetic
        identity = chains.get(index, 1) >= 2
        started = time.process_time()
        if not identity and any(t.kind == "var" for t in (*left_tokens, *right_tokens)):
            # an equation in unknowns: nothing to verify, but its solution must agree with the step's others
            if len({t.text for t in (*left_tokens, *right_tokens) if t.kind == "var"}) == 1:
                equation = (tuple(left_tokens), tuple(right_tokens))
                claims.append(Claim(_joined(left_tokens), _joined(right_tokens), "unknown", equation=equation))
            continue
        letters = value_letters(left_tokens, right_tokens)
        left, right = evaluate_side(left_tokens, letters), evaluate_side(right_tokens, letters)
        if left is None or right is None:
            continue
        status = judge(left, right, identity=identity)
        if (
            status == "unknown"
            and (left.lone_variable or right.lone_variable)
            and len(left.symbols | right.symbols) == 1
        ):
            # "x = 350 - 150 = 200": a chain that solves for its unknown
            claims.append(Claim(left.text, right.text, "unknown", equation=(tuple(left_tokens), tuple(right_tokens))))
            continue
        if status == "false" and _run_on(left, right_tokens):
            status = "unknown"
        claims.append(_judged(left, right, status, time.process_time() - started))
    return claims


def _judged(left: Side, right: Side, status: str, seconds: float, approximate: bool = False) -> Claim:
    """A judged claim; a false one shows the value of its calculated side (the right one for "5050 = 77 * 64")."""
    if status != "false":
        return Claim(left.text, right.text, status, "", seconds, approximate=approximate)
    shown = right if left.bare and not right.bare else left
    value_of = right.text if shown is right else ""
    value = format_value(shown.values[0])
    return Claim(left.text, right.text, status, value, seconds, value_of, approximate=approximate)


def _approximation(tokens: Sequence[Token], index: int) -> list[Claim]:
    """'a ≈ b' between two numbers: judged only for a gross miss ("5^8 ≈ 10^8"), never for rounding."""
    left_tokens, right_tokens = _left_run(tokens, index), _right_run(tokens, index)
    if left_tokens is None or right_tokens is None or _question_sentence(tokens, index):
        return []
    if any(t.kind == "var" for t in (*left_tokens, *right_tokens)):
        return []
    started = time.process_time()
    left, right = evaluate_side(left_tokens), evaluate_side(right_tokens)
    if left is None or right is None:
        return []
    status = judge_approximation(left, right)
    return [_judged(left, right, status, time.process_time() - started, approximate=True)]


_ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>=]{1,60})>>")


def _check_pair(left_text: str, right_text: str) -> Claim:
    """A GSM8K calculator annotation `<<a*b=c>>`: both sides are plain arithmetic by construction."""
    started = time.process_time()
    left_tokens, right_tokens = tokenise(normalise(left_text)), tokenise(normalise(right_text))
    if not all(t.kind in _ARITH for t in left_tokens + right_tokens):
        return Claim(left_text.strip(), right_text.strip(), "unknown")
    left, right = evaluate_side(left_tokens), evaluate_side(right_tokens)
    if left is None or right is None:
        return Claim(left_text.strip(), right_text.strip(), "unknown")
    status = "true" if judge(left, right) == "true" else "false"
    if left.bare and right.bare:
        status = "true" if left.values[0] == right.values[0] else "unknown"
    value = format_value(left.values[0]) if status == "false" else ""
    return Claim(left.text, right.text, status, value, time.process_time() - started)
