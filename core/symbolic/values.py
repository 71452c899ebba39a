"""Evaluate one side of a claimed equality with sympy under every plausible reading, and judge a claim."""

from __future__ import annotations

import ast
import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import sympy

from core.symbolic.text import TRIG, Token

EXPRESSION_TIMEOUT_S = 0.5
"""Wall-clock limit for evaluating one expression (enforced on the main thread; static guards apply everywhere)."""

_MAX_EXPONENT = 400
_MAX_FACTORIAL = 300
_MAX_READINGS = 16
_MAX_TRIG = 12


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


@dataclass(frozen=True)
class Side:
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
    """Source variants: percent as /100 or plain, '!' as factorial or punctuation, pi exact or 3.14 or 22/7,
    angles in degrees or radians."""
    options: list[list[str]] = []
    trigonometric = any(t.kind == "func" and t.text in TRIG for t in tokens)
    for token in tokens:
        if token.kind == "pct":
            options.append(["*_pct", ""])
        elif token.kind == "bang":
            options.append(["_fact", ""])
        elif token.kind == "const":
            options.append(["pi"] if trigonometric else ["pi", "_pi314", "_pi227"])
        elif token.kind == "mix":
            options.append(["+", "*"])
        elif token.kind == "var":
            options.append([f"_v_{token.text}"])
        elif token.kind == "func" and token.text in TRIG:
            options.append([f"_trig_{token.text}"])
        else:
            options.append([token.code])
    variants = []
    for combo in product(*options):
        variants.append(list(combo))
        if len(variants) >= _MAX_READINGS:
            break
    if trigonometric:
        # degrees ("\\sin 30 = 1/2", the ^\\circ dropped) or radians ("\\sin(\\pi/6)"), one unit for the whole side
        units = ("_rad_",) if any(t.kind == "const" for t in tokens) else ("_deg_", "_rad_")
        variants = [[code.replace("_trig_", unit) for code in variant] for unit in units for variant in variants]
    return variants


def _with_implicit_multiplication(
    parts: list[str], tokens: Sequence[Token], value_letters: frozenset[str] = frozenset()
) -> str | None:
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
                if previous.text not in value_letters:
                    return None  # "f(x)" or "x(x+1)": a function or a product, cannot tell
                # "x(x - 1)" where the claim also has "x^3" or "2x": x is a number, so this is a product
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


_TRIG_FUNCS = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
}
_ALLOWED_FUNCS = {"sqrt", "root", "binomial", "factorial", "floor", "ceiling", "log"}


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
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id[5:] in TRIG:
        (argument,) = (_to_sympy(arg, numbers) for arg in node.args)
        if not argument.is_number or abs(float(argument)) > 1e6:
            raise ValueError("trigonometric argument")
        angle = argument * sympy.pi / 180 if node.func.id.startswith("_deg_") else argument
        # numerically, to 40 digits: exact values (sin 21°) are slow to build and to compare; _close allows 1e-12
        value = _TRIG_FUNCS[node.func.id[5:]](sympy.N(angle, 40))
        if not value.is_real or abs(value) > 1e15:
            raise ValueError("undefined")  # tan 90°, sec 90°
        return value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ALLOWED_FUNCS:
        args = [_to_sympy(arg, numbers) for arg in node.args]
        name = node.func.id
        if name == "sqrt" and len(args) == 1:
            return sympy.sqrt(args[0])
        if name == "root" and len(args) == 2 and args[1].is_Integer and 1 < args[1] <= 20:
            return sympy.root(args[0], args[1])
        if name == "factorial" and len(args) == 1 and args[0].is_Integer and 0 <= args[0] <= _MAX_FACTORIAL:
            return sympy.factorial(args[0])
        if name == "log" and len(args) == 2 and all(a.is_number and a > 0 for a in args) and args[1] != 1:
            return sympy.log(args[0], args[1])
        if name in {"floor", "ceiling"} and len(args) == 1 and args[0].is_number:
            return sympy.floor(args[0]) if name == "floor" else sympy.ceiling(args[0])
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


