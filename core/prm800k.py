"""PRM800K, streaming: read lines into items + step ratings + first-error labels, and write records back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from core.errors import BadInputError
from core.step_comments import checked_step_comments
from core.types import NO_ERROR, CritiqueRating, FinishReason, SolutionItem, StepRating

FINISH_REASONS: tuple[str, ...] = get_args(FinishReason)
_RATINGS = {-1, 0, 1, None}


def checked_finish_reason(value: object, name: str = "finish_reason") -> str:
    """`value` when it is one of PRM800K's finish reasons; otherwise BadInputError naming `name` and the choices."""
    if value not in FINISH_REASONS:
        raise BadInputError(f"{name} {value!r} is not one of {', '.join(FINISH_REASONS)}")
    return str(value)


def first_error_from_ratings(ratings: Sequence[StepRating], finish_reason: str | None) -> int | None:
    """DeepCritic's label from PRM800K ratings: 1-based first step rated -1, -1 for a finished correct solution.

    `give_up` / `bad_problem` carry no usable label (None). Without a finish reason, a solution whose every
    step is rated and none is -1 counts as correct; anything else is unknown (None).
    """
    if finish_reason in ("give_up", "bad_problem"):
        return None
    for index, rating in enumerate(ratings, start=1):
        if rating == -1:
            return index
    if finish_reason == "solution":
        return NO_ERROR
    if finish_reason is None and ratings and all(rating is not None for rating in ratings):
        return NO_ERROR
    return None


LABEL_KINDS: tuple[str, ...] = ("first_error", "no_error", "found_error_without_-1", "give_up", "bad_problem")
"""How a PRM800K annotation turns into a label; the last three carry none (first_error_step is None)."""


def label_kind(ratings: Sequence[StepRating], finish_reason: str | None) -> str:
    """Which of LABEL_KINDS `first_error_from_ratings` gives these ratings (a neutral 0 rating is not an error)."""
    first_error = first_error_from_ratings(ratings, finish_reason)
    if first_error is not None:
        return "no_error" if first_error == NO_ERROR else "first_error"
    if finish_reason in ("give_up", "bad_problem"):
        return str(finish_reason)
    return "found_error_without_-1"


