"""Resumable JSONL files: read back the rows a run wrote, append more; a line torn by an interrupted write is cut."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows (one JSON object per line) of a resumable output file; [] where it does not exist.

    A last line without its newline was torn by an interrupted write: it is cut off the file, so its row is
    redone on resume and the next append starts on a fresh line. Other lines that are not JSON objects are skipped.
    """
    path = Path(path)
    if not path.exists():
        return []
    _cut_torn_line(path)
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Append rows, one JSON line each, and flush, so a crash loses at most the rows being written; the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _cut_torn_line(path)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        handle.flush()
    return count


def _cut_torn_line(path: Path) -> None:
    """Cut a last line that lacks its newline (a write interrupted mid-row) off the file."""
    with path.open("r+b") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        handle.truncate(handle.read().rfind(b"\n") + 1)
