"""SFT targets: a DeepCritic-format critique per labelled item, from the stored critique, a teacher, or a template."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.backends.base import Backend, GenerationParams
from core.grammar import (
    ANSWER_LINE,
    CRITIQUE_LABEL,
    JUDGEMENT_LINE,
    META_LABEL,
    SHORTEST_LIMIT_CHARS,
    STEP_SEPARATOR,
    as_sentence,
)
from core.parsing import parse_critique
from core.prompts import critique_messages
from core.symbolic import check_step
from core.types import NO_ERROR

TargetPath = Literal["stored", "generated", "template"]
TARGET_PATHS: tuple[TargetPath, ...] = ("stored", "generated", "template")


@dataclass(frozen=True)
class LabelledItem:
    """One solution with a human (or PRM800K) first-error label, ready to become training data."""

    problem: str
    steps: tuple[str, ...]
    first_error_step: int
    source: str
    source_id: str
    stored_critique: str | None = None
    """The critic's critique the human accepted unchanged (None when corrected or absent)."""
    comment: str = ""
    provenance: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    answer: str | None = None
    """The ground-truth final answer, when known (GRPO's revision reward checks revisions against it)."""


def agrees_with_label(text: str, item: LabelledItem) -> bool:
    """DeepCritic's filter: the parsed final answer and every parsed step verdict up to it match the label."""
    parsed = parse_critique(text, len(item.steps))
    if parsed.first_error_step != item.first_error_step or parsed.parse_status == "failed":
        return False
    last = len(item.steps) if item.first_error_step == NO_ERROR else item.first_error_step
    for step in parsed.steps[:last]:
        expected = "incorrect" if step.index == item.first_error_step else "correct"
        if step.verdict != expected:
            return False
    return True


def template_critique(item: LabelledItem) -> str:
    """A critique that states the human judgement in the critic's constrained output format (the last-resort target).

    It is written in exactly the shape constrained decoding lets the critic write (`core.grammar`), so a model trained
    on it learns the judgements inside the format it will be held to. Every sentence fits the shortest sentence any
    token budget allows; the symbolic checker's proof, or the reviewer's note, explains a wrong step when it fits.
    """
    last = len(item.steps) if item.first_error_step == NO_ERROR else item.first_error_step
    blocks = []
    for index in range(1, last + 1):
        wrong = index == item.first_error_step
        if wrong:
            analysis = _wrong_step_reason(item.steps[index - 1], item.comment)
            second_look = "the mistake remains, so it is incorrect."
        else:
            analysis = "follows from the previous steps and is right."
            second_look = "the step holds up, so it is correct."
        block = CRITIQUE_LABEL.format(index=index) + analysis + META_LABEL + second_look
        blocks.append(block + JUDGEMENT_LINE.format(index=index, value=-1 if wrong else 1))
    return STEP_SEPARATOR.join(blocks) + ANSWER_LINE.format(value=item.first_error_step)


def _wrong_step_reason(step: str, comment: str) -> str:
    """The analysis of the first wrong step: the checker's proof or the reviewer's note when either fits a sentence."""
    check = check_step(step)
    for reason in (f"claims {check.detail}" if check.status == "wrong" else "", f"is wrong: {comment}"):
        sentence = as_sentence(reason, SHORTEST_LIMIT_CHARS)
        if reason.strip(": ") and sentence is not None:
            return sentence
    return "is wrong, so the solution fails from here."


@dataclass
class SFTTargets:
    """The SFT examples and how many items took each target path."""

    examples: list[dict[str, Any]]
    counts: dict[str, int]


def build_sft_targets(
    items: Sequence[LabelledItem],
    *,
    teacher: Backend | None,
    samples: int = 4,
    max_new_tokens: int = 1024,
    seed: int = 0,
    batch_size: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
) -> SFTTargets:
    """Choose a target critique per item: the accepted stored critique if it agrees with the label, else the first
    teacher sample that agrees (generated `batch_size` items per call; `on_progress(done, total)` after each),
    else the template critique."""
    targets: dict[int, tuple[TargetPath, str]] = {}
    needs_teacher: list[int] = []
    for i, item in enumerate(items):
        if item.stored_critique and agrees_with_label(item.stored_critique, item):
            targets[i] = ("stored", item.stored_critique)
        else:
            needs_teacher.append(i)
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.8, top_p=0.95, n=samples, seed=seed)
    for start in range(0, len(needs_teacher) if teacher is not None else 0, batch_size):
        batch = needs_teacher[start : start + batch_size]
        prompts = [critique_messages(items[i].problem, list(items[i].steps)) for i in batch]
        for i, outs in zip(batch, teacher.generate(prompts, params), strict=True):  # type: ignore[union-attr]
            kept = next((g.text for g in outs if agrees_with_label(g.text, items[i])), None)
            if kept is not None:
                targets[i] = ("generated", kept.strip())
        if on_progress is not None:
            on_progress(start + len(batch), len(needs_teacher))
    examples: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        path, text = targets.get(i, ("template", template_critique(item)))
        examples.append(
            {
                "prompt": critique_messages(item.problem, list(item.steps)),
                "completion": text,
                "target_path": path,
                "source": item.source,
                "source_id": item.source_id,
                "first_error_step": item.first_error_step,
            }
        )
    counts = Counter(ex["target_path"] for ex in examples)
    return SFTTargets(examples=examples, counts={p: counts.get(p, 0) for p in TARGET_PATHS})


def grpo_prompts(items: Sequence[LabelledItem]) -> list[dict[str, Any]]:
    """GRPO rows: the critic prompt plus the label and step count the reward function needs."""
    return [
        {
            "prompt": critique_messages(item.problem, list(item.steps)),
            "first_error_step": item.first_error_step,
            "num_steps": len(item.steps),
            "steps": list(item.steps),
        }
        for item in items
    ]
