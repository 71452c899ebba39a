"""One queued job in its own process: training (data -> train -> register -> evaluate -> promote?) or item critiques.

Run as `python -m training.job JOB_ID --worker-id W --attempt N` (or under `accelerate launch ... -m training.job`).
Exit codes: 0 done, 4 stopped because cancel was requested, 1 failed (the traceback is in the log).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

EXIT_CANCELLED = 4


class DatabaseReporter:
    """Streams a job's progress, metrics and log lines into the database (main process only)."""

    def __init__(self, job_id: int, *, is_main_process: bool = True, cancel_poll_s: float = 1.0) -> None:
        from db.session import get_sessionmaker

        self.job_id = job_id
        self.is_main_process = is_main_process
        self._session = get_sessionmaker()()
        self._cancel_poll_s = cancel_poll_s
        self._last_poll = 0.0
        self._cancelled = False

    def metric(self, step: int, name: str, value: float) -> None:
        from training.queue import add_metrics

        if self.is_main_process:
            add_metrics(self._session, job_id=self.job_id, points=[(step, name, value)])

    def log(self, message: str, level: str = "info") -> None:
        from training.queue import add_log

        if self.is_main_process:
            add_log(self._session, job_id=self.job_id, message=message, level=level)
        print(f"[{level}] {message}", flush=True)

    def progress(self, step: int, total: int) -> None:
        from training.queue import set_progress

        if self.is_main_process:
            set_progress(self._session, job_id=self.job_id, step=step, total=total)

    def should_stop(self) -> bool:
        from training.queue import is_cancel_requested

        now = time.monotonic()
        if not self._cancelled and now - self._last_poll >= self._cancel_poll_s:
            self._last_poll = now
            self._cancelled = is_cancel_requested(self._session, job_id=self.job_id)
        return self._cancelled

    def close(self) -> None:
        self._session.close()


def _exit_when_parent_dies() -> None:
    # The worker holds our stdin pipe open; EOF means it died (even by kill -9), so stop at once
    # instead of training on as an orphan that nobody heartbeats.
    def watch() -> None:
        try:  # os.read, not sys.stdin: a buffered read would block interpreter shutdown on its lock
            while os.read(0, 1024):
                pass
        except Exception:  # a closed or odd stdin also means nobody is watching over us
            pass
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def resolve_base_model(session: Any, base_model: str) -> tuple[str, int | None]:
    """(model path, parent version id) for the config's base_model."""
    from core.models import resolve_model
    from core.settings import get_settings
    from training.registry import active_model

    if base_model == "active":
        version = active_model(session)
        if version is not None:
            return version.path, version.id
        return str(resolve_model(get_settings().model)), None
    return str(resolve_model(base_model)), None


def _teacher(config: Any, model_path: str) -> Any:
    from core.backends import create_backend

    if config.teacher_backend == "template":
        return None
    if config.teacher_backend == "current":
        return create_backend("transformers", model_path)
    return create_backend(config.teacher_backend, config.teacher_model)


def run_job(job_id: int, *, worker_id: str, attempt: int) -> int:
    """Run the job to the end; returns the process exit code."""
    from core.settings import get_settings
    from db.session import get_sessionmaker
    from training import queue

    _log_start(job_id, attempt)
    from accelerate import PartialState

    state = PartialState()
    settings = get_settings()
    session = get_sessionmaker()()
    job = queue.get_job(session, job_id=job_id)
    config = queue.job_config(job)
    reporter = DatabaseReporter(job_id, is_main_process=state.is_main_process)
    out_dir = Path(job.output_path or settings.jobs_dir / str(job_id)) / f"attempt-{attempt}"
    out_dir.mkdir(parents=True, exist_ok=True)

    model_path, parent_id = resolve_base_model(session, config.base_model)
    reporter.log(f"base model: {model_path}" + (f" (version {parent_id})" if parent_id else ""))
    snapshot = _data_snapshot(session, reporter, config, offline=settings.offline)
    job_metrics: dict[str, Any] = {"data": snapshot.counts}
    rows_file = out_dir / "train_rows.json"
    if state.is_main_process:
        _write_train_rows(session, reporter, config, snapshot, model_path, out_dir, job_metrics)
    state.wait_for_everyone()
    rows = json.loads(rows_file.read_text(encoding="utf-8"))
    outcome = _train(config, model_path, rows, out_dir, reporter)
    if outcome.stopped_early or outcome.model_dir is None:
        reporter.log(f"stopped at step {outcome.steps} because cancel was requested", "warning")
        return EXIT_CANCELLED
    if not state.is_main_process:
        return 0
    job_metrics["train"] = outcome.metrics
    queue.update_job_fields(session, job_id=job_id, metrics=job_metrics)
    version_id = _register(session, reporter, job_id, config, outcome, model_path, parent_id, snapshot)
    if config.evaluate:
        _evaluate_and_gate(session, reporter, config, version_id, snapshot.validation, job_id)
    return 0


