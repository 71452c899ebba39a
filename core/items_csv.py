"""Read solution items from CSV (and any supported upload format by file suffix), keeping a student column."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from core.errors import BadInputError
from core.items_io import ItemOrError, make_item, read_items
from core.settings import Settings, get_settings

STUDENT_KEYS = ("student", "student_name", "name")


def _steps_cell(value: str) -> list[str] | None:
    value = value.strip()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        if isinstance(parsed, list) and all(isinstance(s, str) for s in parsed):
            return parsed
    return None


def read_csv_items(text: str, *, settings: Settings | None = None) -> Iterator[ItemOrError]:
    """One item per CSV row: `problem` plus `solution` text or `steps` (a JSON list); optional `id`, `student`.

    The student name (column `student`, `student_name` or `name`) lands in `metadata["student"]`.
    A bad row yields a BadInputError naming its line; the other rows are still read.
    """
    settings = settings or get_settings()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    if "problem" not in columns:
        raise BadInputError(f"CSV header must name a 'problem' column (found: {', '.join(columns) or 'nothing'})")
    if "solution" not in columns and "steps" not in columns:
        raise BadInputError("CSV header must name a 'solution' or 'steps' column")
    student_col = next((columns[k] for k in STUDENT_KEYS if k in columns), None)
    for position, row in enumerate(reader, start=1):
        line = reader.line_num
        where = f"item {position} (line {line})"
        try:
            steps = None
            if "steps" in columns and (row.get(columns["steps"]) or "").strip():
                steps = _steps_cell(row[columns["steps"]])
                if steps is None:
                    raise BadInputError(f"{where}: field 'steps' must be a JSON list of strings")
            solution = None if steps is not None else row.get(columns.get("solution", ""), "") or ""
            item = make_item(
                row.get(columns["problem"]) or "",
                steps=steps,
                solution=solution,
                item_id=(row.get(columns["id"]) or "").strip() if "id" in columns else "",
                settings=settings,
                where=where,
            )
        except BadInputError as exc:
            yield exc
            continue
        if student_col is not None:
            item.metadata["student"] = (row.get(student_col) or "").strip()
        yield item


def read_upload(path: str | Path, *, settings: Settings | None = None) -> list[ItemOrError]:
    """Items from an uploaded file, by suffix: `.csv` as CSV, anything else as JSON / JSON array / JSONL.

    A file with more than `max_upload_rows` entries is refused whole (parsing stops there): one upload must not
    occupy the server, or the database, for minutes.
    """
    path = Path(path)
    limit = (settings or get_settings()).max_upload_rows
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path.name} is not UTF-8 text: {exc}") from exc
    if path.suffix.lower() == ".csv":
        parsed = read_csv_items(text, settings=settings)
    else:
        parsed = read_items(io.StringIO(text), settings=settings)
    items = list(islice(parsed, limit + 1))
    if len(items) > limit:
        raise BadInputError(
            f"{path.name} holds more than {limit} solutions: split it into files of at most {limit} "
            "(an admin can raise the limit with CRITIC_MAX_UPLOAD_ROWS)"
        )
    # JSON items keep any student field in metadata already (from_processbench keeps unknown keys).
    for item in items:
        if not isinstance(item, BadInputError):
            for key in STUDENT_KEYS:
                if key in item.metadata and "student" not in item.metadata:
                    item.metadata["student"] = str(item.metadata[key])
    return items
