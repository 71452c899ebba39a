"""Symbolic step checker: find the calculations a step claims and verify each with sympy.

A step is "wrong" only when a claimed equality is definitely false under every plausible reading
(rounding, percentages, pi approximations, run-on chains); "verified" when at least one claim was
checked and none failed; otherwise "unchecked". Anything that cannot be read is never an accusation.
"""

from __future__ import annotations

import ast
import math
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

import sympy

from core.symbolic_text import Token, normalise, tokenise
from core.types import NO_ERROR, CritiqueResult, StepCheck

EXPRESSION_TIMEOUT_S = 0.5
"""Wall-clock limit for evaluating one expression (enforced on the main thread; static guards apply everywhere)."""

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
_MAX_EXPONENT = 400
_MAX_FACTORIAL = 300
_MAX_READINGS = 16


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a runaway sympy evaluation; SIGALRM exists only on the main thread, elsewhere static guards hold."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Claim:
    """One claimed equality `left = right` and what the checker made of it."""

    left: str
    right: str
    status: str  # "true", "false" or "unknown"
    value: str = ""  # the left side's value when the claim is false
    seconds: float = 0.0

    def describe(self) -> str:
        if self.status == "false":
            return f"{self.left} = {self.right} is false ({self.left} = {self.value})"
        return f"{self.left} = {self.right}"


@dataclass
class SolutionCheck:
    """The checker's view of a whole solution."""

    steps: list[StepCheck]
    first_error_step: int = NO_ERROR
    final_answer_correct: bool | None = None
    claims: list[list[Claim]] = field(default_factory=list)


# ---------------------------------------------------------------- evaluation of one side


@dataclass(frozen=True)
class _Side:
    """One side of a claim: tokens, the alternative values it can mean, and how precise its inputs are."""

    text: str
    values: tuple[sympy.Expr, ...]
    bare: bool  # a single number (maybe signed / percent): no calculation on this side
    places: int | None  # decimal places when the side is one written number
    input_slack: float  # relative error the side's rounded decimal inputs could carry
    symbols: frozenset[sympy.Symbol] = frozenset()
    lone_variable: bool = False  # "x" or "-x": a definition or a solution, never an identity


