"""Code jobs over files: checked revisions of code items (critique -> revision -> tests), resumable, with pass@1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.backends.base import Backend
from core.code.critique import CodeCritiqueConfig
from core.code.items import CodeItem
from core.code.refine import CodeRefineConfig, refine_code
from core.errors import BadInputError
from core.items_io import read_items
from core.jsonl import append_jsonl, read_jsonl
from training.generation_jobs import JobReport, Progress, batches, done_ids


def load_code_items(source: Path, errors: list[str]) -> list[CodeItem]:
    """The code items of an input file (bad ones and math solutions reported in `errors`), ids made unique."""
    items: list[CodeItem] = []
    seen: set[str] = set()
    for position, entry in enumerate(read_items(source, code=True), start=1):
        if isinstance(entry, BadInputError):
            errors.append(str(entry))
            continue
        if not isinstance(entry, CodeItem):
            errors.append(f"item {position} id={entry.id!r}: a math solution in a file of code items")
            continue
        item = entry if entry.id else entry.model_copy(update={"id": f"item-{position}"})
        if item.id in seen:
            errors.append(f"item {position} id={item.id!r}: duplicate id (ids must be unique to resume)")
            continue
        seen.add(item.id)
        items.append(item)
    return items


def has_code_items(source: Path) -> bool:
    """Whether an input file holds code items (the first readable item decides)."""
    for entry in read_items(source, code=True):
        if not isinstance(entry, BadInputError):
            return isinstance(entry, CodeItem)
    return False


def code_refine_summary(rows: Sequence[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """pass@1 before and after each round (the share of items passing every test), and mean tests passed."""
    summary: dict[str, Any] = {"items": len(rows), "rounds": rounds}
    for k in range(rounds + 1):
        solved = [r["passed_per_round"][min(k, len(r["passed_per_round"]) - 1)] == r["total_tests"] for r in rows]
        summary[f"pass@1_after_{k}"] = sum(solved) / len(rows) if rows else None
    return summary


def run_code_refine(
    source: Path,
    output: Path,
    generator: Backend,
    critic: Backend | None,
    config: CodeRefineConfig,
    *,
    critique_config: CodeCritiqueConfig | None = None,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Refine every code item (rounds while tests fail) and append each refinement; a rerun skips done ids."""
    report = JobReport(output=output)
    items = load_code_items(source, report.errors)[:limit]
    finished = done_ids(output)
    todo = [item for item in items if item.id not in finished]
    report.skipped = len(items) - len(todo)
    for batch in batches(todo, batch_size):
        refinements = refine_code(generator, critic, batch, config, critique_config)
        report.written += append_jsonl(output, (r.model_dump(mode="json") for r in refinements))
        if progress:
            progress(len(batch))
    rows = read_jsonl(output)
    report.summary = code_refine_summary(rows, config.rounds)
    report.counts = {
        "passed": sum(r.get("stop_reason") == "passed" for r in rows),
        "max_rounds": sum(r.get("stop_reason") == "max_rounds" for r in rows),
    }
    return report
