"""Evaluate a critic (LLM, symbolic checker, or both combined) on a benchmark: resumable, per-item JSONL, summary."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from core.benchmarks import BENCHMARK_HELP, Benchmark, load_benchmark, unique_ids
from core.config import MaxNewTokens
from core.critic import CriticSampling
from core.errors import ConfigError
from core.jsonl import append_jsonl, read_jsonl
from core.metrics import Report, format_report, format_table, percent, score_subsets, step_auroc
from core.parsing import parse_critique, repeats_a_sentence
from core.symbolic import SolutionCheck, check_solution, checker_first_error, combined_first_error
from core.types import NO_ERROR, SolutionItem
from core.voting import majority_vote

CriticKind = Literal["llm", "symbolic", "combined"]
CombineMode = Literal["override", "prompt", "both"]

PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.json"
PREDICTION_FINGERPRINT = "prediction_fingerprint"
"""Key of the prediction fingerprint in a recorded run's config (EvalRun.config)."""
# Settings that change predictions: a rerun into the same directory must use the same values to resume.
_FINGERPRINT_FIELDS = (
    "benchmark",
    "critic",
    "combine",
    "model",
    "backend",
    "mode",
    "samples",
    "temperature",
    "max_new_tokens",
    "seed",
    "all_steps",
)


class EvalConfig(CriticSampling):
    """One evaluation run: what to evaluate, with which critic (its sampling fields included), where results go."""

    config_name = "eval setting"
    keep_none = frozenset()

    benchmark: str = Field("processbench", description=f"What to evaluate on: {BENCHMARK_HELP}.")
    critic: CriticKind = Field(
        "combined",
        description="combined (default): the model plus the checker's definite errors (see combine); llm: the critic "
        "model alone; symbolic: the sympy step checker alone (no model).",
    )
    combine: CombineMode = Field(
        "override",
        description="How 'combined' uses the checker: override (a step the checker proves wrong wins when it comes "
        "before the model's answer), prompt (the checker's findings are written into the model's prompt), both.",
    )
    output: Path = Field(description="Directory for predictions.jsonl, summary.json and config.json; reused to resume.")
    model: str | None = Field(None, description="Critic model (default: CRITIC_MODEL); ignored by 'symbolic'.")
    backend: str | None = Field(None, description="Generation backend (default: CRITIC_BACKEND).")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL for the openai backend.")
    max_new_tokens: MaxNewTokens | None = Field(
        None, description="Generation budget per sample (default from settings)."
    )
    limit: int | None = Field(
        None, gt=0, description="Evaluate only N items of each subset, spread evenly (both erroneous and correct)."
    )
    batch_size: int = Field(8, gt=0, le=1024, description="Items per backend call; results are saved after each.")
    record: bool = Field(True, description="Store the run as an EvalRun row in the database.")
    model_version_id: int | None = Field(None, description="Model version the run belongs to (database link).")
    eval_set_id: int | None = Field(None, description="Registered evaluation set the run scores (database link).")

    def fingerprint(self) -> dict[str, Any]:
        values = self.model_dump(mode="json")
        uses_model = self.critic != "symbolic"
        return {k: values[k] for k in _FINGERPRINT_FIELDS if uses_model or k in {"benchmark", "critic"}}

    def prediction_fingerprint(self) -> str:
        """A digest of everything that changes this run's predictions; a stored score is reused only on an exact match.

        Generic on purpose, so a new critic setting counts without being listed here: the whole critic config the
        run's critic is built with (grammar, sampling, repetition penalty and whatever field joins them), this run's
        own settings (critic kind, combination, model, backend, budget), the model version, the CPU number format,
        and the source of the code that turns an item into a prediction (prompts, grammar, parser, critic, checker,
        backends: all of `core`, plus this module).
        """
        from core.critic import CriticConfig
        from core.settings import get_settings

        values = self.model_dump(mode="json", exclude={"output", "limit", "batch_size", "record", "eval_set_id"})
        critic = CriticConfig.build(**self.critic_options()).model_dump(mode="json")
        material = {
            "run": values,
            "critic_config": critic,
            "cpu_dtype": str(get_settings().cpu_dtype),
            "code": prediction_code_digest(),
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:32]


