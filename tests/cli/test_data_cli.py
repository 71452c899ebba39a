"""`critic db`, `critic import` and `critic export` as a user runs them: summaries, bad lines, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cli.main import main
from tests.db.prm800k_lines import phase2_line


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["critic", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_db_upgrade_creates_the_database_under_critic_home_and_check_finds_no_drift(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], critic_home: Path
) -> None:
    from db.migrate import head_revision
    from db.session import dispose_engines

    try:
        assert run_cli(monkeypatch, "db", "upgrade") == 0
        assert f"is at revision {head_revision()}" in capsys.readouterr().out
        assert (critic_home / "critic.db").exists()
        assert run_cli(monkeypatch, "db", "check") == 0
        assert "schema matches the models" in capsys.readouterr().out
        assert run_cli(monkeypatch, "db", "current") == 0
        assert f"current: {head_revision()}" in capsys.readouterr().out
    finally:
        dispose_engines()


def test_import_then_reimport_then_export_processbench(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_db_url: str,
    processbench_dir: Path,
    tmp_path: Path,
) -> None:
    source = str(processbench_dir / "gsm8k.json")
    assert run_cli(monkeypatch, "import", "--format", "processbench", source, "--campaign", "gsm") == 0
    *_, summary, queued = capsys.readouterr().out.strip().splitlines()
    assert summary.startswith("imported 400, skipped as duplicate 0, rejected 0")
    assert queued.startswith("queued critique_items job 1: a worker")  # the campaign's items get critiques
    assert run_cli(monkeypatch, "import", "--format", "processbench", source) == 0
    assert "imported 0, skipped as duplicate 400, rejected 0" in capsys.readouterr().out
    out = tmp_path / "gsm.json"
    assert run_cli(monkeypatch, "export", "--format", "processbench", "--campaign", "gsm", "--output", str(out)) == 0
    assert f"exported 400 records to {out}" in capsys.readouterr().out
    assert len(json.loads(out.read_text())) == 400


def test_prm800k_bad_lines_are_named_and_good_lines_land(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "prm.jsonl"
    path.write_text(
        "\n".join(
            [
                phase2_line(labeler="a"),
                "{broken",
                phase2_line(labeler="b", ratings=(1, -1), finish_reason="found_error"),
            ]
        )
    )
    assert run_cli(monkeypatch, "import", "--format", "prm800k", str(path)) == 0
    captured = capsys.readouterr()
    assert "rejected line 2: invalid JSON" in captured.err
    assert captured.out.strip().splitlines()[-1].startswith("imported 2, skipped as duplicate 0, rejected 1")
    out = tmp_path / "out.jsonl"
    assert run_cli(monkeypatch, "export", "-f", "prm800k", "--status", "submitted", "-o", str(out)) == 0
    labels = [json.loads(line)["label"]["finish_reason"] for line in out.read_text().splitlines()]
    assert labels == ["solution", "found_error"]


def test_bad_format_and_unknown_campaign_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    assert run_cli(monkeypatch, "import", "--format", "yaml", str(path)) == 2
    assert "unknown import format 'yaml'" in capsys.readouterr().err
    out = str(tmp_path / "o.json")
    assert run_cli(monkeypatch, "export", "--format", "processbench", "--campaign", "nope", "--output", out) == 6
    assert "no campaign 'nope'" in capsys.readouterr().err
