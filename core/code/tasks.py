"""The project's own programming tasks (core/code/tasks.jsonl): a correct and one or more wrong solutions per task."""

from __future__ import annotations

from pathlib import Path

from core.code.items import CodeItem
from core.errors import BadInputError

TASKS_FILE = Path(__file__).with_name("tasks.jsonl")
"""42 MBPP-style tasks; one code item per solution, `label` correct/incorrect, `task` and (wrong ones) `mistake`."""


def load_code_tasks(path: Path | None = None) -> list[CodeItem]:
    """Every solution of the task file as a CodeItem (read by core.items_io, the one item reader)."""
    from core.items_io import read_items

    items = []
    for record in read_items(path or TASKS_FILE, code=True):
        if isinstance(record, BadInputError):
            raise record
        if not isinstance(record, CodeItem):
            raise BadInputError(f"{path or TASKS_FILE}: item {record.id!r} is not a code item")
        items.append(record)
    return items


def wrong_solutions(items: list[CodeItem]) -> list[CodeItem]:
    """The items labelled incorrect: the starting points of revision benchmarks."""
    return [item for item in items if item.label == "incorrect"]
