"""Generation jobs over files: MC labels, seed critiques (DeepCritic's and CTRL's for code), refinement, best-of-N and
the refinement eval, resumable."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.answers import answers_match, with_known_answers
from core.backends.base import Backend
from core.code.critique import CodeCritiqueConfig
from core.errors import BadInputError
from core.items_io import read_items
from core.jsonl import append_jsonl, read_jsonl
from core.mc_labels import MCLabelConfig, label_items, labelled_record
from core.ranking import RankConfig, RankedProblem, rank, ranking_summary
from core.refine import CritiqueFn, RefineConfig, RefineOutcome, outcome, refine, step_diff, transition_rates
from core.seed_critiques import SeedConfig, SeedCritique, generate_seed_critiques
from core.solving import solution_answer
from core.types import SolutionItem
from training.evaluation import finish_eval_record, start_eval_record

Progress = Callable[[int], None]
"""Called with the number of items just finished (a tqdm bar's `update`)."""


@dataclass
class JobReport:
    """What a generation job did: rows written now, rows skipped as already done, and per-item errors."""

    output: Path
    written: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def done_ids(*paths: Path) -> set[str]:
    """Ids already written to any of the output files: a rerun skips them."""
    return {str(row["id"]) for path in paths for row in read_jsonl(path) if "id" in row}


def load_items(source: Path, errors: list[str]) -> list[SolutionItem]:
    """Readable items from an input file (bad ones reported in `errors`), each with a stable, unique id."""
    items: list[SolutionItem] = []
    seen: set[str] = set()
    for position, entry in enumerate(read_items(source), start=1):
        if isinstance(entry, BadInputError):
            errors.append(str(entry))
            continue
        item = entry if entry.id else entry.model_copy(update={"id": f"item-{position}"})
        if item.id in seen:
            errors.append(f"item {position} id={item.id!r}: duplicate id (ids must be unique to resume)")
            continue
        seen.add(item.id)
        items.append(item)
    return items


def batches(items: Sequence[SolutionItem], size: int) -> Iterator[list[SolutionItem]]:
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + max(size, 1)])


def _pending(items: Sequence[SolutionItem], report: JobReport, *outputs: Path) -> list[SolutionItem]:
    """The items no output file has yet (a resumed job skips the rest, counted in the report)."""
    finished = done_ids(*outputs)
    todo = [item for item in items if item.id not in finished]
    report.skipped = len(items) - len(todo)
    return todo


def _in_batches(todo: Sequence[SolutionItem], size: int, progress: Progress | None) -> Iterator[list[SolutionItem]]:
    """The batches of `todo`; `progress` hears of each batch once its rows are written."""
    for batch in batches(todo, size):
        yield batch
        if progress:
            progress(len(batch))


def answered_items(items: Sequence[SolutionItem], errors: list[str]) -> list[SolutionItem]:
    """The items whose ground-truth answer is known (filled in where it can be); the others reported in `errors`."""
    kept = []
    for item in with_known_answers(items):
        if item.answer is None:
            errors.append(
                f"item id={item.id!r}: no ground-truth answer: add an 'answer' field "
                "(or 'final_answer_correct': true when the solution's own final answer is right)"
            )
        else:
            kept.append(item)
    return kept


def distinct_problems(items: Sequence[SolutionItem]) -> list[SolutionItem]:
    """The first item of each problem: several solutions of one problem make one problem to solve."""
    problems: list[SolutionItem] = []
    seen: set[str] = set()
    for item in items:
        if item.problem.strip() not in seen:
            seen.add(item.problem.strip())
            problems.append(item)
    return problems


