"""Training jobs end to end through the queue and a worker: SFT and GRPO on a tiny model, cancel, kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.eval_sets import create_eval_set
from db.models import EvalRun
from tests.training.helpers import add_labelled_items, arithmetic_item, wait_for
from training import queue, registry
from training.config import load_config
from training.worker import Worker, WorkerOptions


def _weights(model_dir: Path) -> dict:
    return load_file(str(Path(model_dir) / "model.safetensors"))


def _changed(before: dict, after: dict) -> bool:
    return any(not before[name].equal(after[name]) for name in before)


def _run_to_success(session: Session, config: object) -> object:
    """Queue the job, let a worker run it to the end, and check it succeeded (its log in the failure message)."""
    job = queue.enqueue_job(session, config=config)
    assert Worker(WorkerOptions(exit_when_idle=True, poll_interval_s=0.1)).run() == 1
    done = queue.get_job(session, job_id=job.id)
    logs = "\n".join(line.message for line in queue.job_logs(session, job_id=job.id))
    assert done.status == "succeeded", f"{done.error}\n{logs}"
    return done


def test_sft_job_trains_registers_and_is_gated_on_the_registered_set(
    sqlite_session: Session, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRITIC_MODEL", str(tiny_model_dir))  # the model served before any promotion
    add_labelled_items(sqlite_session, 8, accepted=2)
    # Problems 6 and 7 are the registered evaluation set: annotated too, but never trained on.
    create_eval_set(
        sqlite_session, name="gate-set", items=[arithmetic_item(i, wrong=i % 2 == 1) for i in (6, 7)], source="test"
    )
    config = load_config(
        "sft",
        None,
        {
            "base_model": str(tiny_model_dir),
            "max_steps": 2,
            "per_device_batch_size": 2,
            "learning_rate": 1e-3,
            "max_length": 512,
            "teacher_backend": "template",
            "validation_fraction": 0.3,
            "eval_max_new_tokens": 8,
        },
    )
    done = _run_to_success(sqlite_session, config)
    logs = "\n".join(line.message for line in queue.job_logs(sqlite_session, job_id=done.id))
    assert done.progress == 1.0 and done.data_hash
    paths = done.metrics["target_paths"]
    assert paths["generated"] == 0 and paths["stored"] + paths["template"] == done.metrics["data"]["train"]
    assert done.metrics["data"]["validation"] > 0
    curves = queue.job_metrics(sqlite_session, job_id=done.id)
    assert [step for step, _ in curves["loss"]] == [1, 2]
    assert f"SFT targets: stored={paths['stored']}" in logs
    dataset_version = done.metrics["dataset_version_id"]  # the snapshot's labels, exportable as they were trained on
    assert f"dataset version {dataset_version}: the snapshot's human labels" in logs

    assert done.metrics["data"]["eval_set_excluded"] == 2
    assert "evaluation sets: 2 item(s) of registered evaluation-set problems left out" in logs

    version = registry.get_version(sqlite_session, version_id=done.result_model_version_id)
    assert version.data_hash == done.data_hash and version.config["job_id"] == done.id
    assert _changed(_weights(tiny_model_dir), _weights(Path(version.path)))
    # Both the candidate and the served default were scored on the registered set; two items decide nothing.
    runs = sqlite_session.scalars(select(EvalRun).where(EvalRun.eval_set_id.is_not(None))).all()
    assert {(r.model_version_id, r.n_items) for r in runs} == {(version.id, 2), (None, 2)}
    assert version.status == registry.CANDIDATE and not version.metrics["gate"]["promoted"]
    assert "fewer than gate_min_items" in version.metrics["gate"]["reason"]
    assert registry.serving_model(sqlite_session, "embedded") == "embedded"


def test_grpo_job_logs_reward_and_changes_weights(sqlite_session: Session, answering_tiny_model_dir: Path) -> None:
    add_labelled_items(sqlite_session, 6)
    config = load_config(
        "grpo",
        None,
        {
            "base_model": str(answering_tiny_model_dir),
            "max_steps": 2,
            "per_device_batch_size": 8,
            "num_generations": 8,
            "max_completion_length": 96,  # the no-error reply is 83 tokens
            "temperature": 1.0,
            "learning_rate": 1e-3,
            "format_reward_weight": 0.2,
            "validation_fraction": 0.0,
            "evaluate": False,
        },
    )
    done = _run_to_success(sqlite_session, config)
    curves = queue.job_metrics(sqlite_session, job_id=done.id)
    assert [step for step, _ in curves["reward"]] == [1, 2]
    assert "reward/correctness_reward" in curves and "reward/format_reward" in curves
    # Rewards read completions strictly, so only the complete critiques the model samples earn them.
    assert any(value > 0 for _, value in curves["reward/correctness_reward"])
    assert any(value > 0 for _, value in curves["reward/format_reward"])
    version = registry.get_version(sqlite_session, version_id=done.result_model_version_id)
    assert version.status == registry.CANDIDATE and version.data_hash == done.data_hash
    assert _changed(_weights(answering_tiny_model_dir), _weights(Path(version.path)))


def _long_sft(model_dir: Path) -> object:
    return load_config(
        "sft",
        None,
        {
            "base_model": str(model_dir),
            "max_steps": 10_000,
            "per_device_batch_size": 1,
            "max_length": 512,
            "teacher_backend": "template",
            "validation_fraction": 0.0,
            "evaluate": False,
        },
    )


def _job_pid(session: Session, job_id: int, attempt: int = 1) -> int | None:
    """The job process of `attempt`, from the worker's "started process N (attempt K)" log line."""
    for line in queue.job_logs(session, job_id=job_id):
        if match := re.fullmatch(rf"started process (\d+) \(attempt {attempt}\)", line.message):
            return int(match.group(1))
    return None


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent has not collected it yet


