"""`critic db`, `critic import` and `critic export` as a user runs them: summaries, bad lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import critic
from tests.db.prm800k_lines import phase2_line


def test_db_upgrade_creates_the_database_under_critic_home_and_check_finds_no_drift(critic_home: Path) -> None:
    from db.migrate import head_revision
    from db.session import dispose_engines

    try:
        result = critic("db", "upgrade")
        assert result.exit_code == 0, result.output
        assert f"is at revision {head_revision()}" in result.stdout
        assert (critic_home / "critic.db").exists()
        result = critic("db", "check")
        assert result.exit_code == 0, result.output
        assert "schema matches the models" in result.stdout
        result = critic("db", "current")
        assert result.exit_code == 0, result.output
        assert f"current: {head_revision()}" in result.stdout
    finally:
        dispose_engines()


def test_import_then_reimport_then_export_processbench(
    sqlite_db_url: str,
    processbench_dir: Path,
    tmp_path: Path,
) -> None:
    source = str(processbench_dir / "gsm8k.json")
    result = critic("import", "--format", "processbench", source, "--campaign", "gsm")
    assert result.exit_code == 0, result.output
    *_, summary, queued = result.stdout.strip().splitlines()
    assert summary.startswith("imported 400, skipped as duplicate 0, rejected 0")
    assert queued.startswith("queued critique_items job 1: a worker")  # the campaign's items get critiques
    result = critic("import", "--format", "processbench", source)
    assert result.exit_code == 0, result.output
    assert "imported 0, skipped as duplicate 400, rejected 0" in result.stdout
    out = tmp_path / "gsm.json"
    result = critic("export", "--format", "processbench", "--campaign", "gsm", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert f"exported 400 records to {out}" in result.stdout
    assert len(json.loads(out.read_text())) == 400


def test_prm800k_bad_lines_are_named_and_good_lines_land(sqlite_db_url: str, tmp_path: Path) -> None:
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
    result = critic("import", "--format", "prm800k", str(path))
    assert result.exit_code == 0, result.output
    assert "rejected line 2: invalid JSON" in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("imported 2, skipped as duplicate 0, rejected 1")
    out = tmp_path / "out.jsonl"
    result = critic("export", "-f", "prm800k", "--status", "submitted", "-o", str(out))
    assert result.exit_code == 0, result.output
    labels = [json.loads(line)["label"]["finish_reason"] for line in out.read_text().splitlines()]
    assert labels == ["solution", "found_error"]


def test_bad_format_and_unknown_campaign_are_clear_errors(sqlite_db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    result = critic("import", "--format", "yaml", str(path))
    assert result.exit_code == 2, result.output
    assert "unknown import format 'yaml'" in result.stderr
    out = str(tmp_path / "o.json")
    result = critic("export", "--format", "processbench", "--campaign", "nope", "--output", out)
    assert result.exit_code == 6, result.output
    assert "no campaign 'nope'" in result.stderr


def test_export_prints_its_dataset_version_and_writes_it_again_after_a_label_changed(
    sqlite_db_url: str, sqlite_session, make_user, tmp_path: Path
) -> None:
    from db.annotations import list_annotations, save_annotation

    path = tmp_path / "prm.jsonl"
    path.write_text(phase2_line(labeler="a") + "\n" + phase2_line(labeler="b", ratings=(1, -1)) + "\n")
    assert critic("import", "--format", "prm800k", str(path)).exit_code == 0
    first = tmp_path / "v1.jsonl"
    result = critic("export", "-f", "prm800k", "-o", str(first))
    assert result.exit_code == 0, result.output
    assert "as dataset version 1 (sha256 " in result.stdout
    annotation = list_annotations(sqlite_session)[0]
    save_annotation(
        sqlite_session,
        annotation_id=annotation.id,
        expected_version=annotation.version,
        actor_id=make_user(sqlite_session, "rev", role="reviewer").id,  # imported labellers cannot log in
        ratings=[-1] * len(annotation.ratings),
    )
    again = tmp_path / "again.jsonl"
    result = critic("export", "--version", "1", "-o", str(again))
    assert result.exit_code == 0, result.output
    assert "again as dataset version 1" in result.stdout
    assert again.read_bytes() == first.read_bytes()
    result = critic("dataset-versions")
    assert result.exit_code == 0 and "prm800k" in result.stdout and "annotations 2" in result.stdout
    result = critic("export", "-o", str(again))
    assert result.exit_code == 2 and "give --format" in result.stderr