@cache
def prediction_code_digest() -> str:
    """A digest of the source that makes predictions (all of `core`, and this module); computed once per process."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*(root / "core").rglob("*.py"), Path(__file__).resolve()]):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def parse_rate(records: Sequence[dict[str, Any]]) -> float:
    """Share of prediction records whose critique was read cleanly (parse status ok); 0 for no records."""
    return sum(r.get("parse_status") == "ok" for r in records) / len(records) if records else 0.0


@dataclass
class EvalOutcome:
    """What a run produced: the scores over every finished item and how many items this call evaluated."""

    report: Report
    output: Path
    evaluated: int
    skipped: int
    seconds: float
    eval_run_id: int | None = None
    summary: dict[str, Any] | None = None
    strict_report: Report | None = None


# ---------------------------------------------------------------- predictions file


def read_predictions(output: Path) -> list[dict[str, Any]]:
    """Finished item records of a run directory (a torn last line is cut off and its item redone)."""
    return read_jsonl(Path(output) / PREDICTIONS_FILE)


def report_from_records(records: Sequence[dict[str, Any]]) -> Report:
    return score_subsets((r["subset"], int(r["label"]), r["prediction"]) for r in records)


def records_step_auroc(records: Sequence[dict[str, Any]], *, combined: bool = False) -> float | None:
    """Step AUROC over the records whose critic gave per-step confidences (None when none did).

    `combined`: the combined critic's confidence, 0 on a step the checker proved wrong and the model's elsewhere.
    """
    scored = [r for r in records if any(p is not None for p in r.get("step_p_correct") or [])]
    if not scored:
        return None
    confidences = [
        [
            0.0 if combined and str(i) in r.get("checker_findings", {}) else p
            for i, p in enumerate(r["step_p_correct"], 1)
        ]
        for r in scored
    ]
    return step_auroc([int(r["label"]) for r in scored], confidences)


VIEWS = {"model": "llm_prediction", "checker": "checker_prediction", "earlier_rule": "earlier_rule_prediction"}
"""Other readings of one combined run, each from its own record field."""


def view_reports(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per view (model alone, checker alone, the earlier combination rule), the scores over the records having it."""
    views = {}
    for name, key in VIEWS.items():
        having = [r for r in records if key in r]
        if having:
            views[name] = score_subsets((r["subset"], int(r["label"]), r[key]) for r in having).to_dict()
    return views


def step_aurocs_by_subset(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per subset, step AUROC of the model's own confidence ("model") and of the combined critic's ("combined")."""
    subsets: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        subsets.setdefault(record["subset"], []).append(record)
    return {
        name: {"model": records_step_auroc(rows), "combined": records_step_auroc(rows, combined=True)}
        for name, rows in subsets.items()
    }


def generation_stats(records: Sequence[dict[str, Any]]) -> dict[str, float | int]:
    """How readable and how long the critiques were: items whose output parsed cleanly, tokens per critique, and
    items where some step's critique (analysis and meta-critique) says a sentence twice."""
    with_model = [r for r in records if "completion_tokens" in r]
    tokens = [int(r["completion_tokens"]) for r in with_model]

    def loops(record: dict[str, Any]) -> bool:
        for raw in record.get("raw_outputs", []):
            parsed = parse_critique(raw, len(record.get("step_p_correct") or []) or 1)
            if any(repeats_a_sentence(f"{s.critique} {s.meta_critique}") for s in parsed.steps):
                return True
        return False

    return {
        "items": len(with_model),
        "parse_ok": sum(r.get("parse_status") == "ok" for r in with_model),
        "constrained": sum(bool(r.get("constrained")) for r in with_model),
        "mean_tokens": round(sum(tokens) / len(tokens), 1) if tokens else 0,
        "repeated_sentence": sum(loops(r) for r in with_model),
    }


def strict_report_from_records(records: Sequence[dict[str, Any]]) -> Report | None:
    """Scores of the strict predictions; None when a record has none (deliberate mode, or a run recorded before
    strict predictions were)."""
    if not records or any("strict_prediction" not in r for r in records):
        return None
    return score_subsets((r["subset"], int(r["label"]), r["strict_prediction"]) for r in records)


def strict_prediction(
    raw_outputs: Sequence[str], num_steps: int, *, all_steps: bool = False
) -> tuple[int | None, list[int | None]]:
    """The majority first-error step over the samples read in strict mode (the format's own rules), and each vote."""
    votes = [parse_critique(raw, num_steps, mode="strict", all_steps=all_steps).first_error_step for raw in raw_outputs]
    return majority_vote(votes), votes


def _check_resumable(config: EvalConfig) -> None:
    path = config.output / CONFIG_FILE
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text()).get("fingerprint", {})
    except (ValueError, AttributeError):
        raise ConfigError(f"{path} is not readable JSON: remove it or choose another --output") from None
    mine = config.fingerprint()
    changed = [
        f"{k}: {saved.get(k)!r} -> {mine.get(k)!r}"
        for k in sorted(set(saved) | set(mine))
        if saved.get(k) != mine.get(k)
    ]
    if changed:
        raise ConfigError(
            f"{config.output} holds results of a different run ({'; '.join(changed)}): "
            "rerun with the same settings to resume, or choose another --output"
        )


