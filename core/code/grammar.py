"""The code-critique format (analysis, suggestions, verdict) as a pattern for constrained decoding, and its parser.

    **Analysis**: The code <what it does, where it goes wrong>
    **Suggestions**: <concrete changes>
    **Verdict**: \\boxed{correct}   (or \\boxed{incorrect})

Profiles as in core.grammar: `tight` holds each part to one bounded sentence (core.grammar's text-part pattern),
which keeps a small embedded model from looping; `structure` fixes only the labels and the verdict and lets each
part run for several sentences or paragraphs (code in backticks, lists), for strong served critics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.code.items import CodeVerdict
from core.grammar import Constraint, _literal, text_pattern
from core.types import GrammarProfile

ANALYSIS_LABEL = "**Analysis**: "
ANALYSIS_OPENING = "The code "
SUGGESTIONS_LABEL = "\n**Suggestions**: "
VERDICT_LINE = "\n**Verdict**: \\boxed{{{verdict}}}"
TIGHT_SENTENCE_CHARS = 240
STRUCTURE_PART_CHARS = 2000
# Free text of the structure profile: anything but the '**' that opens a label.
_FREE_TEXT = r"(?:[^*]|\*(?!\*))"


def code_critique_constraint(max_new_tokens: int, profile: GrammarProfile = "tight") -> Constraint:
    """The whole code critique; `profile` tight (one sentence per part) or structure (labels and verdict only)."""
    if profile == "tight":
        part = text_pattern(TIGHT_SENTENCE_CHARS)
        analysis = _literal(ANALYSIS_LABEL + ANALYSIS_OPENING) + part
        longest = 2 * 3 * TIGHT_SENTENCE_CHARS
    else:
        part = f"{_FREE_TEXT}{{16,{STRUCTURE_PART_CHARS}}}"
        analysis = _literal(ANALYSIS_LABEL) + part
        longest = 2 * STRUCTURE_PART_CHARS
    verdict = "(?:" + "|".join(_literal(VERDICT_LINE.format(verdict=v)) for v in ("correct", "incorrect")) + ")"
    regex = analysis + _literal(SUGGESTIONS_LABEL) + part + verdict
    fixed = len(ANALYSIS_LABEL + ANALYSIS_OPENING + SUGGESTIONS_LABEL + VERDICT_LINE.format(verdict="incorrect"))
    # Every token is at least one character: the longest text the pattern allows bounds the tokens it can need.
    return Constraint(regex=regex, max_tokens=max(max_new_tokens, min(fixed + longest, 4096)))


@dataclass(frozen=True)
class ParsedCodeCritique:
    """One code critique as read from a model's text; never raised from, whatever the text was."""

    analysis: str
    suggestions: str
    verdict: CodeVerdict | None


_VERDICT = re.compile(r"\\boxed\{\s*(correct|incorrect)\s*\}", re.IGNORECASE)
_ANALYSIS = re.compile(r"\*\*Analysis\*\*:?\s*(.*?)(?=\*\*Suggestions\*\*|\*\*Verdict\*\*|$)", re.DOTALL | re.I)
_SUGGESTIONS = re.compile(r"\*\*Suggestions\*\*:?\s*(.*?)(?=\*\*Verdict\*\*|$)", re.DOTALL | re.I)


def parse_code_critique(text: str) -> ParsedCodeCritique:
    """Analysis, suggestions and the last boxed verdict; text without labels is all analysis."""
    verdicts = _VERDICT.findall(text or "")
    analysis = _ANALYSIS.search(text or "")
    suggestions = _SUGGESTIONS.search(text or "")
    body = analysis.group(1) if analysis else _VERDICT.sub("", text or "")
    verdict: CodeVerdict | None = None
    if verdicts:
        verdict = "correct" if verdicts[-1].lower() == "correct" else "incorrect"
    return ParsedCodeCritique(
        analysis=body.strip(), suggestions=suggestions.group(1).strip() if suggestions else "", verdict=verdict
    )