def evaluate_side(tokens: Sequence[Token], value_letters: frozenset[str] = frozenset()) -> Side | None:
    """Evaluate one side under every reading; None when no reading can be evaluated.

    `value_letters`: unknowns the claim also uses as plain values, so "x(x - 1)" multiplies (see `value_letters`).
    """
    if sum(t.kind == "func" and t.text in TRIG for t in tokens) > _MAX_TRIG:
        return None  # each exact trigonometric value is costly: a static bound, besides the timer
    numbers: list[tuple[str, str]] = []
    coded: list[Token] = []
    slack = 0.0
    for token in tokens:
        if token.kind == "num":
            name = f"_n{len(numbers)}"
            numbers.append((name, token.value))
            places = _decimal_places(token.value)
            if places >= 2:
                # "0.33", "3.14", "33.33": likely rounded from an earlier result; "0.5", "12.5" are taken as exact
                magnitude = abs(float(token.value))
                slack += 0.5 * 10.0**-places / magnitude if magnitude else 0.0
            coded.append(Token("num", token.text, token.space_before, code=name, value=token.value))
        else:
            coded.append(token)
    if any(t.kind == "const" for t in tokens):
        slack += 1e-3  # pi rounded to 3.142 or similar
    if any(t.kind == "func" and t.text in {"floor", "ceiling"} for t in tokens):
        slack = 0.0  # an integer-valued side: rounded inputs move it by a whole step or not at all
    values: list[sympy.Expr] = []
    for parts in _readings(coded):
        code = _with_implicit_multiplication(parts, coded, value_letters)
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
    return Side(text, tuple(values), bare, places, slack, symbols, lone)


def value_letters(*runs: Sequence[Token]) -> frozenset[str]:
    """Letters used as plain values somewhere in a claim ("x^3", "2x", "x + 1"), not only before "(" as in f(x)."""
    letters = set()
    for run in runs:
        for index, token in enumerate(run):
            following = run[index + 1] if index + 1 < len(run) else None
            called = following is not None and following.kind == "lp" and not following.space_before
            if token.kind == "var" and not called:
                letters.add(token.text)
    return frozenset(letters)


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


def judge(left: Side, right: Side, identity: bool = False) -> str:
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


def _last_place(side: Side) -> float | None:
    """The size of the last significant written digit of a lone number: 79.6 -> 0.1, 300 -> 100, 80 -> 10."""
    if not side.bare or side.places is None:
        return None
    (value,) = side.values[:1]
    if side.places:
        return 10.0**-side.places
    digits = str(abs(int(value))) if value.is_Integer else ""
    zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
    return 10.0**zeros


def judge_approximation(left: Side, right: Side) -> str:
    """'a ≈ b': false only when no reading is near. A written number may be off by one in its last significant
    digit ("79.6", "300") or by 1%; between two calculations ("5^8 ≈ 10^8") a factor of 1.5 is allowed."""
    if left.symbols or right.symbols:
        return "unknown"
    if left.bare and right.bare:
        return "unknown"
    slack = left.input_slack + right.input_slack
    places = [p for p in (_last_place(left), _last_place(right)) if p is not None]
    for lv, rv in product(left.values, right.values):
        try:
            a, b = float(sympy.N(lv, 20)), float(sympy.N(rv, 20))
        except (TypeError, ValueError):
            return "unknown"
        gap, magnitude = abs(a - b), max(abs(a), abs(b))
        if places:
            # the last written digit may be rounded, truncated or a little off: people approximate loosely
            if gap <= max(places[0] * (1 + 1e-9), 0.01 * magnitude) + slack * magnitude:
                return "true"
        elif a * b > 0 and max(abs(a), abs(b)) <= 1.5 * min(abs(a), abs(b)) * (1 + slack):
            return "true"
    return "false"


def format_value(value: sympy.Expr) -> str:
    if value.free_symbols:
        return str(sympy.expand(value)).replace("**", "^")
    if value.is_Integer:
        return str(value)
    if value.is_Rational and value.q in {2, 4, 5, 8, 10, 20, 25, 50, 100}:
        return str(float(value))
    number = float(sympy.N(value, 15))
    return f"{value} ≈ {number:.6g}" if not math.isnan(number) else str(value)


def linear_solution(left: Side, right: Side) -> tuple[str, sympy.Expr] | None:
    """The only solution of `left = right` when it is linear in a single unknown ("16 + x = 27" -> ("x", 11))."""
    symbols = left.symbols | right.symbols
    if len(symbols) != 1 or len(left.values) != 1 or len(right.values) != 1:
        return None
    (symbol,) = symbols
    difference = left.values[0] - right.values[0]
    # linear exactly when it is a straight line through four exact rational points (cheaper than sympy.diff)
    points = _PROBES[0]
    values = [difference.xreplace({symbol: point}) for point in points]
    if not all(value.is_Rational for value in values):
        return None
    slope = (values[1] - values[0]) / (points[1] - points[0])
    if slope == 0 or any(values[0] + slope * (p - points[0]) != v for p, v in zip(points[2:], values[2:], strict=True)):
        return None
    return str(symbol), points[0] - values[0] / slope
