"""Strip units and labels off a claim's numbers ("$194/meter × 490 meters", "15 (light blue) + 45") for checking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.symbolic.text import Token

# Words after a number that change its value or end the quantity: never a unit.
_NOT_UNITS = frozenset(
    "thousand thousands million millions billion billions trillion hundred hundreds dozen dozens k m b bn mn "
    "times squared cubed mod modulo pmod bmod remainder r rem with to or and percent minus plus over divided "
    "multiplied half twice double triple thrice quarter quarters third thirds fourth fifth tenth tenths "
    "of is are was were be so then which that this it we he she they in on at from by than more less fewer "
    "if when since because as not no all left each per".split()
)
_VALUES = frozenset({"num", "lp", "func", "const"})
_MAX_UNIT_WORDS = 3


@dataclass(frozen=True)
class Stripped:
    """A sentence's tokens with units and labels removed, and the unit each remaining number carried."""

    tokens: list[Token]
    units: dict[int, str]  # index in `tokens` of a number -> its unit words ("minute", "cookie/day")


def _is_unit_word(token: Token) -> bool:
    return token.kind == "word" and token.text.lower() not in _NOT_UNITS and token.text.isalpha()


def _singular(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _label_end(tokens: Sequence[Token], start: int) -> int | None:
    """End of a parenthesised label "(first day)", "(\\text{infections per person})" at `start`, or None."""
    if start >= len(tokens) or tokens[start].kind != "lp":
        return None
    has_word = False
    for index in range(start + 1, min(len(tokens), start + 12)):
        token = tokens[index]
        if token.kind == "rp":
            return index + 1 if has_word else None
        if token.kind == "word" and len(token.text) > 1:
            has_word = True
        elif token.kind not in {"word", "var"} and not (token.kind == "punct" and token.text in {"'", ",", "-"}):
            return None  # a number, operator or bracket inside: a calculation, not a label
    return None


def _unit_end(tokens: Sequence[Token], start: int) -> tuple[int, list[str]]:
    """End of the unit words after a number ("eggs/person/day", "more people") and the words themselves."""
    index, words = start, []
    if index < len(tokens) and not tokens[index].space_before and tokens[index].kind == "word":
        return index, words  # "3ab", "6kx", "5cm": a product or a unit glued on, not read
    while index < len(tokens) and _is_unit_word(tokens[index]) and len(words) < _MAX_UNIT_WORDS:
        words.append(_singular(tokens[index].text))
        index += 1
    # rates: "/meter", "/person/day" (a '/' followed by a word divides by a unit, not by a number)
    while index + 1 < len(tokens) and tokens[index].text == "/" and _is_unit_word(tokens[index + 1]):
        words.append("/" + _singular(tokens[index + 1].text))
        index += 2
    return index, words


def strip_units(tokens: Sequence[Token]) -> Stripped:
    """Drop unit words and parenthesised labels between a number and the operator or '=' that follows it.

    Only when an operator or '=' follows (so prose after a result is left alone) and, for an operator, a value
    follows it; a word that changes the number ("3 dozen", "5 times") stops the stripping.
    """
    out: list[Token] = []
    units: dict[int, str] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        out.append(token)
        index += 1
        if token.kind not in {"num", "pct"}:
            continue
        end, words = _unit_end(tokens, index)
        label_end = _label_end(tokens, end)
        if label_end is not None:
            end = label_end
        if end == index or end >= len(tokens):
            continue
        following = tokens[end]
        if following.kind == "op" and following.text in "+-*/":
            if end + 1 >= len(tokens) or tokens[end + 1].kind not in _VALUES:
                continue
        elif following.kind != "eq":
            continue
        if words:
            units[len(out) - 1] = " ".join(words)
        index = end
    return Stripped(out, units)


def units_conflict(stripped: Stripped, eq: int, left_length: int, right_length: int) -> bool:
    """Whether the claim around tokens[eq] converts or mixes units, which the checker cannot read.

    A sum over different units ("1 hour + 30 minutes = 90 minutes") and a lone quantity with a unit on the
    left ("2 hours = 2 * 60", a label such as "cost of 5 apples = ...") are not arithmetic; products may mix
    units ("2 hours * 60 minutes/hour = 120 minutes").
    """
    begin, end = eq - left_length, eq + 1 + right_length
    named_left = [stripped.units[i] for i in range(begin, eq) if i in stripped.units]
    named_right = [stripped.units[i] for i in range(eq + 1, end) if i in stripped.units]
    if not named_left and not named_right:
        return False
    after = stripped.tokens[end] if end < len(stripped.tokens) else None
    result_unit = None
    if after is not None and after.kind == "word" and after.space_before and after.text.isalpha():
        result_unit = _singular(after.text)
        result_unit = None if result_unit in _NOT_UNITS else result_unit
    heads = {unit.split()[0] for unit in named_left + named_right}
    run = stripped.tokens[begin:end]
    if any(t.kind == "op" and t.text in "+-" for t in run):
        if len(heads) > 1 or (result_unit is not None and result_unit not in heads):
            return True
    # "2 hours = 2 * 60", "savings after 20 years = 20,000/year * 20": a quantity or a label, not a calculation
    return left_length == 1 and bool(named_left)