def _log_start(job_id: int, attempt: int) -> None:
    # The first line comes before the heavy imports (torch, accelerate, TRL), so a job never sits silent.
    starting = DatabaseReporter(job_id, is_main_process=os.environ.get("RANK", "0") == "0")
    starting.log(
        f"job {job_id} started (attempt {attempt}): loading the training libraries; then data snapshot, "
        "targets, training, evaluation"
    )
    starting.close()


def _data_snapshot(session: Any, reporter: DatabaseReporter, config: Any, *, offline: bool) -> Any:
    """The job's training data, with what it holds and what it left out in the log."""
    from training.data import build_snapshot

    reporter.log("data snapshot: reading annotations" + (" and PRM800K" if config.prm800k else ""))
    snapshot = build_snapshot(session, config, offline=offline)
    for warning in snapshot.warnings:
        reporter.log(warning, "warning")
    counts = ", ".join(f"{k}={v}" for k, v in snapshot.counts.items())
    reporter.log(f"data snapshot {snapshot.data_hash[:12]}: {counts}")
    if config.use_annotations:
        c, classes = snapshot.counts, "on" if config.use_class_labels else "off"
        reporter.log(
            f"human labels ({', '.join(config.statuses)}; class corrections {classes}): {c['labels_campaign']} "
            f"from campaigns, {c['labels_import']} imported, {c['labels_critique_tab']} "
            f"from the Critique tab, {c['labels_class']} from teachers' classes; left out: "
            f"{c['labels_awaiting_review']} awaiting a reviewer's approval, {c['labels_class_left_out']} class "
            "correction(s)"
        )
    reporter.log(
        f"evaluation sets: {snapshot.counts['eval_set_excluded']} item(s) of registered evaluation-set problems "
        "left out of this snapshot (checked: none of its items is from those problems)"
    )
    return snapshot


def _write_train_rows(
    session: Any,
    reporter: DatabaseReporter,
    config: Any,
    snapshot: Any,
    model_path: str,
    out_dir: Path,
    job_metrics: dict[str, Any],
) -> None:
    """Write the manifest and the training rows (SFT targets or GRPO prompts) for every process to read."""
    from training import queue
    from training.data import record_dataset_version
    from training.targets import build_sft_targets, grpo_prompts

    version_id = record_dataset_version(session, snapshot, purpose=f"training job {reporter.job_id}")
    if version_id is not None:
        job_metrics["dataset_version_id"] = version_id
        reporter.log(
            f"dataset version {version_id}: the snapshot's human labels at the versions it trains on "
            f"(`critic export --version {version_id} -o FILE` writes them as PRM800K lines)"
        )
    (out_dir / "data_manifest.json").write_text(json.dumps(snapshot.manifest(), indent=1), encoding="utf-8")
    if config.job == "sft":
        teacher = _teacher(config, model_path)
        reporter.log(f"SFT targets for {len(snapshot.train)} item(s): teacher {config.teacher_backend}")
        targets = build_sft_targets(
            snapshot.train,
            teacher=teacher,
            samples=config.teacher_samples,
            max_new_tokens=config.teacher_max_new_tokens,
            seed=config.seed,
            on_progress=lambda done, total: reporter.log(f"teacher critiques: {done}/{total} item(s) written"),
        )
        if teacher is not None:
            teacher.close()
        rows = targets.examples
        job_metrics["target_paths"] = targets.counts
        reporter.log("SFT targets: " + ", ".join(f"{k}={v}" for k, v in targets.counts.items()))
    elif config.reward == "revision":
        from training.revision_reward import revision_rows

        rows = revision_rows(snapshot.train, config.code_tasks)
        kinds = {kind: sum(row["kind"] == kind for row in rows) for kind in ("code", "math")}
        reporter.log(
            f"revision reward: {kinds['code']} code task(s) with their tests run, {kinds['math']} math item(s) with "
            "a known answer"
        )
    else:
        rows = grpo_prompts(snapshot.train)
    (out_dir / "train_rows.json").write_text(json.dumps(rows), encoding="utf-8")
    queue.update_job_fields(
        session,
        job_id=reporter.job_id,
        data_hash=snapshot.data_hash,
        metrics=job_metrics,
        output_path=str(out_dir.parent),
    )


