"""`critic solve` over a file: the actor solves problems with each strategy, results appended and resumable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.actor.scoring import accuracy_summary
from core.actor.strategies import SolveConfig, solve_problems
from core.backends.base import Backend
from core.jsonl import append_jsonl, read_jsonl
from core.refine import CritiqueFn
from training.generation_jobs import JobReport, Progress, answered_items, batches, distinct_problems, load_items


def run_solve(
    source: Path,
    output: Path,
    actor: Backend,
    critique: CritiqueFn | None,
    config: SolveConfig,
    strategies: Sequence[str],
    *,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Solve every problem with a known answer by each strategy; one row per (problem, strategy) in `output`.

    A rerun skips the (problem, strategy) pairs already written. The summary (accuracy per strategy with a 95 %
    interval) covers every row in `output`.
    """
    report = JobReport(output=output)
    problems = distinct_problems(answered_items(load_items(source, report.errors), report.errors))[:limit]
    done = {(str(r.get("id")), r.get("strategy")) for r in read_jsonl(output)}
    for strategy in strategies:
        todo = [p for p in problems if (p.id, strategy) not in done]
        report.skipped += len(problems) - len(todo)
        for batch in batches(todo, batch_size):
            solved = solve_problems(actor, critique, batch, strategy, config)
            report.written += append_jsonl(output, (s.model_dump() for s in solved))
            if progress:
                progress(len(batch))
    rows = read_jsonl(output)
    report.counts = {"rows": len(rows)}
    report.summary = accuracy_summary(rows)
    return report