def run_mc_labels(
    source: Path,
    output: Path,
    generator: Backend,
    config: MCLabelConfig,
    *,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Monte Carlo labels for every item with a known answer, appended to `output` batch by batch."""
    report = JobReport(output=output)
    items = answered_items(load_items(source, report.errors), report.errors)[:limit]
    todo = _pending(items, report, output)
    for batch in _in_batches(todo, batch_size, progress):
        labels = label_items(generator, batch, config)
        report.written += append_jsonl(output, (labelled_record(i, lab) for i, lab in zip(batch, labels, strict=True)))
    rows = read_jsonl(output)
    with_human = [r for r in rows if r.get("human_label") is not None]
    report.counts = {"labelled": len(rows), "with_error": sum(r["label"] != -1 for r in rows)}
    report.summary = {
        "agreement_with_human_labels": (
            sum(r["label"] == r["human_label"] for r in with_human) / len(with_human) if with_human else None
        ),
        "compared_with_human": len(with_human),
    }
    return report


SeedStore = Callable[[Sequence[SeedCritique]], None]
"""Stores kept seed critiques elsewhere too (the database's CritiqueRuns)."""


def dropped_path(output: Path) -> Path:
    """Where seed critiques that disagreed with their labels are recorded (so a rerun does not redo them)."""
    return output.with_name(output.name + ".dropped.jsonl")


def run_seed_critiques(
    source: Path,
    output: Path,
    teacher: Backend,
    config: SeedConfig,
    *,
    batch_size: int = 4,
    limit: int | None = None,
    store: SeedStore | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Seed critiques for labelled items: kept ones as SFT rows in `output`, dropped ones beside it."""
    report = JobReport(output=output)
    items = []
    for item in load_items(source, report.errors):
        if item.first_error_step is None:
            report.errors.append(f"item id={item.id!r}: field 'label' is missing: seed critiques need a human label")
        elif item.metadata.get("label_source") == "monte_carlo":
            report.errors.append(f"item id={item.id!r}: its label is automatic (monte_carlo), not a human label")
        else:
            items.append(item)
    items = items[:limit]
    dropped_file = dropped_path(output)
    todo = _pending(items, report, output, dropped_file)
    for batch in _in_batches(todo, batch_size, progress):
        seeds = generate_seed_critiques(teacher, batch, config)
        kept = [s for s in seeds if s.kept]
        report.written += append_jsonl(output, (s.sft_record() for s in kept))
        append_jsonl(
            dropped_file,
            ({"id": s.id, "reason": s.reason, **s.model_dump(exclude={"id"})} for s in seeds if not s.kept),
        )
        if store and kept:
            store(kept)
    report.counts = {"kept": len(read_jsonl(output)), "dropped": len(read_jsonl(dropped_file))}
    return report


def run_ctrl_critiques(
    source: Path,
    output: Path,
    teacher: Backend,
    config: CodeCritiqueConfig,
    *,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """CTRL's critique synthesis for code items: the tests run, the teacher critiques the solution with their outcome
    (execution feedback + problem + solution -> critique), and a critique is kept as an SFT row when its own verdict
    matches the tests (all pass: correct; any fails: incorrect); the others go to OUTPUT.dropped.jsonl."""
    from core.code.critique import code_critique_messages, critique_code
    from training.code_jobs import load_code_items

    report = JobReport(output=output)
    items = load_code_items(source, report.errors)[:limit]
    dropped_file = dropped_path(output)
    todo = _pending(items, report, output, dropped_file)
    for batch in _in_batches(todo, batch_size, progress):
        kept, dropped = [], []
        for item, result in zip(batch, critique_code(teacher, batch, config), strict=True):
            expected = "correct" if result.execution.all_passed else "incorrect"
            row = {
                "id": item.id,
                "prompt": code_critique_messages(item, result.feedback),
                "completion": result.raw_output,
                "verdict": expected,
                "model_verdict": result.model_verdict,
                "tests_passed": result.execution.passed,
                "tests_total": result.execution.total,
                "teacher": result.model,
            }
            if result.model_verdict == expected:
                kept.append(row)
            else:
                reason = "no readable verdict" if result.model_verdict is None else f"says {result.model_verdict}"
                dropped.append({**row, "reason": f"{reason}, the tests say {expected}"})
        report.written += append_jsonl(output, kept)
        append_jsonl(dropped_file, dropped)
    report.counts = {"kept": len(read_jsonl(output)), "dropped": len(read_jsonl(dropped_file))}
    return report


def refinement_row(item: SolutionItem, refinement: Any) -> dict[str, Any]:
    row = refinement.model_dump()
    row["diff"] = [change.model_dump() for change in step_diff(item.steps, refinement.final_steps)]
    return row


def run_refine(
    source: Path,
    output: Path,
    generator: Backend,
    critique: CritiqueFn | None,
    config: RefineConfig,
    *,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Refine every solution (critique -> revision rounds) and append each refinement with its step diff."""
    report = JobReport(output=output)
    items = load_items(source, report.errors)[:limit]
    todo = _pending(items, report, output)
    for batch in _in_batches(todo, batch_size, progress):
        refinements = refine(generator, critique, batch, config)
        report.written += append_jsonl(output, (refinement_row(i, r) for i, r in zip(batch, refinements, strict=True)))
    rows = read_jsonl(output)
    report.counts = {
        reason: sum(r.get("stop_reason") == reason for r in rows)
        for reason in ("accepted", "max_rounds", "critique_unreadable")
    }
    report.counts["changed"] = sum(r.get("final_steps") != r.get("original_steps") for r in rows)
    return report


def run_rank(
    source: Path,
    output: Path,
    generator: Backend,
    critique: CritiqueFn,
    config: RankConfig,
    *,
    batch_size: int = 2,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JobReport:
    """Best-of-N per problem with a known answer; the summary covers every row in `output`, resumed ones too."""
    report = JobReport(output=output)
    problems = distinct_problems(answered_items(load_items(source, report.errors), report.errors))[:limit]
    todo = _pending(problems, report, output)
    for batch in _in_batches(todo, batch_size, progress):
        ranked = rank(generator, critique, batch, [str(i.answer) for i in batch], config)
        report.written += append_jsonl(output, (r.model_dump() for r in ranked))
    report.summary = ranking_summary([RankedProblem.model_validate(r) for r in read_jsonl(output)])
    return report


def refine_eval_set(items: Sequence[SolutionItem], limit: int | None = None) -> list[SolutionItem]:
    """Items whose ground truth is known, alternating wrong and right original answers so both rates are measured."""
    known = [i for i in with_known_answers(items) if i.answer is not None]
    wrong = [i for i in known if not answers_match(solution_answer(i.steps), i.answer)]
    right = [i for i in known if answers_match(solution_answer(i.steps), i.answer)]
    mixed: list[SolutionItem] = []
    for position in range(max(len(wrong), len(right))):
        mixed += [group[position] for group in (wrong, right) if position < len(group)]
    return mixed[:limit] if limit else mixed


def run_refine_eval(
    source: Path,
    out_dir: Path,
    generator: Backend,
    critique: CritiqueFn,
    config: RefineConfig,
    *,
    batch_size: int = 4,
    limit: int | None = None,
    progress: Progress | None = None,
    record: bool = False,
    critic_model: str = "",
) -> JobReport:
    """w->c and c->w with and without critiques; per-item rows in DIR/items.jsonl, the summary in DIR/summary.json.

    With `record`, the run is also stored as an EvalRun (dataset `refine:<input file name>`) like other evaluations.
    """
    items_file, summary_file = out_dir / "items.jsonl", out_dir / "summary.json"
    report = JobReport(output=out_dir)
    all_items = load_items(source, report.errors)
    selected = refine_eval_set(all_items, limit)
    if not selected:
        raise BadInputError(
            f"{source}: no item has a known ground-truth answer: add 'answer' fields, or use a ProcessBench file "
            "(items with 'final_answer_correct': true, and their same-problem siblings, have one)"
        )
    todo = _pending(selected, report, items_file)
    run_id = None
    if record:
        run_id = start_eval_record(
            out_dir,
            model=critic_model,
            dataset=f"refine:{source.name}",
            config={"kind": "refine", "input": str(source), **config.model_dump(mode="json")},
            n_items=len(selected),
        )
    try:
        _refine_eval_batches(todo, items_file, generator, critique, config, batch_size, report, progress)
    except Exception as exc:
        if run_id is not None:
            finish_eval_record(run_id, {}, len(selected), error=f"{type(exc).__name__}: {exc}")
        raise
    rows = read_jsonl(items_file)
    report.summary = {
        "benchmark": "refine",
        "input": str(source),
        "generator": generator.model_name,
        "critic": critic_model,
        "rounds": config.rounds,
        "with_critique": transition_rates([RefineOutcome.model_validate(r["with_critique"]) for r in rows]),
        "without_critique": transition_rates([RefineOutcome.model_validate(r["without_critique"]) for r in rows]),
    }
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(report.summary, indent=2) + "\n", encoding="utf-8")
    if run_id is not None:
        finish_eval_record(run_id, report.summary, len(rows))
    return report


def _refine_eval_batches(
    todo: Sequence[SolutionItem],
    items_file: Path,
    generator: Backend,
    critique: CritiqueFn,
    config: RefineConfig,
    batch_size: int,
    report: JobReport,
    progress: Progress | None,
) -> None:
    without_config = config.model_copy(update={"use_critique": False, "rounds": 1})
    for batch in _in_batches(todo, batch_size, progress):
        guided = refine(generator, critique, batch, config)
        unguided = refine(generator, None, batch, without_config)
        rows = []
        for item, with_c, without_c in zip(batch, guided, unguided, strict=True):
            rows.append(
                {
                    "id": item.id,
                    "truth": item.answer,
                    "with_critique": outcome(item, str(item.answer), with_c).model_dump(),
                    "without_critique": outcome(item, str(item.answer), without_c).model_dump(),
                    "critic_first_error": [r.critique.first_error_step for r in with_c.rounds if r.critique],
                    "human_first_error": item.first_error_step,
                    "stop_reason": with_c.stop_reason,
                    "answer_with_critique": with_c.final_answer,
                    "answer_without_critique": without_c.final_answer,
                }
            )
        report.written += append_jsonl(items_file, rows)