# ---------------------------------------------------------------- critics


def _checker_note(check: SolutionCheck, index: int) -> str:
    step = check.steps[index]
    return f"\n[Calculator check: {step.detail}]" if step.status == "wrong" else ""


def _with_checker_notes(item: SolutionItem, check: SolutionCheck) -> SolutionItem:
    """The item as the model should see it in 'prompt' mode: each step the checker proved wrong carries its finding."""
    if check.first_error_step == NO_ERROR:
        return item
    steps = [step + _checker_note(check, i) for i, step in enumerate(item.steps)]
    return item.model_copy(update={"steps": steps})


class _Runner:
    """Turns a batch of items into prediction records with the configured critic."""

    def __init__(self, config: EvalConfig, critic: Any | None) -> None:
        self.config = config
        self.critic = critic
        if config.critic != "symbolic" and self.critic is None:
            from core.critic import Critic

            server = {"base_url": config.base_url} if config.base_url else {}
            self.critic = Critic.create(model=config.model, backend=config.backend, **server, **config.critic_options())

    @property
    def model_name(self) -> str:
        return "symbolic" if self.critic is None else str(self.critic.model_name)

    def close(self) -> None:
        if self.critic is not None:
            self.critic.close()

    def run(self, batch: Sequence[tuple[str, SolutionItem]]) -> list[dict[str, Any]]:
        started = time.perf_counter()
        checks = [check_solution(item.steps, item.answer) for _, item in batch]
        records = []
        if self.config.critic == "symbolic":
            for (subset, item), check in zip(batch, checks, strict=True):
                record = self._record(subset, item, check.first_error_step, [check.first_error_step], "ok", check)
                record["strict_prediction"] = check.first_error_step  # no text to read: strict is the same
                records.append(record)
        else:
            use_prompt = self.config.critic == "combined" and self.config.combine in {"prompt", "both"}
            items = [
                _with_checker_notes(item, c) if use_prompt else item for (_, item), c in zip(batch, checks, strict=True)
            ]
            # The critic applies the checker's proofs itself ("override"); "prompt" alone shows them to the model.
            applies_proofs = self.config.critic == "combined" and self.config.combine != "prompt"
            results = self.critic.critique_many(  # type: ignore[union-attr]
                items, critic="combined" if applies_proofs else "llm"
            )
            for (subset, item), check, result in zip(batch, checks, results, strict=True):
                record = self._record(
                    subset, item, result.first_error_step, list(result.votes), result.parse_status, check
                )
                if self.config.critic == "combined":
                    record["llm_prediction"] = result.model_first_error_step
                    # The earlier combination rule on the same critique: the earlier of the model's first -1 and the
                    # checker's first proven step.
                    record["earlier_rule_prediction"] = combined_first_error(
                        result.model_first_error_step, check.first_error_step
                    )
                # Deliberate samples are per-step chains, not one critique in the format: no strict reading.
                if self.config.mode == "single":
                    strict, strict_votes = strict_prediction(
                        result.raw_outputs, len(item.steps), all_steps=self.config.all_steps
                    )
                    if applies_proofs:
                        strict = checker_first_error(strict, check.first_error_step)
                    record.update(strict_prediction=strict, strict_votes=strict_votes)
                # Per-step confidence that the step is correct, when the critic gives one (step AUROC).
                record["step_p_correct"] = [step.p_correct for step in result.steps]
                record["step_model_verdicts"] = [step.model_verdict for step in result.steps]
                record["constrained"] = result.constrained
                record["completion_tokens"] = result.completion_tokens
                record["raw_outputs"] = list(result.raw_outputs)
                records.append(record)
        seconds = (time.perf_counter() - started) / max(1, len(batch))
        for record in records:
            record["seconds"] = round(seconds, 4)
        return records

    def _record(
        self,
        subset: str,
        item: SolutionItem,
        prediction: int | None,
        votes: list[int | None],
        parse_status: str,
        check: SolutionCheck,
    ) -> dict[str, Any]:
        label = item.first_error_step if item.first_error_step is not None else NO_ERROR
        hit = prediction is not None and (prediction < 0 if label < 0 else prediction == label)
        record: dict[str, Any] = {
            "subset": subset,
            "id": item.id,
            "label": label,
            "prediction": prediction,
            "correct": hit,
            "votes": votes,
            "parse_status": parse_status,
            "checker_prediction": check.first_error_step,
            "checker_findings": {str(i): s.detail for i, s in enumerate(check.steps, start=1) if s.status == "wrong"},
        }
        if check.final_answer_correct is not None:
            record["final_answer_correct"] = check.final_answer_correct
        return record


