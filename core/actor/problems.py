"""Problems with a ground-truth answer for the actor: seeded grade-school word problems and ProcessBench problems.

The generated problems chain one to four operations, so difficulty is chosen by their count; the themed solutions
that error injection corrupts come from `core.word_problems`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.answers import known_answer
from core.errors import BadInputError
from core.types import NO_ERROR, SolutionItem

GENERATED_SOURCE = "generated"
PROCESSBENCH_SOURCE = "processbench"

_NAMES = ("Sam", "Mia", "Leo", "Ava", "Noah", "Emma", "Omar", "Lina", "Ben", "Zoe")
_THINGS = ("apples", "marbles", "stickers", "books", "pencils", "cookies", "stamps", "shells")


@dataclass(frozen=True)
class _Operation:
    """One step of a word problem: how the story says it, and what it does to the count."""

    symbol: str
    operand: int
    sentence: str


def _operation(rng: random.Random, current: int, name: str, thing: str) -> _Operation:
    """A random operation that keeps the count a whole number between 1 and a few hundred."""
    choices = ["add", "mul"] if current < 4 else ["add", "sub", "mul", "div"]
    if current > 200:
        choices = ["sub", "div"]
    divisors = [k for k in (2, 3, 4, 5) if current % k == 0]
    if not divisors and "div" in choices:
        choices.remove("div")
    kind = rng.choice(choices)
    if kind == "add":
        b = rng.randint(2, 20)
        return _Operation("+", b, f"{name} then gets {b} more {thing}.")
    if kind == "sub":
        b = rng.randint(1, current - 1)
        return _Operation("-", b, f"{name} then gives away {b} {thing}.")
    if kind == "mul":
        k = rng.randint(2, 4)
        return _Operation("*", k, f"Then the number of {thing} {name} has becomes {k} times as large.")
    k = rng.choice(divisors)
    return _Operation("/", k, f"{name} then splits the {thing} into {k} equal groups and keeps only one group.")


def _apply(current: int, op: _Operation) -> int:
    if op.symbol == "+":
        return current + op.operand
    if op.symbol == "-":
        return current - op.operand
    if op.symbol == "*":
        return current * op.operand
    return current // op.operand


_SHOWN = {"+": "+", "-": "-", "*": "\\times", "/": "\\div"}


def word_problem(rng: random.Random, operations: int, problem_id: str) -> SolutionItem:
    """One word problem of `operations` arithmetic steps, with a worked reference solution and its answer."""
    if not 1 <= operations <= 4:
        raise BadInputError(f"a generated word problem has 1 to 4 operations, not {operations}")
    name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
    start = rng.randint(3, 30)
    sentences = [f"{name} has {start} {thing}."]
    steps = [f"{name} starts with {start} {thing}."]
    current = start
    for _ in range(operations):
        op = _operation(rng, current, name, thing)
        after = _apply(current, op)
        sentences.append(op.sentence)
        steps.append(f"{current} {_SHOWN[op.symbol]} {op.operand} = {after}, so {name} now has {after} {thing}.")
        current = after
    sentences.append(f"How many {thing} does {name} have now?")
    steps.append(f"The answer is \\boxed{{{current}}}.")
    return SolutionItem(
        id=problem_id,
        problem=" ".join(sentences),
        steps=steps,
        first_error_step=NO_ERROR,
        answer=str(current),
        source=GENERATED_SOURCE,
        metadata={"operations": operations, "final_answer_correct": True},
    )


def word_problems(count: int, *, seed: int = 0, min_operations: int = 1, max_operations: int = 4) -> list[SolutionItem]:
    """`count` word problems, the same for the same seed; operation counts cycle from min to max for a even mix.

    Ids are `gen-s<seed>-<n>`, so sets made with different seeds never share an id.
    """
    if count < 1:
        raise BadInputError(f"count must be at least 1, got {count}")
    if not 1 <= min_operations <= max_operations <= 4:
        raise BadInputError(f"operations must satisfy 1 <= min <= max <= 4, got {min_operations}..{max_operations}")
    rng = random.Random(seed)
    span = max_operations - min_operations + 1
    return [word_problem(rng, min_operations + n % span, f"gen-s{seed}-{n + 1}") for n in range(count)]


def processbench_problems(items: Iterable[SolutionItem]) -> list[SolutionItem]:
    """One problem per distinct ProcessBench problem that has a solution labelled all-correct whose final answer is
    right: that solution is the reference and its final answer (read with core.answers) the ground truth."""
    out: list[SolutionItem] = []
    seen: set[str] = set()
    for item in items:
        if item.first_error_step != NO_ERROR or item.metadata.get("final_answer_correct") is not True:
            continue
        key = item.problem.strip()
        truth = known_answer(item)
        if truth is None or key in seen:
            continue
        seen.add(key)
        out.append(
            item.model_copy(update={"answer": truth, "source": PROCESSBENCH_SOURCE, "metadata": {**item.metadata}})
        )
    return out


def problem_record(item: SolutionItem) -> dict[str, object]:
    """A problem as a JSONL row in the ProcessBench shape, with its `answer` (readable by every `critic` command)."""
    row = item.to_processbench()
    row["answer"] = item.answer
    row["source"] = item.source
    if "operations" in item.metadata:
        row["operations"] = item.metadata["operations"]
    return row


def split_held_out(items: Sequence[SolutionItem], held_out: int, *, seed: int = 0) -> tuple[list, list]:
    """(train, held-out): `held_out` problems drawn at random (seeded) and kept apart; the rest train."""
    if not 0 <= held_out <= len(items):
        raise BadInputError(f"cannot hold out {held_out} of {len(items)} problems")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    chosen = set(order[:held_out])
    train = [item for n, item in enumerate(items) if n not in chosen]
    return train, [item for n, item in enumerate(items) if n in chosen]