def _train(config: Any, model_path: str, rows: list[Any], out_dir: Path, reporter: DatabaseReporter) -> Any:
    if config.job == "sft":
        from training.sft import run_sft

        return run_sft(config, model_path=model_path, train_examples=rows, output_dir=out_dir, reporter=reporter)
    from training.grpo import run_grpo

    return run_grpo(config, model_path=model_path, train_rows=rows, output_dir=out_dir, reporter=reporter)


def _register(
    session: Any,
    reporter: DatabaseReporter,
    job_id: int,
    config: Any,
    outcome: Any,
    model_path: str,
    parent_id: int | None,
    snapshot: Any,
) -> int:
    """Register the trained model as a candidate version; returns its id."""
    from training import registry

    version = registry.register_candidate(
        session,
        job_id=job_id,
        path=str(outcome.model_dir),
        base_model=model_path,
        parent_id=parent_id,
        data_hash=snapshot.data_hash,
        config=config.model_dump(mode="json"),
        metrics={"train": outcome.metrics, "data": snapshot.counts},
    )
    reporter.log(f"registered model version {version.id} ({version.name}) as candidate")
    return version.id


def _evaluate_and_gate(
    session: Any, reporter: DatabaseReporter, config: Any, version_id: int, held_out: list[Any], job_id: int
) -> None:
    from core.errors import CriticError
    from core.models import resolve_model
    from core.settings import get_settings
    from core.types import SolutionItem
    from training import gate, registry

    own_items = [
        SolutionItem(id=i.source_id, problem=i.problem, steps=list(i.steps), first_error_step=i.first_error_step)
        for i in held_out
    ]
    sets = gate.gate_sets(session, names=config.eval_sets, held_out=own_items, max_items=config.eval_max_items)
    # What serves now is what the candidate must beat; promotion later only happens if it still serves.
    serving = registry.active_model(session)
    expected_id = serving.id if serving is not None else None
    candidate = registry.get_version(session, version_id=version_id)
    eval_dir = Path(candidate.path).parent / "eval"
    where = ", ".join(f"{s.name} ({len(s.items)} items)" for s in sets) or "nothing"
    reporter.log(f"gate: scoring the candidate and the serving model on {where}")
    cand: dict[Any, Any] = {}
    for gate_set in sets:
        cand.update(_score(config, reporter, candidate.path, version_id, gate_set, eval_dir, "candidate"))
    reference: dict[Any, Any] | None = {}
    try:
        ref_model = serving.path if serving is not None else str(resolve_model(get_settings().model))
    except CriticError as exc:  # e.g. a served model name: not loadable here, so there is nothing to compare with
        reporter.log(f"the serving model cannot be evaluated here ({exc}): no automatic promotion", "warning")
        reference = None
    if reference is not None:
        for gate_set in sets:
            stored = gate.stored_scores(
                session,
                model_version_id=expected_id,
                model=ref_model,
                gate_set=gate_set,
                max_new_tokens=config.eval_max_new_tokens,
                backend=config.eval_backend,
            )
            if stored is not None:
                reporter.log(f"the serving model's stored predictions on {gate_set.name} are reused")
            else:
                reporter.log(
                    f"evaluating the serving model ({ref_model}) on {gate_set.name} (no stored run with the same "
                    f"prediction fingerprint read cleanly on {100 * gate.REFERENCE_MIN_PARSE_RATE:.0f}% of its items)"
                )
                stored = _score(config, reporter, ref_model, expected_id, gate_set, eval_dir, "reference")
            reference.update(stored)
    decision = gate.decide(
        cand,
        reference,
        min_lift=config.promote_min_delta,
        min_items=config.gate_min_items,
        auto_promote=config.auto_promote,
        resamples=config.gate_resamples,
        seed=config.seed,
    )
    version = registry.apply_gate(
        session, version_id=version_id, decision=decision, expected_serving_id=expected_id, actor=f"gate (job {job_id})"
    )
    reporter.metric(0, "eval/f1", decision.candidate_score or 0.0)
    verb = "promoted to active" if version.status == registry.ACTIVE else "kept as candidate"
    reporter.log(f"model version {version_id} {verb}: {version.metrics['gate']['reason']}")


