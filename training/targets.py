"""SFT targets: a DeepCritic-format critique per labelled item, from the stored critique, a teacher, or a template."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.backends.base import Backend, GenerationParams
from core.parsing import parse_critique
from core.prompts import critique_messages
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
    """A critique that states the human judgement in the critic's output format (the last-resort target)."""
    last = len(item.steps) if item.first_error_step == NO_ERROR else item.first_error_step
    blocks = []
    for index in range(1, last + 1):
        step = " ".join(item.steps[index - 1].split())
        quoted = step if len(step) <= 160 else step[:157] + "..."
        if index == item.first_error_step:
            reason = f" Reviewer's note: {item.comment.strip()}" if item.comment.strip() else ""
            body = (
                f'Step {index} says: "{quoted}" Checking its reasoning and calculations against the problem and '
                f"the previous steps, this step contains an error.{reason} Re-verifying it another way confirms "
                "the mistake, so this step is incorrect."
            )
            verdict = -1
        else:
            body = (
                f'Step {index} says: "{quoted}" Its reasoning follows from the problem and the previous steps, and '
                "its calculations are right. Re-verifying it another way gives the same result, so it is correct."
            )
            verdict = 1
        judgement = f"**Judgement**: The correctness of Step {index} is: \\boxed{{{verdict}}}"
        blocks.append(f"**Critique of Step {index}**: {body}\n{judgement}")
    blocks.append(f"**Answer**: \\boxed{{{item.first_error_step}}}")
    return "\n\n".join(blocks)


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
        }
        for item in items
    ]
