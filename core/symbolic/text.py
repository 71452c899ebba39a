"""Turn a step's mixed prose/LaTeX into plain arithmetic tokens for the symbolic checker (core/symbolic/)."""

from __future__ import annotations

import re
from typing import NamedTuple


class Token(NamedTuple):
    """One token of normalised step text.

    kind: num, var (a one-letter unknown), op, lp, rp, func, const, pct, bang, sep (function-argument
    separator), eq, approx, break (ends any claim: newline, ';', inequalities, implications), word,
    cmd (an unknown LaTeX command: a function the checker does not model), punct.
    """

    kind: str
    text: str
    space_before: bool
    code: str = ""
    value: str = ""


# LaTeX commands rewritten to arithmetic or to a claim boundary; anything else becomes an opaque `cmd`.
_SIMPLE = {
    "times": " * ",
    "cdot": " * ",
    "ast": " * ",
    "div": " / ",
    "pi": " pi ",
    "%": "%",
    "approx": " ≈ ",
    "sim": " ≈ ",
    "simeq": " ≈ ",
    "thickapprox": " ≈ ",
    "cong": " ≈ ",
    "doteq": " ≈ ",
    "mod": " mod ",
    "bmod": " mod ",
    "pmod": " mod ",
    "cdots": " ; ",
    "ldots": " ; ",
    "dots": " ; ",
    "vdots": " ; ",
    "quad": " ",
    "qquad": " ",
    "displaystyle": " ",
    "textstyle": " ",
    "limits": " ",
    "degree": " ",
    "lfloor": " floor(",
    "rfloor": ")",
    "lceil": " ceiling(",
    "rceil": ")",
}
_BREAKS = (
    "neq ne leq le geq ge lt gt leqslant geqslant Rightarrow Leftarrow rightarrow leftarrow implies impliedby "
    "iff to Longrightarrow longrightarrow Leftrightarrow equiv mapsto therefore because in notin subset "
    "subseteq cup cap land lor"
).split()
_UNWRAP = {"text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "mbox", "boxed", "fbox", "emph", "bf"}
_FRACTIONS = {"frac", "dfrac", "tfrac", "cfrac"}
_BINOMIALS = {"binom", "dbinom", "tbinom"}
_BULLET = re.compile(r"^[ \t]*[-*\u2022][ \t]+", re.M)
_SIZING = re.compile(r"\\(?:left|right|bigg|Bigg|big|Big)[lr]?(?![A-Za-z])")
_UNICODE = str.maketrans(
    {
        "×": " * ",
        "·": " * ",
        "⋅": " * ",
        "∗": " * ",
        "÷": " / ",
        "−": "-",
        "π": " pi ",
        "≈": " ≈ ",
        "≃": " ≈ ",
        "≅": " ≈ ",
        "∼": " ≈ ",
        "≠": " ; ",
        "≤": " ; ",
        "≥": " ; ",
        "→": " ; ",
        "⇒": " ; ",
        "⟹": " ; ",
        "≡": " ; ",
        "±": " \\pm ",
        "∓": " \\mp ",
        "…": " ; ",
        "°": " ",
        "√": "\\sqrt",
        "⌊": " floor(",
        "⌋": ")",
        "⌈": " ceiling(",
        "⌉": ")",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def _group(text: str, index: int) -> tuple[str, int]:
    """The next argument at `index`: a balanced {group} or a single character; (content, index after it)."""
    while index < len(text) and text[index] == " ":
        index += 1
    if index >= len(text):
        return "", index
    if text[index] != "{":
        if text[index] == "\\":
            match = re.match(r"\\[A-Za-z]+", text[index:])
            if match:
                return match.group(0), index + match.end()
        return text[index], index + 1
    end = closing_brace(text, index)
    if end is None:
        return text[index + 1 :], len(text)
    return text[index + 1 : end], end + 1


def closing_brace(text: str, index: int) -> int | None:
    """The index of the `}` that closes the `{` at `index`; None when the text ends first."""
    depth = 0
    for end in range(index, len(text)):
        if text[end] == "{":
            depth += 1
        elif text[end] == "}":
            depth -= 1
            if depth == 0:
                return end
    return None


TRIG = frozenset({"sin", "cos", "tan", "cot", "sec", "csc"})
# "\sin 30", "\cos^2 45", "\tan(60)": a number must end the argument ("\sin 2x" is sin(2x), not read)
_TRIG_NUMBER = re.compile(
    r"\s*(?:\^\s*\{?\s*(\d)\s*\}?)?\s*(\d+(?:\.\d+)?)(?=\s*(?:[=+\-)\],;.]|\\(?:cdot|times|sin|cos|tan|cot|sec|csc|quad|right|\]|\))|$))"
)
_TRIG_POWER = re.compile(r"\s*\^\s*\{?\s*(\d)\s*\}?")
_TRIG_GROUP = re.compile(r"(?:[\d\s.+\-*/()]|\\pi|\\frac|\\dfrac|[{}])+")


_CONTINUES = re.compile(r"\s*&?\s*(?:=|\\approx)")
_LOG_BASE = re.compile(r"_\s*(?:\{\s*(\d+)\s*\}|(\d))")


def _log_call(text: str, index: int, depth: int) -> tuple[str, int] | None:
    """ "\\log_5 49", "\\log_{10}(1000)" as log((49)#(5)) and the index after it; None for anything else."""
    base = _LOG_BASE.match(text, index)
    argument = _trig_argument(text, base.end()) if base else None
    if base is None or argument is None or argument[0]:
        return None  # no numeric base or argument, or "\\log_2^2 8"
    return f"log(({_expand(argument[1], depth + 1)})#({base.group(1) or base.group(2)}))", argument[2]


def _trig_argument(text: str, index: int) -> tuple[str, str, int] | None:
    """(power, argument, index after it) of a function (sin, log_b) with a numeric argument, else None."""
    match = _TRIG_NUMBER.match(text, index)
    if match:
        return match.group(1) or "", match.group(2), match.end()
    power_match = _TRIG_POWER.match(text, index)
    start = power_match.end() if power_match else index
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text) or text[start] not in "({":
        return None
    close = {"(": ")", "{": "}"}[text[start]]
    depth = 0
    for end in range(start, len(text)):
        depth += text[end] == text[start]
        depth -= text[end] == close
        if depth == 0:
            argument = text[start + 1 : end]
            if not _TRIG_GROUP.fullmatch(argument) or not any(c.isdigit() for c in argument):
                return None  # "\sin(x + y)": an identity in unknowns, not a value
            return (power_match.group(1) if power_match else ""), argument, end + 1
    return None


def _expand(text: str, depth: int = 0) -> str:
    """Rewrite LaTeX commands (recursively) into plain arithmetic notation."""
    if depth > 20 or "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] != "\\":
            index = _copy_plain(text, index, out)
            continue
        match = re.match(r"\\([A-Za-z]+|.)", text[index:])
        if match is None:
            index += 1
            continue
        index = _expand_command(match.group(1), text, index + match.end(), out, depth)
    return "".join(out)


def _copy_plain(text: str, index: int, out: list[str]) -> int:
    """Copy the text up to the next command onto `out`; the index of that command (or the end)."""
    following = text.find("\\", index)
    following = len(text) if following < 0 else following
    plain = text[index:following]
    if plain and plain[-1].isdigit():
        # digits go one by one so a following \frac can see a mixed number
        head = plain.rstrip("0123456789")
        out.append(head)
        out.extend(plain[len(head) :])
    else:
        out.append(plain)
    return following


def _expand_command(name: str, text: str, index: int, out: list[str], depth: int) -> int:
    """Rewrite the command `name` whose arguments start at `index` onto `out`; the index after its arguments."""
    if name in _FRACTIONS or name in _BINOMIALS:
        return _expand_fraction(name, text, index, out, depth)
    if name == "sqrt":
        return _expand_root(text, index, out, depth)
    if name in _UNWRAP:
        body, index = _group(text, index)
        out.append(f" {_expand(body, depth + 1)} ")
        return index
    if name == "log" and (log := _log_call(text, index, depth)) is not None:
        out.append(f" {log[0]}")
        return log[1]
    if name in TRIG and (trig := _trig_argument(text, index)) is not None:
        power, argument, index = trig
        call = f"{name}({_expand(argument, depth + 1)})"
        out.append(f" ({call})^({power})" if power else f" {call}")
        return index
    if name in {"begin", "end"}:
        # "\\begin{align*}": an environment boundary ends any claim; the '|' keeps a following "= ..." from
        # continuing a claim from inside a matrix ("\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix} = 5" is not "1 = 5")
        _, index = _group(text, index)
        out.append(" ; | ; ")
        return index
    if name == "operatorname":
        body, index = _group(text, index)
        out.append(f" \\{body.strip()} ")
        return index
    out.append(_symbol(name, text, index))
    return index


def _expand_fraction(name: str, text: str, index: int, out: list[str], depth: int) -> int:
    """A fraction or binomial; "2\\frac{1}{2}" is a mixed number (or a product): the ⊕ token is read both ways."""
    top, index = _group(text, index)
    bottom, index = _group(text, index)
    top, bottom = _expand(top, depth + 1), _expand(bottom, depth + 1)
    whole = ""
    if name in _FRACTIONS:
        while out and len(out[-1]) == 1 and out[-1].isdigit():
            whole = out.pop() + whole
    if whole:
        out.append(f"({whole}⊕(({top})/({bottom})))")
    elif name in _FRACTIONS:
        out.append(f"(({top})/({bottom}))")
    else:
        out.append(f" binomial(({top})#({bottom}))")
    return index


def _expand_root(text: str, index: int, out: list[str], depth: int) -> int:
    """A square root or, with `[n]`, an n-th root."""
    degree = None
    if index < len(text) and text[index] == "[":
        close = text.find("]", index)
        if close < 0:
            out.append(" \\sqrt ")
            return index
        degree, index = text[index + 1 : close], close + 1
    digits = re.match(r" ?(\d+)", text[index:])
    if digits and degree is None:
        body, index = digits.group(1), index + digits.end()  # "\sqrt169" means sqrt(169)
    else:
        body, index = _group(text, index)
    body = _expand(body, depth + 1)
    out.append(f" sqrt({body})" if degree is None else f" root(({body})#({_expand(degree, depth + 1)}))")
    return index


def _symbol(name: str, text: str, index: int) -> str:
    """The plain text for a command without arguments (a symbol, a spacing or a line break)."""
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name in _BREAKS or name in {"(", ")", "[", "]"}:
        return " ; "  # math delimiters end a claim: "\\[ a = b \\] \\[ c = d \\]" are separate
    if name in {"{", "}", "|"}:
        return " | "
    if name in {",", ";", ":", "!", " ", "$"}:
        return " "
    if name == "\\":
        # a line break continues an aligned chain only when the next line goes on with "&= ..." or "= ..."
        return " " if _CONTINUES.match(text, index) else " ; "
    if len(name) == 1:
        return f" {name} "
    return f" \\{name}"


def normalise(text: str) -> str:
    """Plain-text arithmetic from a step: LaTeX, unicode operators, currency signs, thousands separators, degrees."""
    text = text.translate(_UNICODE)
    text = text.replace("\\$", " ").replace("$$", " ; ").replace("$", " ")
    text = _BULLET.sub("\n", text)
    text = text.replace("**", " ")  # markdown bold, not a power
    text = _SIZING.sub("", text)
    text = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ", " ", text)
    text = text.replace("{,}", "")
    text = re.sub(r"(?<=\d)\\,(?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<=\d) ?[x×] ?(?=\d)", "*", text)
    text = _expand(text)
    text = text.replace("&", " ").replace("~", " ")
    return text.replace("{", "(").replace("}", ")")


_TOKEN = re.compile(
    r"""
    (?P<break>\n|;|!=|:=|<=?|>=?)
  | (?P<eq>==?)
  | (?P<approx>≈)
  | (?P<num>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
  | (?P<cmd>\\[A-Za-z]+)
  | (?P<word>[^\W\d]\w*)
  | (?P<op>[-+*/^])
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<sep>\#)
  | (?P<mix>⊕)
  | (?P<pct>%)
  | (?P<bang>!)
  | (?P<punct>\S)
    """,
    re.VERBOSE,
)
_FUNCS = {"sqrt", "root", "binomial", "floor", "ceiling", "log", *TRIG}
# Single letters that are constants or words rather than unknowns.
_NOT_VARIABLES = {"e", "i", "I"}
_CODES = {"^": "**", "#": ","}


def tokenise(text: str) -> list[Token]:
    """Split normalised text into tokens, remembering which were preceded by whitespace."""
    tokens: list[Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        raw = match.group(0)
        space = match.start() > previous_end
        previous_end = match.end()
        if kind == "word":
            lower = raw.lower()
            if lower == "pi":
                kind = "const"
            elif raw in _FUNCS and text[match.end() : match.end() + 1] == "(":
                kind = "func"
            elif lower in {"percent", "pct"} and tokens and tokens[-1].kind in {"num", "rp"}:
                kind = "pct"
            elif len(raw) == 1 and raw.isascii() and raw not in _NOT_VARIABLES:
                kind = "var"
            elif raw.startswith("_") and tokens and tokens[-1].kind == "cmd" and not space:
                kind = "cmd"  # "\\log_2": the subscript belongs to the function
        if kind == "num":
            value = raw.replace(",", "")
            tokens.append(Token("num", raw, space, value=("0" + value) if value.startswith(".") else value))
            continue
        tokens.append(Token(kind, raw, space, code=_CODES.get(raw, raw)))
    return tokens
