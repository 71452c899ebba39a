"""Read solution items (math or code) from CSV and any supported upload format by file suffix, keeping a student."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from core.code.items import code_item_from_obj
from core.errors import BadInputError
from core.items_io import ItemOrError, make_item, read_items
from core.sandbox.types import TestSpec
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


class SharedCode(BaseModel):
    """What every code submission of an upload shares unless its row says otherwise: the problem and its tests."""

    model_config = ConfigDict(frozen=True)

    problem: str = ""
    tests: TestSpec | None = None

    @classmethod
    def parse(cls, problem: str = "", tests: str = "", entry_point: str = "") -> SharedCode:
        """From a form: the problem text and the tests as Python (assert lines, or check(candidate) + entry point)."""
        spec = TestSpec.from_python(tests, entry_point.strip() or None) if tests.strip() else None
        return cls(problem=problem.strip(), tests=spec)


def _cell(row: dict[str, str | None], columns: dict[str, str], name: str) -> str:
    return (row.get(columns[name]) or "").strip() if name in columns else ""


def _code_row(
    row: dict[str, str | None], columns: dict[str, str], shared: SharedCode, where: str, settings: Settings
) -> ItemOrError:
    """A code submission row: `code`, `problem` (or the shared one), tests from `tests` (Python) or the shared."""
    obj: dict[str, object] = {
        "id": _cell(row, columns, "id"),
        "problem": _cell(row, columns, "problem") or shared.problem,
        "code": row.get(columns["code"]) or "",
    }
    tests_text = _cell(row, columns, "tests")
    try:
        spec = TestSpec.from_python(tests_text, _cell(row, columns, "entry_point") or None) if tests_text else None
    except BadInputError as exc:
        return BadInputError(f"{where}: field 'tests': {exc}")
    spec = spec or shared.tests
    if spec is not None:
        obj.update(spec.model_dump(exclude_none=True))
    try:
        return code_item_from_obj(obj, where, settings)
    except BadInputError as exc:
        return exc


def read_csv_items(
    text: str, *, settings: Settings | None = None, shared: SharedCode | None = None, code: bool = False
) -> Iterator[ItemOrError]:
    """One item per CSV row: `problem` plus `solution` text or `steps` (a JSON list); optional `id`, `student`.

    A CSV with a `code` column holds code submissions instead: `code`, `problem` and `tests` (Python assert lines,
    or check(candidate) with an `entry_point` column), where an empty problem or tests cell takes `shared`'s; it is
    read only with `code` (else refused: the caller takes math solutions).
    The student name (column `student`, `student_name` or `name`) lands in `metadata["student"]`.
    A bad row yields a BadInputError naming its line; the other rows are still read.
    """
    settings = settings or get_settings()
    shared = shared or SharedCode()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    if "code" in columns and not code:
        raise BadInputError("this CSV holds code submissions (a 'code' column); this upload takes math solutions")
    code = "code" in columns
    if "problem" not in columns and not (code and shared.problem):
        raise BadInputError(f"CSV header must name a 'problem' column (found: {', '.join(columns) or 'nothing'})")
    if "solution" not in columns and "steps" not in columns and not code:
        raise BadInputError("CSV header must name a 'solution' or 'steps' column (or 'code' for code submissions)")
    student_col = next((columns[k] for k in STUDENT_KEYS if k in columns), None)
    for position, row in enumerate(reader, start=1):
        if code:
            record = _code_row(row, columns, shared, f"item {position} (line {reader.line_num})", settings)
            if student_col is not None and not isinstance(record, BadInputError):
                record.metadata["student"] = (row.get(student_col) or "").strip()
            yield record
            continue
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


def read_upload(
    path: str | Path, *, settings: Settings | None = None, shared: SharedCode | None = None, code: bool = False
) -> list[ItemOrError]:
    """Items from an uploaded file, by suffix: `.csv` as CSV, anything else as JSON / JSON array / JSONL.

    With `code`, code submissions (a `code` column or field) come back as CodeItems (else they are refused); `shared`
    fills a CSV row's empty problem or
    tests cell (JSON code items carry their own `test_list`/`test`).

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
        parsed = read_csv_items(text, settings=settings, shared=shared, code=code)
    else:
        parsed = read_items(io.StringIO(text), settings=settings, code=code)
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