def _score(
    config: Any,
    reporter: DatabaseReporter,
    model: str,
    version_id: int | None,
    gate_set: Any,
    eval_dir: Path,
    role: str,
) -> dict[Any, Any]:
    """Score one model (`role`: candidate or reference) on one gate set, its predictions under eval_dir."""
    from training import gate

    who = "candidate" if role == "candidate" else "serving model"
    return gate.evaluate_on_set(
        model,
        gate_set,
        output=eval_dir / gate_set.name / role,
        max_new_tokens=config.eval_max_new_tokens,
        model_version_id=version_id,
        backend=config.eval_backend,
        on_progress=_eval_progress(reporter, f"{who} on {gate_set.name}"),
    )


def run_any_job(job_id: int, *, worker_id: str, attempt: int) -> int:
    """Run a job of any kind the worker claims: critique_items here, training in `run_job`."""
    from db.session import get_sessionmaker
    from training.item_critiques import CRITIQUE_ITEMS, run_critique_job
    from training.queue import get_job

    with get_sessionmaker()() as session:
        job = get_job(session, job_id=job_id)
    if job.kind == "actor":
        return _run_actor(job_id, attempt)
    if job.kind != CRITIQUE_ITEMS:
        return run_job(job_id, worker_id=worker_id, attempt=attempt)
    with get_sessionmaker()() as session:
        reporter = DatabaseReporter(job_id)
        try:
            return 0 if run_critique_job(session, job, reporter) else EXIT_CANCELLED
        finally:
            reporter.close()


def _run_actor(job_id: int, attempt: int) -> int:
    """The actor's self-improvement job (training.actor_job), in this process."""
    from core.settings import get_settings
    from db.session import get_sessionmaker
    from training.actor_job import run_actor_job
    from training.queue import get_job

    _log_start(job_id, attempt)
    with get_sessionmaker()() as session:
        job = get_job(session, job_id=job_id)
        out_dir = Path(job.output_path or get_settings().jobs_dir / str(job_id)) / f"attempt-{attempt}"
        out_dir.mkdir(parents=True, exist_ok=True)
        reporter = DatabaseReporter(job_id)
        try:
            return 0 if run_actor_job(session, job, reporter, out_dir) else EXIT_CANCELLED
        finally:
            reporter.close()


def _eval_progress(reporter: DatabaseReporter, what: str) -> Any:
    """An evaluation's on_progress that logs how many items of `what` are scored."""
    return lambda done, total: reporter.log(f"evaluation of the {what}: {done}/{total} item(s) scored")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.job", description=__doc__)
    parser.add_argument("job_id", type=int)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes (the worker died)")
    args = parser.parse_args(argv)
    if args.watch_stdin:
        _exit_when_parent_dies()
    try:
        return run_any_job(args.job_id, worker_id=args.worker_id, attempt=args.attempt)
    except Exception as exc:
        from core.errors import CriticError

        if not isinstance(exc, CriticError):  # a refused setting or input says enough in one line
            traceback.print_exc()
        try:
            from db.session import get_sessionmaker
            from training.queue import add_log

            with get_sessionmaker()() as session:
                add_log(session, job_id=args.job_id, message=f"{exc.__class__.__name__}: {exc}", level="error")
        except Exception:
            pass
        print(f"JOB FAILED: {exc.__class__.__name__}: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
