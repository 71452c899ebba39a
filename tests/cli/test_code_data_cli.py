"""`critic import` and `critic export` of code items: stored with their tests, exported with them, read back whole."""

from __future__ import annotations

import json
from pathlib import Path

from core.code.tasks import load_code_tasks
from tests.cli.runner import critic


def test_code_items_import_once_and_export_with_their_tests(sqlite_db_url: str, tmp_path: Path) -> None:
    tasks = load_code_tasks()[:6]
    source = tmp_path / "code.jsonl"
    lines = [json.dumps(item.to_json()) for item in tasks]
    lines.insert(2, json.dumps({"problem": "p", "code": "def f(): pass"}))  # no tests: rejected by name
    source.write_text("\n".join(lines) + "\n")
    result = critic("import", "--format", "jsonl", str(source), "--campaign", "code", "--no-critique")
    assert result.exit_code == 0, result.output
    assert "imported 6, skipped as duplicate 0, rejected 1" in result.stdout
    assert "a code item needs tests" in result.output
    again = critic("import", "--format", "jsonl", str(source))
    assert "imported 0, skipped as duplicate 6" in again.stdout

    out = tmp_path / "export.jsonl"
    result = critic("export", "--format", "jsonl", "--campaign", "code", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert f"exported 6 records to {out}" in result.stdout
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {record["id"]: record for record in exported}
    for item in tasks:
        record = by_id[item.id]
        assert record["code"] == item.code
        assert record["test_list"] == item.test_list
        assert record["language"] == "python"
        assert record["label"] == item.label
        assert record["task"] == item.metadata["task"]

    # The export is an import file again: a fresh database gets the same items, tests included.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = critic("import", "--format", "jsonl", str(out), "--database-url", fresh)
    assert "imported 6, skipped as duplicate 0, rejected 0" in result.stdout


def test_flat_csv_export_shows_code_as_the_one_step(sqlite_db_url: str, tmp_path: Path) -> None:
    item = load_code_tasks()[1]  # a wrong solution
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(item.to_json()) + "\n")
    assert critic("import", "--format", "jsonl", str(source)).exit_code == 0
    out = tmp_path / "items.csv"
    result = critic("export", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert item.code.splitlines()[0] in text
    assert ",0,1," in text  # label 0 (the one step is wrong), first_error_step 1
