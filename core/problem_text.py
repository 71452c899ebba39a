"""A problem's normal form: the same problem written with other LaTeX spacing, delimiters or fraction macros matches."""

from __future__ import annotations

import re

# Macros that change only how a formula looks, never what it says.
_LAYOUT_MACROS = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|displaystyle|textstyle)(?![A-Za-z])"
)
_SPACING_MACROS = re.compile(r"\\(?:quad|qquad)(?![A-Za-z])|\\[,;:! ]|~")
_SAME_MACRO = {
    "dfrac": "\\frac",
    "tfrac": "\\frac",
    "le": "\\leq",
    "ge": "\\geq",
    "ne": "\\neq",
    "leqslant": "\\leq",
    "geqslant": "\\geq",
    "lbrace": "\\{",
    "rbrace": "\\}",
}
_MACRO = re.compile(r"\\([A-Za-z]+)")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textrm|textnormal|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")
_MATH_DELIMITERS = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]")
_SINGLE_BRACED = re.compile(r"([\^_])\{(\\?[A-Za-z0-9])\}")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z0-9]")


def _same_macro(match: re.Match[str]) -> str:
    return _SAME_MACRO.get(match.group(1), match.group(0))


def normal_problem_text(problem: str) -> str:
    """Lower case, LaTeX layout dropped: `\\left`/`\\right` and sized delimiters, `\\dfrac`/`\\tfrac` as `\\frac`,
    spacing macros, `\\text{...}` wrappers, `$$`/`\\(`/`\\[` as `$`, `x^{2}` as `x^2`, and whitespace kept only
    between two word characters (where it separates words or a macro from its argument)."""
    text = _MATH_DELIMITERS.sub("$", problem)
    text = _LAYOUT_MACROS.sub("", text)
    text = _SPACING_MACROS.sub(" ", text)
    text = _MACRO.sub(_same_macro, text)
    text = _TEXT_WRAPPER.sub(r"\1", text)
    text = _SPACES.sub(" ", text.lower()).strip()
    pieces = text.split(" ")
    joined = pieces[0] if pieces else ""
    for piece in pieces[1:]:
        between_words = joined and piece and _WORD.match(joined[-1]) and _WORD.match(piece[0])
        joined += (" " if between_words else "") + piece
    return _SINGLE_BRACED.sub(r"\1\2", joined)
