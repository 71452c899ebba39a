"""Resumable JSONL files: the rows a run wrote come back, and a row torn by a kill is cut and redone."""

from __future__ import annotations

import json
from pathlib import Path

from core.jsonl import append_jsonl, read_jsonl


def test_rows_written_come_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out" / "rows.jsonl"
    assert read_jsonl(path) == []
    assert append_jsonl(path, [{"id": "a"}, {"id": "b"}]) == 2
    assert append_jsonl(path, iter([{"id": "c", "text": "é"}])) == 1
    assert read_jsonl(path) == [{"id": "a"}, {"id": "b"}, {"id": "c", "text": "é"}]


def test_a_torn_last_line_is_cut_off_the_file_and_appends_start_clean(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"id": "a"}) + "\n" + '{"id": "b", "te')  # killed while writing b
    assert read_jsonl(path) == [{"id": "a"}]
    assert path.read_text() == '{"id": "a"}\n'
    path.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}))  # whole, but its newline is missing
    append_jsonl(path, [{"id": "b"}, {"id": "c"}])
    assert [row["id"] for row in read_jsonl(path)] == ["a", "b", "c"]


def test_lines_that_are_not_json_objects_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "a"}\n\nnot json\n[1, 2]\n{"id": "b"}\n')
    assert [row["id"] for row in read_jsonl(path)] == ["a", "b"]