def _decimal_places(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _readings(tokens: Sequence[Token]) -> list[list[str]]:
    """Source variants: percent as /100 or plain, '!' as factorial or punctuation, pi exact or 3.14 or 22/7."""
    options: list[list[str]] = []
    for token in tokens:
        if token.kind == "pct":
            options.append(["*_pct", ""])
        elif token.kind == "bang":
            options.append(["_fact", ""])
        elif token.kind == "const":
            options.append(["pi", "_pi314", "_pi227"])
        elif token.kind == "mix":
            options.append(["+", "*"])
        elif token.kind == "var":
            options.append([f"_v_{token.text}"])
        else:
            options.append([token.code])
    variants = []
    for combo in product(*options):
        variants.append(list(combo))
        if len(variants) >= _MAX_READINGS:
            break
    return variants


def _with_implicit_multiplication(parts: list[str], tokens: Sequence[Token]) -> str | None:
    """Join code parts, inserting '*' where juxtaposition means multiplication; None for '3 4' (two bare numbers)."""
    out: list[str] = []
    previous: Token | None = None
    exponent_groups: list[bool] = []  # for each open '(': does it open an exponent ("^(")?
    closed_exponent = False
    for code, token in zip(parts, tokens, strict=True):
        if previous is not None:
            if previous.kind == "rp" and closed_exponent and token.kind == "lp" and not token.space_before:
                return None  # "f^(-1)(x)", "f^2(x)": function notation
            left_value = previous.kind in {"num", "rp", "const", "pct", "bang", "var"}
            right_value = token.kind in {"num", "lp", "func", "const", "var"}
            if previous.kind == "var" and token.kind == "lp" and not token.space_before:
                return None  # "f(x)" or "x(x+1)": a function or a product, cannot tell
            if previous.kind == "var" and token.kind == "num":
                return None
            if left_value and right_value and "var" in (previous.kind, token.kind):
                out.append("*")
            elif left_value and right_value:
                # "2(3)", "2 \\pi", "3\\sqrt{2}" multiply; "441 (-20)", "47! 5!", "3 4" are two separate things
                spaced_ok = token.kind in {"func", "const"} or previous.kind == "const"
                if previous.kind in {"num", "pct", "bang"} and token.kind == "num":
                    return None
                if token.space_before and not spaced_ok:
                    return None
                if previous.kind in {"pct", "bang"}:
                    return None
                out.append("*")
        if token.kind == "bang" and code == "_fact":
            # factorial applies to the preceding number or parenthesised group
            if not out:
                return None
            operand = _pop_operand(out)
            if operand is None:
                return None
            out.append(f"factorial({operand})")
        elif code:
            out.append(code)
        if token.kind == "lp":
            exponent_groups.append(previous is not None and previous.kind == "op" and previous.text == "^")
        elif token.kind == "rp":
            closed_exponent = exponent_groups.pop() if exponent_groups else False
        previous = token
    return "".join(out)


def _pop_operand(out: list[str]) -> str | None:
    if out[-1] != ")":
        return out.pop()
    depth = 0
    for index in range(len(out) - 1, -1, -1):
        depth += out[index] == ")"
        depth -= out[index] == "("
        if depth == 0:
            operand = "".join(out[index:])
            del out[index:]
            return operand
    return None


_ALLOWED_FUNCS = {"sqrt", "root", "binomial", "factorial"}


def _to_sympy(node: ast.AST, numbers: dict[str, sympy.Rational]) -> sympy.Expr:
    """Build a sympy expression from a whitelisted Python AST, refusing anything that could explode."""
    if isinstance(node, ast.Expression):
        return _to_sympy(node.body, numbers)
    if isinstance(node, ast.Name):
        if node.id in numbers:
            return numbers[node.id]
        constants = {"pi": sympy.pi, "_pi314": sympy.Rational(314, 100), "_pi227": sympy.Rational(22, 7)}
        if node.id in constants:
            return constants[node.id]
        if node.id == "_pct":
            return sympy.Rational(1, 100)
        if node.id.startswith("_v_"):
            return sympy.Symbol(node.id[3:])
        raise ValueError(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _to_sympy(node.operand, numbers)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _to_sympy(node.left, numbers), _to_sympy(node.right, numbers)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ZeroDivisionError
            return left / right
        if isinstance(node.op, ast.BitXor | ast.Pow):
            if not right.is_number or abs(float(right)) > _MAX_EXPONENT:
                raise ValueError("exponent too large")
            if left.is_number and abs(float(left)) > 1e12 and abs(float(right)) > 4:
                raise ValueError("power too large")
            if left == 0 and float(right) < 0:
                raise ZeroDivisionError
            return left**right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ALLOWED_FUNCS:
        args = [_to_sympy(arg, numbers) for arg in node.args]
        name = node.func.id
        if name == "sqrt" and len(args) == 1:
            return sympy.sqrt(args[0])
        if name == "root" and len(args) == 2 and args[1].is_Integer and 1 < args[1] <= 20:
            return sympy.root(args[0], args[1])
        if name == "factorial" and len(args) == 1 and args[0].is_Integer and 0 <= args[0] <= _MAX_FACTORIAL:
            return sympy.factorial(args[0])
        if name == "binomial" and len(args) == 2 and all(a.is_Integer and 0 <= a <= 10_000 for a in args):
            return sympy.binomial(args[0], args[1])
    raise ValueError(ast.dump(node)[:60])


@lru_cache(maxsize=65536)
def _evaluate(code: str, number_table: tuple[tuple[str, str], ...]) -> sympy.Expr | None:
    numbers = {name: sympy.Rational(text) for name, text in number_table}
    try:
        tree = ast.parse(code, mode="eval")
        with _time_limit(EXPRESSION_TIMEOUT_S):
            value = _to_sympy(tree, numbers)
            if value.has(sympy.zoo, sympy.nan, sympy.I, sympy.oo, -sympy.oo):
                return None
            if value.free_symbols:
                return value  # an expression in unknowns: only checked as an identity inside a chain
            if not value.is_number:
                return None
            if value.is_real is False:
                return None
            return value
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError, _Timeout):
        return None


def _side(tokens: Sequence[Token]) -> _Side | None:
    """Evaluate one side under every reading; None when no reading can be evaluated."""
    numbers: list[tuple[str, str]] = []
    coded: list[Token] = []
    slack = 0.0
    for token in tokens:
        if token.kind == "num":
            name = f"_n{len(numbers)}"
            numbers.append((name, token.value))
            places = _decimal_places(token.value)
            if places:
                magnitude = abs(float(token.value))
                slack += 10.0**-places / magnitude if magnitude else 0.0
            coded.append(Token("num", token.text, token.space_before, code=name, value=token.value))
        else:
            coded.append(token)
    if any(t.kind == "const" for t in tokens):
        slack += 1e-3  # pi rounded to 3.142 or similar
    values: list[sympy.Expr] = []
    for parts in _readings(coded):
        code = _with_implicit_multiplication(parts, coded)
        if code is None:
            continue
        value = _evaluate(code, tuple(numbers))
        if value is None:
            return None  # a plausible reading we cannot evaluate: nothing definite can be said
        if value not in values:
            values.append(value)
    if not values:
        return None
    calculating = [t for t in tokens if t.kind not in {"num", "pct"} and not (t.kind == "op" and t.text == "-")]
    bare = sum(t.kind == "num" for t in tokens) == 1 and not calculating
    places = None
    if bare:
        number = next(t for t in tokens if t.kind == "num")
        places = _decimal_places(number.value) + (2 if any(t.kind == "pct" for t in tokens) else 0)
    text = "".join((" " if t.space_before and i else "") + t.text for i, t in enumerate(tokens))
    symbols = frozenset().union(*(v.free_symbols for v in values))
    lone = [t.kind for t in tokens if not (t.kind == "op" and t.text == "-")] == ["var"]
    return _Side(text, tuple(values), bare, places, slack, symbols, lone)


def _close(left: sympy.Expr, right: sympy.Expr, right_places: int | None, slack: float) -> bool:
    """Whether `right` is `left` exactly, rounded/truncated to its written decimal places, or within input slack."""
    difference = left - right
    if difference == 0:
        return True
    if left.is_Rational and right.is_Rational:
        gap = abs(float(difference))
        magnitude = max(abs(float(left)), abs(float(right)))
    else:
        gap = abs(float(sympy.N(difference, 30)))
        if gap < 1e-12 * max(1.0, abs(float(sympy.N(left, 20)))):
            return True
        magnitude = max(abs(float(sympy.N(left, 20))), abs(float(sympy.N(right, 20))))
    allowed = slack * magnitude
    if right_places is not None and gap < allowed + 10.0**-right_places * (1 - 1e-9):
        return True  # rounded or truncated to the written places (the boundary itself is a real difference)
    return gap <= allowed * (1 + 1e-9)


_PROBES = (
    (sympy.Rational(3, 7), sympy.Rational(11, 5), sympy.Rational(17, 3), sympy.Rational(5, 13)),
    (sympy.Rational(13, 4), sympy.Rational(2, 9), sympy.Rational(7, 6), sympy.Rational(19, 8)),
    (sympy.Rational(5, 2), sympy.Rational(23, 7), sympy.Rational(4, 15), sympy.Rational(9, 5)),
)


def _same_function(left: sympy.Expr, right: sympy.Expr, slack: float) -> bool | None:
    """Whether two expressions in unknowns agree at a few exact rational points (None: could not evaluate)."""
    symbols = sorted(left.free_symbols | right.free_symbols, key=str)
    if len(symbols) > 4:
        return None
    agreed = 0
    for probe in _PROBES:
        point = dict(zip(symbols, probe, strict=False))
        try:
            lv, rv = complex(sympy.N(left.xreplace(point), 30)), complex(sympy.N(right.xreplace(point), 30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if any(map(math.isnan, (lv.real, rv.real))) or any(map(math.isinf, (lv.real, rv.real))):
            continue
        scale = max(abs(lv), abs(rv), 1e-12)
        if abs(lv - rv) > scale * (1e-9 + 2 * slack):
            return False
        agreed += 1
    return True if agreed >= 2 else None


def _judge(left: _Side, right: _Side, identity: bool = False) -> str:
    """'true' if some reading makes the sides agree, 'false' if none does, 'unknown' when nothing is claimed.

    Sides with unknowns are compared only when `identity` (a chain of equalities rewriting one expression,
    "A = B = C") and neither side is a lone variable; otherwise they are equations, not claims.
    """
    if left.symbols or right.symbols:
        if not identity or left.symbols != right.symbols or left.lone_variable or right.lone_variable:
            return "unknown"  # "36a = 4b = 4c", "c + d = c + (c + 4)": relations and substitutions, not rewrites
        verdicts = [
            _same_function(lv, rv, left.input_slack + right.input_slack)
            for lv, rv in product(left.values, right.values)
        ]
        if any(v is True for v in verdicts):
            return "true"
        return "false" if verdicts and all(v is False for v in verdicts) else "unknown"
    if left.bare and right.bare:
        return "unknown"  # "1 hour = 60 minutes", "20% = $10": conversions and restatements, not calculations
    slack = left.input_slack + right.input_slack
    for lv, rv in product(left.values, right.values):
        if _close(lv, rv, right.places, slack) or _close(rv, lv, left.places, slack):
            return "true"
    return "false"


# ---------------------------------------------------------------- finding claims


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
    if run[0].kind == "op" and run[0].text != "-":
        return None
    return run


def _question_sentence(tokens: Sequence[Token], eq: int) -> bool:
    """A claim inside a question ("Does 2 + 2 = 5?") or a hypothetical is not asserted."""
    for token in tokens[eq:]:
        if token.kind == "break" or (token.kind == "punct" and token.text in {".", "?"}):
            return token.text == "?"
    return False


def _run_on(left: _Side, right_tokens: Sequence[Token]) -> bool:
    """'5 + 3 = 8 + 2 = 10': the right side continues from the left side's value."""
    if len(right_tokens) < 3 or right_tokens[0].kind != "num" or right_tokens[1].kind != "op":
        return False
    head = sympy.Rational(right_tokens[0].value)
    return any(not value.free_symbols and abs(float(sympy.N(value - head, 20))) < 1e-9 for value in left.values)


def find_claims(text: str) -> list[Claim]:
    """Every checkable equality claimed in a step's text, each judged true, false or unknown."""
    claims: list[Claim] = []
    if "=" not in text:
        return claims  # fast path: most prose claims nothing
    body = text
    for match in _ANNOTATION.finditer(text):
        claims.append(_check_pair(match.group(1), match.group(2)))
    body = _ANNOTATION.sub(" ", body)
    sentences: list[str] = []
    for sentence in _SENTENCE_END.split(normalise(body)):
        if sentences and sentence.lstrip().startswith("="):
            sentences[-1] += " " + sentence  # "\\[ A \\] \\[ = B \\]": a display line continuing the chain
        else:
            sentences.append(sentence)
    for sentence in sentences:
        if "=" in sentence:
            try:
                claims.extend(_sentence_claims(tokenise(sentence)))
            except Exception:  # noqa: BLE001 - text is data: an input we cannot handle is unchecked, never a crash
                continue
    return claims


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


def _sentence_claims(tokens: list[Token]) -> list[Claim]:
    claims: list[Claim] = []
    chains = _chain_lengths(tokens)
    for index, token in enumerate(tokens):
        if token.kind != "eq":
            continue
        left_tokens, right_tokens = _left_run(tokens, index), _right_run(tokens, index)
        if left_tokens is None or right_tokens is None or _question_sentence(tokens, index):
            continue
        identity = chains.get(index, 1) >= 2
        if not identity and any(t.kind == "var" for t in (*left_tokens, *right_tokens)):
            continue  # an equation in unknowns: nothing to verify
        started = time.perf_counter()
        left, right = _side(left_tokens), _side(right_tokens)
        if left is None or right is None:
            continue
        status = _judge(left, right, identity=identity)
        if status == "false" and _run_on(left, right_tokens):
            status = "unknown"
        value = _format_value(left.values[0]) if status == "false" else ""
        claims.append(Claim(left.text, right.text, status, value, time.perf_counter() - started))
    return claims


_ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>=]{1,60})>>")


def _check_pair(left_text: str, right_text: str) -> Claim:
    """A GSM8K calculator annotation `<<a*b=c>>`: both sides are plain arithmetic by construction."""
    started = time.perf_counter()
    left_tokens, right_tokens = tokenise(normalise(left_text)), tokenise(normalise(right_text))
    if not all(t.kind in _ARITH for t in left_tokens + right_tokens):
        return Claim(left_text.strip(), right_text.strip(), "unknown")
    left, right = _side(left_tokens), _side(right_tokens)
    if left is None or right is None:
        return Claim(left_text.strip(), right_text.strip(), "unknown")
    status = "true" if _judge(left, right) == "true" else "false"
    if left.bare and right.bare:
        status = "true" if left.values[0] == right.values[0] else "unknown"
    value = _format_value(left.values[0]) if status == "false" else ""
    return Claim(left.text, right.text, status, value, time.perf_counter() - started)


def _format_value(value: sympy.Expr) -> str:
    if value.free_symbols:
        return str(sympy.expand(value)).replace("**", "^")
    if value.is_Integer:
        return str(value)
    if value.is_Rational and value.q in {2, 4, 5, 8, 10, 20, 25, 50, 100}:
        return str(float(value))
    number = float(sympy.N(value, 15))
    return f"{value} ≈ {number:.6g}" if not math.isnan(number) else str(value)


# ---------------------------------------------------------------- public API


def check_step(text: str) -> StepCheck:
    """The checker's verdict on one step: wrong (a claim is definitely false), verified, or unchecked."""
    return step_check_from_claims(find_claims(text))


def step_check_from_claims(claims: Sequence[Claim]) -> StepCheck:
    false = [c for c in claims if c.status == "false"]
    true = [c for c in claims if c.status == "true"]
    if false:
        return StepCheck(status="wrong", detail="; ".join(c.describe() for c in false))
    if true:
        return StepCheck(status="verified", detail="; ".join(c.describe() for c in true))
    return StepCheck(status="unchecked", detail="")


def check_solution(steps: Sequence[str], answer: str | None = None) -> SolutionCheck:
    """Check every step; the first wrong step (1-based) or -1; the final answer against `answer` when known."""
    claims = [find_claims(step) for step in steps]
    checks = [step_check_from_claims(c) for c in claims]
    first_error = next((i for i, c in enumerate(checks, start=1) if c.status == "wrong"), NO_ERROR)
    final_correct = None
    if answer is not None and steps:
        from core.answers import answers_match, extract_final_answer

        stated = extract_final_answer("\n".join(steps))
        final_correct = answers_match(stated, answer) if stated is not None else None
    return SolutionCheck(checks, first_error, final_correct, claims)


def with_checks(result: CritiqueResult, answer: str | None = None) -> CritiqueResult:
    """A copy of a critique result whose steps carry the checker's view (`StepResult.check`), for badges."""
    checked = check_solution([step.text for step in result.steps], answer)
    steps = [step.model_copy(update={"check": check}) for step, check in zip(result.steps, checked.steps, strict=True)]
    return result.model_copy(update={"steps": steps})
