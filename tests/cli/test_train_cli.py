"""`critic train` / `critic model` as an admin runs them: submit (bad configs rejected), status, logs, cancel,
list / promote / roll back."""

from __future__ import annotations

from pathlib import Path

from db.session import session_scope
from tests.cli.runner import critic
from training import queue, registry


def test_bad_config_is_rejected_at_submit_time_and_nothing_is_queued(sqlite_db_url: str, tmp_path: Path) -> None:
    result = critic("train", "grpo", "--num-generations", "3", "--batch-size", "4")
    assert result.exit_code == 2 and "must be a multiple of num_generations" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: -0.1\n", encoding="utf-8")
    result = critic("train", "sft", "--config", str(bad))
    assert result.exit_code == 2 and "learning_rate: Input should be greater than 0 (got -0.1)" in result.output
    result = critic("train", "sft", "--set", "lora_rank=8")
    assert result.exit_code == 2 and "lora_rank: unknown field" in result.output
    with session_scope(sqlite_db_url) as session:
        assert queue.list_jobs(session) == []


def test_submit_status_logs_cancel(sqlite_db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text("max_steps: 5\nuse_lora: true\nlora_r: 4\n", encoding="utf-8")
    result = critic("train", "sft", "--config", str(config), "--set", "learning_rate=2e-5")
    assert result.exit_code == 0 and "queued sft job 1" in result.output
    with session_scope(sqlite_db_url) as session:
        stored = queue.job_config(queue.get_job(session, job_id=1))
    assert (stored.max_steps, stored.use_lora, stored.lora_r, stored.learning_rate) == (5, True, 4, 2e-5)

    result = critic("train", "status")
    assert result.exit_code == 0 and "sft   queued" in result.output
    result = critic("train", "cancel", "1")
    assert result.exit_code == 0 and "job 1 cancelled" in result.output
    result = critic("train", "cancel", "1")
    assert result.exit_code == 4 and "already cancelled" in result.output
    result = critic("train", "logs", "1")
    assert (
        result.exit_code == 0 and "queued sft job" in result.output and "cancelled before it started" in result.output
    )
    result = critic("train", "status", "99")
    assert result.exit_code == 6 and "no training job with id 99" in result.output


def test_model_list_promote_rollback(sqlite_db_url: str) -> None:
    result = critic("model", "list")
    assert result.exit_code == 0 and "no model versions yet" in result.output
    with session_scope(sqlite_db_url) as session:
        from training.config import load_config

        job = queue.enqueue_job(session, config=load_config("sft", None, {}))
        for name in ("a", "b"):
            registry.register_candidate(
                session, job_id=job.id, path=f"/m/{name}", base_model="embedded", parent_id=None, data_hash="f" * 64,
                config={},
            )  # fmt: skip
    assert critic("model", "promote", "1").exit_code == 0
    result = critic("model", "promote", "2")
    assert result.exit_code == 0 and "model version 2" in result.output and "is now active" in result.output
    result = critic("model", "list")
    assert "serving" in result.output and "retired" in result.output and "data ffffffffffff" in result.output
    result = critic("model", "rollback")
    assert result.exit_code == 0 and "model version 1" in result.output and "active again" in result.output
    with session_scope(sqlite_db_url) as session:
        assert registry.serving_model(session, "embedded") == "/m/a"
