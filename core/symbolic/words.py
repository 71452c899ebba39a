"""Calculations the symbolic checker reads from words: division with remainder ("706 ÷ 7 = 101 remainder 1")."""

from __future__ import annotations

import re
from dataclasses import dataclass

# On normalised text (÷ is '/', \mathrm{R} is 'R', \( \) are ';'). The dividend must not continue an expression
# ("2 * 1121 / 243"), the quotient must be a whole number ("= 4.6 remainder" is not a division with remainder).
_REMAINDER = re.compile(
    r"(?<![\d.^*/)+\-])(?<![\d.^*/)+\-] )(\d+)\s*(?:/|divided\s+by)\s*(\d+)[\s;]*(?:=|is|gives|equals)[\s;]*"
    r"(\d+)(?!\.?\d)[\s;,]*(?:with\s+)?(?:a\s+)?(?:remainder|R|rem|r)(?:\s+of)?[\s;]*(\d+)(?!\.?\d)"
)


@dataclass(frozen=True)
class WordedClaim:
    """A calculation stated in words, judged exactly."""

    left: str
    right: str
    true: bool
    value: str  # what the left side really is


def remainder_claims(text: str) -> list[WordedClaim]:
    """Each "a / b = q remainder r" in normalised text: true when a = b·q + r with 0 <= r < b."""
    if "rem" not in text and "R" not in text and " r" not in text:
        return []
    claims = []
    for match in _REMAINDER.finditer(text):
        dividend, divisor, quotient, remainder = (int(g) for g in match.groups())
        if divisor == 0:
            continue
        true = dividend == divisor * quotient + remainder and 0 <= remainder < divisor
        value = f"{dividend // divisor} remainder {dividend % divisor}"
        claims.append(WordedClaim(f"{dividend} / {divisor}", f"{quotient} remainder {remainder}", true, value))
    return claims
