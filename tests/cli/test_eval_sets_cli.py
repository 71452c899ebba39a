"""`critic eval-set add|list|score` and the registry's versions x sets table and audit trail in `critic model`."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.eval_sets import held_out_problem_keys
from db.session import session_scope
from tests.cli.test_train_cli import run_cli
from tests.training.test_registry import _candidate


def test_register_score_and_see_the_table(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_db_url: str,
    processbench_dir: Path,
    tiny_model_dir: Path,
) -> None:
    source = str(processbench_dir / "gsm8k.json")
    code, out = run_cli(monkeypatch, capsys, "eval-set", "add", "gsm8k-6", "--from", source, "--limit", "6")
    assert code == 0 and "6 items" in out, out
    code, out = run_cli(monkeypatch, capsys, "eval-set", "add", "gsm8k-6", "--from", source, "--limit", "6")
    assert code != 0 and "already exists" in out
    code, out = run_cli(monkeypatch, capsys, "eval-set", "list")
    assert "gsm8k-6" in out and "6 items" in out
    with session_scope(sqlite_db_url) as session:
        assert len(held_out_problem_keys(session)) == 6

    code, out = run_cli(
        monkeypatch, capsys, "eval-set", "score", "gsm8k-6", "--model", str(tiny_model_dir), "--max-new-tokens", "4"
    )
    assert code == 0 and "gsm8k-6: 6 items, F1" in out, out
    code, out = run_cli(monkeypatch, capsys, "model", "list")
    assert "version" in out and "gsm8k-6" in out and f"unversioned: {tiny_model_dir}" in out


def test_manual_promotion_shows_who_in_the_history(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str
) -> None:
    with session_scope(sqlite_db_url) as session:
        version_id = _candidate(session, "by-hand")
    code, out = run_cli(monkeypatch, capsys, "model", "promote", str(version_id), "--reason", "checked by hand")
    assert code == 0, out
    code, out = run_cli(monkeypatch, capsys, "model", "history")
    assert f"v{version_id}  promote" in out and "by cli:" in out and "checked by hand" in out