@dataclass(frozen=True)
class PRM800KRecord:
    """One labelled solution: the item (steps on the rated path) and one labeler's ratings of its steps."""

    line_number: int
    item: SolutionItem
    ratings: list[StepRating]
    finish_reason: FinishReason
    labeler: str
    timestamp: str = ""
    total_time_ms: int = 0
    flagged_steps: list[int] = field(default_factory=list)
    is_quality_control: bool = False
    is_initial_screening: bool = False
    generation: int | None = None
    step_comments: dict[str, str] = field(default_factory=dict)
    """Our extension `label.step_comments`: {"3": "text"} keyed by the 1-based step (absent in PRM800K's files)."""
    critique_rating: CritiqueRating | None = None
    """Our extension `critique_rating`: the labeler's rating of the critique they were shown (our exports write it)."""

    @property
    def first_error_step(self) -> int | None:
        return first_error_from_ratings(self.ratings, self.finish_reason)


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read; `error` says which field was wrong."""

    line_number: int
    error: str


def _completion_on_path(step: dict[str, Any], pre_generated: str | None) -> dict[str, Any] | None:
    completions = step.get("completions") or []
    if pre_generated is not None:
        for completion in completions:
            if isinstance(completion, dict) and completion.get("text") == pre_generated:
                return completion
    chosen = step.get("chosen_completion")
    if isinstance(chosen, int) and 0 <= chosen < len(completions):
        return completions[chosen]
    if step.get("human_completion"):
        return step["human_completion"]
    # Labelling stopped here: the path continues through the completion rated -1, if any.
    for completion in completions:
        if isinstance(completion, dict) and completion.get("rating") == -1:
            return completion
    return completions[0] if completions else None


def parse_record(obj: Any, *, line_number: int = 0) -> PRM800KRecord:
    """One PRM800K object -> record; raises BadInputError naming the field that is wrong."""
    if not isinstance(obj, dict):
        raise BadInputError(f"expected a JSON object, got {type(obj).__name__}")
    question, label = obj.get("question"), obj.get("label")
    if not isinstance(question, dict) or not isinstance(question.get("problem"), str):
        raise BadInputError("question.problem is missing or not a string")
    if not isinstance(label, dict) or not isinstance(label.get("steps"), list):
        raise BadInputError("label.steps is missing or not a list")
    finish_reason = checked_finish_reason(label.get("finish_reason"), "label.finish_reason")
    pre_generated = question.get("pre_generated_steps")
    if pre_generated is not None and (
        not isinstance(pre_generated, list) or not all(isinstance(s, str) for s in pre_generated)
    ):
        raise BadInputError("question.pre_generated_steps must be a list of strings")

    steps: list[str] = list(pre_generated) if pre_generated else []
    ratings: list[StepRating] = []
    flagged: list[int] = []
    for index, step in enumerate(label["steps"]):
        if not isinstance(step, dict):
            raise BadInputError(f"label.steps[{index}] is not an object")
        completion = _completion_on_path(step, steps[index] if index < len(steps) else None)
        if completion is None:
            raise BadInputError(f"label.steps[{index}] has no completion")
        rating = completion.get("rating")
        if rating not in _RATINGS or isinstance(rating, bool):
            raise BadInputError(f"label.steps[{index}] rating {rating!r} is not -1, 0, 1 or null")
        if not pre_generated:  # phase 1: the path is made of the chosen completions
            text = completion.get("text")
            if not isinstance(text, str):
                raise BadInputError(f"label.steps[{index}] completion text is missing")
            steps.append(text)
        elif index >= len(steps):
            raise BadInputError(f"label.steps has {len(label['steps'])} entries for {len(steps)} steps")
        ratings.append(rating)
        if completion.get("flagged"):
            flagged.append(index + 1)
    if not steps:
        raise BadInputError("the solution has no steps")
    ratings.extend([None] * (len(steps) - len(ratings)))
    try:
        step_comments = checked_step_comments(label.get("step_comments"), len(steps))
    except BadInputError as exc:
        raise BadInputError(f"label.step_comments: {exc}") from None

    metadata = {
        key: question[key]
        for key in ("ground_truth_solution", "pre_generated_answer", "pre_generated_verifier_score")
        if question.get(key) is not None
    }
    if obj.get("is_quality_control_question"):
        metadata["is_gold"] = True
    if obj.get("is_initial_screening_question"):
        metadata["is_initial_screening_question"] = True
    if obj.get("generation") is not None:
        metadata["generation"] = obj["generation"]
    critique_rating = obj.get("critique_rating")
    if critique_rating is not None and critique_rating not in get_args(CritiqueRating):
        choices = ", ".join(get_args(CritiqueRating))
        raise BadInputError(f"critique_rating {critique_rating!r} is not one of {choices} (or null)")
    try:
        total_time = int(label.get("total_time") or 0)
    except (TypeError, ValueError):
        raise BadInputError(f"label.total_time {label.get('total_time')!r} is not a number") from None
    item = SolutionItem(
        problem=question["problem"],
        steps=steps,
        first_error_step=first_error_from_ratings(ratings, finish_reason),
        answer=question.get("ground_truth_answer"),
        source="prm800k",
        metadata=metadata,
    )
    return PRM800KRecord(
        line_number=line_number,
        item=item,
        ratings=ratings,
        finish_reason=finish_reason,
        labeler=str(obj.get("labeler") or ""),
        timestamp=str(obj.get("timestamp") or ""),
        total_time_ms=total_time,
        flagged_steps=flagged,
        is_quality_control=bool(obj.get("is_quality_control_question")),
        is_initial_screening=bool(obj.get("is_initial_screening_question")),
        generation=obj.get("generation"),
        step_comments=step_comments,
        critique_rating=critique_rating,
    )


def _lines(source: str | Path | Iterable[str]) -> Iterator[str]:
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8") as handle:
            yield from handle
    else:
        yield from source


def read_prm800k(source: str | Path | Iterable[str]) -> Iterator[PRM800KRecord | BadLine]:
    """Stream a PRM800K JSONL file (or lines): one record per good line, a BadLine (1-based number) per bad one."""
    for line_number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        try:
            yield parse_record(json.loads(line), line_number=line_number)
        except json.JSONDecodeError as exc:
            yield BadLine(line_number, f"invalid JSON: {exc.msg} at column {exc.colno}")
        except BadInputError as exc:
            yield BadLine(line_number, str(exc))
        except ValueError as exc:  # pydantic validation of the item
            yield BadLine(line_number, f"invalid item: {str(exc).splitlines()[0]}")


def to_prm800k(
    item: SolutionItem,
    ratings: Sequence[StepRating],
    *,
    finish_reason: str | None,
    labeler: str,
    timestamp: str = "",
    total_time_ms: int = 0,
    flagged_steps: Sequence[int] = (),
    is_quality_control: bool = False,
    step_comments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A phase-2 style PRM800K object for one annotation (read back by `parse_record` unchanged).

    Step comments go in `label.step_comments` ({"3": "text"}, 1-based steps), a field of our own written only
    when there are some, so a label without them is plain PRM800K."""
    if finish_reason is None:
        first_error = first_error_from_ratings(ratings, None)
        finish_reason = "give_up" if first_error is None else ("solution" if first_error < 0 else "found_error")
    rated = [index for index, rating in enumerate(ratings) if rating is not None]
    last = rated[-1] + 1 if rated else 0
    flagged = set(flagged_steps)
    label_steps = [
        {
            "completions": [{"text": item.steps[i], "rating": ratings[i], "flagged": (i + 1) in flagged}],
            "human_completion": None,
            "chosen_completion": None if ratings[i] == -1 else 0,
        }
        for i in range(last)
    ]
    question: dict[str, Any] = {
        "problem": item.problem,
        "ground_truth_answer": item.answer,
        "pre_generated_steps": list(item.steps),
    }
    for key in ("ground_truth_solution", "pre_generated_answer", "pre_generated_verifier_score"):
        if key in item.metadata:
            question[key] = item.metadata[key]
    label: dict[str, Any] = {"steps": label_steps, "total_time": total_time_ms, "finish_reason": finish_reason}
    if step_comments:
        label["step_comments"] = dict(step_comments)
    return {
        "labeler": labeler,
        "timestamp": timestamp,
        "generation": None,
        "is_quality_control_question": is_quality_control,
        "is_initial_screening_question": False,
        "question": question,
        "label": label,
    }
