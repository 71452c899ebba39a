"""Step comments: a short note on one step of a labelled solution (why it is wrong, what was expected)."""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import BadInputError

MAX_STEP_COMMENT_CHARS = 500
"""Long enough for a sentence or two with a formula; a longer explanation belongs in the solution's comment."""


def checked_step_comments(comments: Mapping[int | str, str] | None, n_steps: int) -> dict[str, str]:
    """The comments as stored: {"3": "text"} keyed by the 1-based step number (a JSON object's keys are strings),
    in step order, each stripped; an empty comment removes its step. BadInputError names what is wrong."""
    if comments is None:
        return {}
    if not isinstance(comments, Mapping):
        raise BadInputError(f"step comments must map step numbers to text, got {type(comments).__name__}")
    out: dict[int, str] = {}
    for key, text in comments.items():
        try:
            step = int(key)
        except (TypeError, ValueError):
            raise BadInputError(f"step comment key {key!r} is not a step number") from None
        if isinstance(key, bool) or str(step) != str(key).strip() or not 1 <= step <= n_steps:
            raise BadInputError(f"step comment on step {key!r}: the solution has steps 1 to {n_steps}")
        if not isinstance(text, str):
            raise BadInputError(f"step {step}: the comment must be text, got {type(text).__name__}")
        text = text.strip()
        if len(text) > MAX_STEP_COMMENT_CHARS:
            raise BadInputError(
                f"step {step}: the comment has {len(text)} characters; keep it under {MAX_STEP_COMMENT_CHARS}"
            )
        if text:
            out[step] = text
    return {str(step): out[step] for step in sorted(out)}


def step_comments_line(comments: Mapping[str, str]) -> str:
    """The comments in one line for tables and CSV cells: `step 2: text; step 3: text`."""
    return "; ".join(f"step {step}: {text}" for step, text in comments.items())
