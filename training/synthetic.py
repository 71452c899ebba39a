"""Injected-error training data: each correct solution beside a copy with one step made wrong, label by construction."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.error_injection import INJECTION_KINDS, UNPROVABLE_KINDS, InjectionKind, inject_error
from core.types import NO_ERROR, SolutionItem
from core.word_problems import word_problems

SYNTHETIC_SOURCE = "injected"


@dataclass(frozen=True)
class SyntheticSet:
    """The pairs (a correct solution, its injected copy) and how many of each injection kind were made."""

    items: list[SolutionItem]
    kinds: dict[str, int]
    sources: dict[str, int]


def _pair(source_id: str, item: SolutionItem, rng: random.Random, provable_share: float) -> list[SolutionItem] | None:
    """The correct solution and one injected copy; the kind drawn (provable with `provable_share`), then any other
    kind that applies. None when no kind applies: the correct solution is dropped too, keeping the pairs balanced."""
    first: list[InjectionKind] = ["arithmetic_slip"] if rng.random() < provable_share else []
    others = list(UNPROVABLE_KINDS)
    rng.shuffle(others)
    order = [*first, *others, *[k for k in INJECTION_KINDS if k not in first and k not in others]]
    for kind in order:
        injection = inject_error(item.problem, item.steps, kind, rng)
        if injection is None:
            continue
        correct = item.model_copy(
            update={"id": f"{source_id}/correct", "first_error_step": NO_ERROR, "source": SYNTHETIC_SOURCE}
        )
        wrong = item.model_copy(
            update={
                "id": f"{source_id}/{kind}",
                "steps": list(injection.steps),
                "first_error_step": injection.first_error_step,
                "source": SYNTHETIC_SOURCE,
                "metadata": {**item.metadata, "injection": kind, "injection_detail": injection.detail},
            }
        )
        return [correct, wrong]
    return None


def injected_items(
    *,
    word_problem_count: int,
    correct_solutions: Sequence[SolutionItem] = (),
    seed: int = 0,
    provable_share: float = 0.2,
) -> SyntheticSet:
    """Pairs from generated word problems and from the given correct solutions (e.g. ProcessBench's all-correct ones).

    Most injected errors keep the step's arithmetic true (swapped operation, wrong quantity from the problem, dropped
    term, unit slip: only a reader of the problem sees them); `provable_share` are arithmetic slips the symbolic
    checker proves. Every item keeps its problem, so a split by problem keeps each pair on one side.
    """
    rng = random.Random(seed)
    sources: list[tuple[str, SolutionItem]] = [
        (f"word/{n}", SolutionItem(problem=w.problem, steps=list(w.steps), answer=w.answer, first_error_step=NO_ERROR))
        for n, w in enumerate(word_problems(word_problem_count, seed=seed))
    ]
    sources += [(f"solution/{item.id}", item) for item in correct_solutions if item.first_error_step == NO_ERROR]
    items: list[SolutionItem] = []
    origin: Counter[str] = Counter()
    for source_id, item in sources:
        pair = _pair(source_id, item, rng, provable_share)
        if pair is not None:
            items.extend(pair)
            origin[source_id.split("/")[0]] += 1
    kinds = Counter(i.metadata["injection"] for i in items if "injection" in i.metadata)
    return SyntheticSet(items=items, kinds=dict(kinds), sources=dict(origin))
