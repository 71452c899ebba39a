"""`critic train` / `critic model` as an admin runs them: submit (bad configs rejected), status, logs, cancel,
list / promote / roll back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli.main import main
from db.session import session_scope
from training import queue, registry


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["critic", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_bad_config_is_rejected_at_submit_time_and_nothing_is_queued(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str, tmp_path: Path
) -> None:
    code, out = run_cli(monkeypatch, capsys, "train", "grpo", "--num-generations", "3", "--batch-size", "4")
    assert code == 2 and "must be a multiple of num_generations" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: -0.1\n", encoding="utf-8")
    code, out = run_cli(monkeypatch, capsys, "train", "sft", "--config", str(bad))
    assert code == 2 and "learning_rate: Input should be greater than 0 (got -0.1)" in out
    code, out = run_cli(monkeypatch, capsys, "train", "sft", "--set", "lora_rank=8")
    assert code == 2 and "lora_rank: unknown field" in out
    with session_scope(sqlite_db_url) as session:
        assert queue.list_jobs(session) == []


def test_submit_status_logs_cancel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text("max_steps: 5\nuse_lora: true\nlora_r: 4\n", encoding="utf-8")
    code, out = run_cli(monkeypatch, capsys, "train", "sft", "--config", str(config), "--set", "learning_rate=2e-5")
    assert code == 0 and "queued sft job 1" in out
    with session_scope(sqlite_db_url) as session:
        stored = queue.job_config(queue.get_job(session, job_id=1))
    assert (stored.max_steps, stored.use_lora, stored.lora_r, stored.learning_rate) == (5, True, 4, 2e-5)

    code, out = run_cli(monkeypatch, capsys, "train", "status")
    assert code == 0 and "sft   queued" in out
    code, out = run_cli(monkeypatch, capsys, "train", "cancel", "1")
    assert code == 0 and "job 1 cancelled" in out
    code, out = run_cli(monkeypatch, capsys, "train", "cancel", "1")
    assert code == 4 and "already cancelled" in out
    code, out = run_cli(monkeypatch, capsys, "train", "logs", "1")
    assert code == 0 and "queued sft job" in out and "cancelled before it started" in out
    code, out = run_cli(monkeypatch, capsys, "train", "status", "99")
    assert code == 6 and "no training job with id 99" in out


def test_model_list_promote_rollback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str
) -> None:
    code, out = run_cli(monkeypatch, capsys, "model", "list")
    assert code == 0 and "no model versions yet" in out
    with session_scope(sqlite_db_url) as session:
        from training.config import load_config

        job = queue.enqueue_job(session, config=load_config("sft", None, {}))
        for name in ("a", "b"):
            registry.register_candidate(
                session, job_id=job.id, path=f"/m/{name}", base_model="embedded", parent_id=None, data_hash="f" * 64,
                config={},
            )  # fmt: skip
    assert run_cli(monkeypatch, capsys, "model", "promote", "1")[0] == 0
    code, out = run_cli(monkeypatch, capsys, "model", "promote", "2")
    assert code == 0 and "model version 2" in out and "is now active" in out
    code, out = run_cli(monkeypatch, capsys, "model", "list")
    assert "serving" in out and "retired" in out and "data ffffffffffff" in out
    code, out = run_cli(monkeypatch, capsys, "model", "rollback")
    assert code == 0 and "model version 1" in out and "active again" in out
    with session_scope(sqlite_db_url) as session:
        assert registry.serving_model(session, "embedded") == "/m/a"