# ---------------------------------------------------------------- the run


def run_eval(
    config: EvalConfig,
    *,
    critic: Any | None = None,
    benchmark: Benchmark | None = None,
    show_progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalOutcome:
    """Evaluate, appending one JSON line per item to DIR/predictions.jsonl; items already there are skipped.

    `critic` (a core.critic.Critic) is built from the config when not given; `on_progress(done, total)` is
    called after every batch. The summary (scores over every finished item) is rewritten at the end.
    """
    started = time.perf_counter()
    output = Path(config.output)
    _check_resumable(config)
    if benchmark is None:
        benchmark = load_benchmark(config.benchmark, limit=config.limit)
    else:  # items built in code may lack ids; results are keyed by (subset, id)
        benchmark = Benchmark(benchmark.name, {n: unique_ids(i, n) for n, i in benchmark.subsets.items()})
    output.mkdir(parents=True, exist_ok=True)
    done = {(r["subset"], r["id"]) for r in read_predictions(output)}
    todo = [(subset, item) for subset, item in benchmark.items() if (subset, item.id) not in done]
    skipped = len(benchmark) - len(todo)
    runner = _Runner(config, critic) if todo else None
    model_name = runner.model_name if runner else (config.model or "")
    prediction_fingerprint = config.prediction_fingerprint()
    (output / CONFIG_FILE).write_text(
        json.dumps(
            {
                "fingerprint": config.fingerprint(),
                PREDICTION_FINGERPRINT: prediction_fingerprint,
                "config": config.model_dump(mode="json"),
            },
            indent=2,
        )
    )
    eval_run_id = _record_start(config, model_name, len(benchmark)) if config.record else None
    try:
        eval_run_id = _run_batches(
            config, runner, todo, skipped, len(benchmark), eval_run_id, show_progress, on_progress
        )
    finally:
        if runner is not None and critic is None:
            # A critic built here owns its engine (a vLLM server holds GiBs): release it before the caller's next
            # step, not at process exit.
            runner.close()
    wanted = wanted_keys(benchmark)
    records = [r for r in read_predictions(output) if (r["subset"], r["id"]) in wanted]
    report = report_from_records(records)
    strict_report = strict_report_from_records(records)
    seconds = time.perf_counter() - started
    summary = {
        "benchmark": config.benchmark,
        "critic": config.critic,
        "combine": config.combine if config.critic == "combined" else None,
        "model": model_name,
        "samples": config.samples,
        "items": len(wanted),
        "evaluated_now": len(todo),
        "skipped_finished": skipped,
        "seconds": round(seconds, 3),
        "items_per_s": round(len(todo) / seconds, 3) if todo and seconds else None,
        "finished_at": datetime.now(UTC).isoformat(),
        **report.to_dict(),
        # The critic as it ran (combined: the checker's proofs count); per subset both views, side by side.
        "step_auroc": records_step_auroc(records, combined=config.critic == "combined"),
        "step_auroc_by_subset": step_aurocs_by_subset(records),
        "generation": generation_stats(records),
        # F1 of each view of the same run: the model's own first -1, the checker alone, the earlier rule.
        "views": view_reports(records),
        # The scores above read outputs leniently (repairs allowed); these read them by the format's own rules.
        "strict": strict_report.to_dict() if strict_report else None,
    }
    (output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    if eval_run_id is not None:
        eval_run_id = _quietly(finish_eval_record, eval_run_id, summary, len(benchmark))
    return EvalOutcome(report, output, len(todo), skipped, seconds, eval_run_id, summary, strict_report)


def _run_batches(
    config: EvalConfig,
    runner: _Runner | None,
    todo: list[tuple[str, SolutionItem]],
    skipped: int,
    total: int,
    eval_run_id: int | None,
    show_progress: bool,
    on_progress: Callable[[int, int], None] | None,
) -> int | None:
    """Append the records of every batch to the predictions file; returns the eval run id still recorded to."""
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=f"eval {config.critic}", unit="item", disable=not show_progress)
    try:
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            append_jsonl(Path(config.output) / PREDICTIONS_FILE, runner.run(batch))  # type: ignore[union-attr]
            bar.update(len(batch))
            finished = skipped + start + len(batch)
            if on_progress:
                on_progress(finished, total)
            if eval_run_id is not None:
                eval_run_id = _quietly(_db_progress, eval_run_id, finished, total)
    except BaseException as exc:
        if eval_run_id is not None:
            _quietly(finish_eval_record, eval_run_id, None, total, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        bar.close()
    return eval_run_id


def wanted_keys(benchmark: Benchmark) -> set[tuple[str, str]]:
    return {(subset, item.id) for subset, item in benchmark.items()}


def title_for(config: EvalConfig, model_name: str = "") -> str:
    who = "symbolic checker" if config.critic == "symbolic" else model_name or config.model or "default model"
    extra = f" ({config.combine})" if config.critic == "combined" else ""
    voting = f", Maj@{config.samples}" if config.samples > 1 and config.critic != "symbolic" else ""
    return f"{config.benchmark}: {config.critic}{extra} critic, {who}{voting}"


def format_strict_vs_lenient(lenient: Report, strict: Report | None) -> str:
    """F1 and unreadable outputs per subset with lenient parsing (repairs allowed) and strict parsing side by side."""
    if strict is None:
        return "strict parsing: not available (deliberate mode, or a run recorded before strict predictions)"
    rows = [("subset", "F1 lenient", "F1 strict", "unparsed lenient", "unparsed strict")]
    for name, scores in lenient.subsets.items():
        other = strict.subsets[name]
        rows.append((name, percent(scores.f1), percent(other.f1), str(scores.unparseable), str(other.unparseable)))
    if len(lenient.subsets) > 1:
        rows.append(("average", percent(lenient.average_f1), percent(strict.average_f1), "", ""))
    return format_table(rows)


def format_outcome(outcome: EvalOutcome, config: EvalConfig) -> str:
    note = f"\n{outcome.evaluated} evaluated, {outcome.skipped} already finished (resumed)" if outcome.skipped else ""
    side_by_side = format_strict_vs_lenient(outcome.report, outcome.strict_report)
    return (
        format_report(outcome.report, title_for(config))
        + f"\n\n{side_by_side}"
        + _extras(outcome.summary)
        + note
        + f"\nresults: {outcome.output}"
    )


def _extras(summary: dict[str, Any] | None) -> str:
    """Step AUROC per subset and how readable the critiques were, below the F1 table."""
    if not summary:
        return ""
    lines = []

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def show_f1(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    for name, scores in summary.get("views", {}).items():
        per_subset = ", ".join(f"{subset} {show_f1(v.get('f1'))}" for subset, v in scores["subsets"].items())
        lines.append(f"F1 {name.replace('_', ' ')}: {per_subset}")
    for subset, kinds in summary.get("step_auroc_by_subset", {}).items():
        lines.append(f"step AUROC {subset}: model {show(kinds['model'])}, combined {show(kinds['combined'])}")
    stats = summary.get("generation", {})
    if stats.get("items"):
        lines.append(
            f"critiques read cleanly: {stats['parse_ok']}/{stats['items']}, constrained: {stats['constrained']}, "
            f"mean tokens per critique: {stats['mean_tokens']}, "
            f"a step repeating a sentence: {stats.get('repeated_sentence', 0)}"
        )
    return "\n" + "\n".join(lines) if lines else ""


# ---------------------------------------------------------------- database (optional: the run works without it)


def _quietly(update: Callable[..., None], run_id: int, *args: Any, **kwargs: Any) -> int | None:
    """Run a database update; on failure warn once and stop recording (the files stay complete)."""
    try:
        update(run_id, *args, **kwargs)
        return run_id
    except Exception as exc:  # noqa: BLE001
        warnings.warn(f"stopped recording eval run #{run_id}: {type(exc).__name__}: {exc}", stacklevel=2)
        return None


def _record_start(config: EvalConfig, model_name: str, n_items: int) -> int | None:
    try:
        return start_eval_record(
            Path(config.output),
            model=model_name,
            dataset=config.benchmark,
            config={**config.model_dump(mode="json"), PREDICTION_FINGERPRINT: config.prediction_fingerprint()},
            n_items=n_items,
            model_version_id=config.model_version_id,
            eval_set_id=config.eval_set_id,
        )
    except Exception as exc:  # noqa: BLE001 - the evaluation is worth more than its database row
        warnings.warn(f"not recording the run in the database: {type(exc).__name__}: {exc}", stacklevel=3)
        return None


def start_eval_record(output: Path, **fields: Any) -> int:
    """Record an evaluation writing into `output` as running; `fields` are db.evals.start_eval_run's (model,
    dataset, config, n_items, ...). Returns the EvalRun row's id."""
    from db.evals import start_eval_run
    from db.session import init_db, session_scope

    init_db()
    with session_scope() as session:
        return start_eval_run(session, predictions_path=str(output.resolve()), **fields).id


def _db_progress(run_id: int, done: int, total: int) -> None:
    from db.evals import update_eval_progress
    from db.session import session_scope

    with session_scope() as session:
        update_eval_progress(session, run_id=run_id, progress=done / total if total else 1.0)


def finish_eval_record(run_id: int, summary: dict[str, Any] | None, n_items: int, error: str | None = None) -> None:
    """Store a recorded evaluation's summary, or the error that stopped it."""
    from db.evals import finish_eval_run
    from db.session import session_scope

    with session_scope() as session:
        finish_eval_run(session, run_id=run_id, metrics=summary or {}, n_items=n_items, error=error)


# ---------------------------------------------------------------- comparing two runs


@dataclass
class Comparison:
    """Two runs scored on the items both finished, and every item whose prediction differs."""

    report_a: Report
    report_b: Report
    changed: list[dict[str, Any]]
    only_a: int
    only_b: int


def compare_runs(dir_a: Path, dir_b: Path) -> Comparison:
    """Compare two run directories per subset (on their common items) and per item."""
    runs = []
    for directory in (Path(dir_a), Path(dir_b)):
        if not (directory / PREDICTIONS_FILE).exists():
            raise ConfigError(f"{directory} has no {PREDICTIONS_FILE}: is it an eval output directory?")
        runs.append({(r["subset"], r["id"]): r for r in read_predictions(directory)})
    a, b = runs
    common = [key for key in a if key in b]
    changed = []
    for key in common:
        ra, rb = a[key], b[key]
        if ra["prediction"] == rb["prediction"]:
            continue
        status = "fixed" if rb["correct"] and not ra["correct"] else "broken" if ra["correct"] else "changed"
        changed.append(
            {
                "subset": key[0],
                "id": key[1],
                "label": ra["label"],
                "a": ra["prediction"],
                "b": rb["prediction"],
                "status": status,
            }
        )
    return Comparison(
        report_from_records([a[k] for k in common]),
        report_from_records([b[k] for k in common]),
        changed,
        only_a=len(a) - len(common),
        only_b=len(b) - len(common),
    )


def format_comparison(comparison: Comparison, *, max_items: int = 40) -> str:
    """A per-subset table of A, B and B - A, then the items whose prediction changed."""

    def delta(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{100 * (b - a):+.1f}"

    rows = [("subset", "n", "F1 A", "F1 B", "dF1", "err A", "err B", "corr A", "corr B")]
    names = list(comparison.report_a.subsets)
    for name in names:
        sa, sb = comparison.report_a.subsets[name], comparison.report_b.subsets[name]
        rows.append(
            (
                name,
                str(sa.total),
                percent(sa.f1),
                percent(sb.f1),
                delta(sa.f1, sb.f1),
                percent(sa.error_acc),
                percent(sb.error_acc),
                percent(sa.correct_acc),
                percent(sb.correct_acc),
            )
        )
    if len(names) > 1:
        fa, fb = comparison.report_a.average_f1, comparison.report_b.average_f1
        rows.append(("average", "", percent(fa), percent(fb), delta(fa, fb), "", "", "", ""))
    lines = [format_table(rows)]
    counts = {s: sum(c["status"] == s for c in comparison.changed) for s in ("fixed", "broken", "changed")}
    lines.append(
        f"\n{len(comparison.changed)} items changed: {counts['fixed']} fixed, {counts['broken']} broken, "
        f"{counts['changed']} still wrong but different"
    )
    if comparison.only_a or comparison.only_b:
        lines.append(f"not compared: {comparison.only_a} items only in A, {comparison.only_b} only in B")
    for change in comparison.changed[:max_items]:
        lines.append(
            f"  {change['status']:<7} {change['subset']}/{change['id']}: label {change['label']}, "
            f"A {change['a']}, B {change['b']}"
        )
    if len(comparison.changed) > max_items:
        lines.append(f"  ... and {len(comparison.changed) - max_items} more")
    return "\n".join(lines)