def test_cancel_stops_a_running_job(sqlite_session: Session, tiny_model_dir: Path) -> None:
    add_labelled_items(sqlite_session, 4)
    job = queue.enqueue_job(sqlite_session, config=_long_sft(tiny_model_dir))
    from training.worker import run_worker_in_background

    background = run_worker_in_background(WorkerOptions(exit_when_idle=True, poll_interval_s=0.1))
    try:
        wait_for(
            lambda: (
                queue.job_metrics(sqlite_session, job_id=job.id).get("loss")
                or queue.get_job(sqlite_session, job_id=job.id).status in queue.FINISHED
            ),
            timeout=240,
            what="training",
        )
        pid = _job_pid(sqlite_session, job.id)
        assert pid is not None and not _gone(pid)
        queue.request_cancel(sqlite_session, job_id=job.id)
        wait_for(lambda: queue.get_job(sqlite_session, job_id=job.id).status == "cancelled", timeout=30, what="cancel")
        assert _gone(pid)
    finally:
        background.stop()
    cancelled = queue.get_job(sqlite_session, job_id=job.id)
    assert cancelled.result_model_version_id is None and cancelled.progress < 1.0
    assert registry.list_versions(sqlite_session) == []


def _start_worker(timeout_s: float) -> subprocess.Popen[bytes]:
    code = "from cli.main import main; main()"
    args = ["worker", "--heartbeat-timeout", str(timeout_s), "--poll-interval", "0.2"]
    return subprocess.Popen([sys.executable, "-c", code, *args], env=dict(os.environ))


def test_kill_9_worker_job_is_requeued_once_then_failed(sqlite_session: Session, tiny_model_dir: Path) -> None:
    add_labelled_items(sqlite_session, 2)
    job = queue.enqueue_job(sqlite_session, config=_long_sft(tiny_model_dir))
    timeout = 3.0
    for attempt in (1, 2):
        worker = _start_worker(timeout)
        try:
            pid = wait_for(
                lambda a=attempt: _job_pid(sqlite_session, job.id, a), timeout=60, what=f"attempt {attempt} to start"
            )
            assert queue.get_job(sqlite_session, job_id=job.id).status == "running"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            # The job process notices its worker is gone and exits instead of training on as an orphan.
            wait_for(lambda p=pid: _gone(p), timeout=30, what="the orphaned job process to exit")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        stale = queue.get_job(sqlite_session, job_id=job.id)
        assert stale.status == "running"  # nobody is left to say otherwise until the heartbeat times out
        wait_for(
            lambda: queue.reap_stale_jobs(sqlite_session, timeout_s=timeout) or None,
            timeout=30,
            what="the heartbeat to time out",
        )
        after = queue.get_job(sqlite_session, job_id=job.id)
        if attempt == 1:
            assert (after.status, after.attempts) == ("queued", 1)
        else:
            assert after.status == "failed"
            assert "no heartbeat" in after.error and "not retried" in after.error


@pytest.mark.slow
def test_sft_job_on_the_embedded_model(sqlite_session: Session, embedded_model_dir: Path) -> None:
    add_labelled_items(sqlite_session, 3)
    config = load_config(
        "sft",
        None,
        {
            "base_model": str(embedded_model_dir),
            "max_steps": 2,
            "per_device_batch_size": 1,
            "learning_rate": 1e-5,
            "max_length": 512,
            "teacher_backend": "template",
            "validation_fraction": 0.0,
            "evaluate": False,
        },
    )
    done = _run_to_success(sqlite_session, config)
    assert len(queue.job_metrics(sqlite_session, job_id=done.id)["loss"]) == 2
    version = registry.get_version(sqlite_session, version_id=done.result_model_version_id)
    assert _changed(_weights(embedded_model_dir), _weights(Path(version.path)))


def test_the_default_sft_job_logs_from_its_start_and_finishes(
    sqlite_session: Session, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRITIC_MODEL", str(tiny_model_dir))  # what "active" resolves to before any promotion
    add_labelled_items(sqlite_session, 8, accepted=2)
    done = _run_to_success(sqlite_session, load_config("sft", None, {}))  # every field at its default
    lines = queue.job_logs(sqlite_session, job_id=done.id)
    messages = [line.message for line in lines]
    assert done.progress == 1.0
    # The job's first line is written before the libraries load, so the log is never silent while the job runs.
    spawned = next(i for i, m in enumerate(messages) if m.startswith("started process"))  # the worker's line
    first = lines[spawned + 1]
    assert first.message.startswith(f"job {done.id} started")
    assert (first.created_at - done.started_at).total_seconds() < 15
    phases = [f"job {done.id} started", "data snapshot:", "SFT targets for", "training started", "registered model"]
    positions = [next(i for i, m in enumerate(messages) if m.startswith(p)) for p in phases]
    assert positions == sorted(positions)
    # Template targets by default: no generation before training starts.
    assert done.metrics["target_paths"]["generated"] == 0
    assert not any(m.startswith("teacher critiques") for m in messages)
