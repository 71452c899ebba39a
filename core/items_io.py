"""Read solution items (one ProcessBench-shaped object, a JSON array, or JSONL) with a clear error per bad item."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from core.code.items import CodeItem, code_item_from_obj, is_code_object
from core.errors import BadInputError
from core.settings import Settings, get_settings
from core.steps import split_steps, strip_step_prefix
from core.types import SolutionItem

ItemOrError = SolutionItem | CodeItem | BadInputError
"""What `read_items` yields for each item: the item, or the error that names what is wrong with it."""


def _describe(position: int, obj: Any, *, line: int | None = None) -> str:
    where = f"item {position}" + (f" (line {line})" if line is not None else "")
    if isinstance(obj, dict) and obj.get("id") not in (None, ""):
        where += f" id={obj['id']!r}"
    return where


def make_item(
    problem: str,
    *,
    steps: list[str] | None = None,
    solution: str | None = None,
    item_id: str = "",
    settings: Settings | None = None,
    where: str = "input",
) -> SolutionItem:
    """Build a checked SolutionItem from a problem plus a step list or raw solution text (split into steps)."""
    return _item_from_obj(
        {"id": item_id, "problem": problem, **({"steps": steps} if steps is not None else {"solution": solution})},
        where,
        settings or get_settings(),
    )


def _item_from_obj(obj: Any, where: str, settings: Settings) -> SolutionItem:
    if not isinstance(obj, dict):
        raise BadInputError(f"{where}: expected a JSON object with 'problem' and 'steps', got {type(obj).__name__}")
    problem = obj.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        reason = "is missing" if problem is None else "must be a non-empty string"
        raise BadInputError(f"{where}: field 'problem' {reason}")
    if obj.get("steps") is not None:
        raw_steps = obj["steps"]
        if not isinstance(raw_steps, list) or not all(isinstance(s, str) for s in raw_steps):
            raise BadInputError(f"{where}: field 'steps' must be a list of strings")
        # Given steps are kept verbatim (exports round-trip exactly); the prompt strips redundant `Step i:` prefixes.
        steps = list(raw_steps)
        field = "steps"
    elif obj.get("solution") is not None:
        if not isinstance(obj["solution"], str):
            raise BadInputError(f"{where}: field 'solution' must be a string")
        steps = split_steps(obj["solution"])
        field = "solution"
    else:
        raise BadInputError(f"{where}: field 'steps' is missing (give a 'steps' list or 'solution' text)")
    if not steps or not any(s.strip() for s in steps):
        raise BadInputError(f"{where}: field '{field}' has no steps")
    if any(not s.strip() for s in steps):
        raise BadInputError(f"{where}: field 'steps' contains an empty step")
    if len(steps) > settings.max_steps:
        raise BadInputError(
            f"{where}: field '{field}' has {len(steps)} steps, more than the limit of {settings.max_steps} "
            "(raise CRITIC_MAX_STEPS to allow more)"
        )
    size = len(problem.encode()) + sum(len(s.encode()) for s in steps)
    if size > settings.max_item_bytes:
        raise BadInputError(
            f"{where}: fields 'problem'+'{field}' are {size} bytes, more than the limit of {settings.max_item_bytes} "
            "(raise CRITIC_MAX_ITEM_BYTES to allow more)"
        )
    label = obj.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps)):
        raise BadInputError(
            f"{where}: field 'label' must be -1 or a 0-based step index below {len(steps)}, got {label!r}"
        )
    fields = {k: v for k, v in obj.items() if k != "solution"}
    fields["steps"] = steps
    try:
        item = SolutionItem.from_processbench(fields, source=str(obj.get("source") or "upload"))
    except (ValidationError, TypeError, ValueError) as exc:
        raise BadInputError(f"{where}: {exc}") from exc
    if "solution" in obj:
        item.metadata.pop("solution", None)
    item.metadata.pop("source", None)
    return item


def _open_text(source: str | Path | IO[str]) -> IO[str]:
    if not isinstance(source, str | Path):
        return source
    path = Path(source)
    try:
        return path.open(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise BadInputError(f"input file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise BadInputError(f"input {path} is a directory, not a file") from exc


def _first_char(stream: IO[str]) -> tuple[str, str]:
    """Skip leading whitespace; return (first non-space char, the text read so far)."""
    consumed = []
    while True:
        char = stream.read(1)
        if not char:
            return "", "".join(consumed)
        if char == "\ufeff":  # a byte-order mark from a stream that was not opened as utf-8-sig
            continue
        consumed.append(char)
        if not char.isspace():
            return char, "".join(consumed)


def read_items(
    source: str | Path | IO[str],
    *,
    settings: Settings | None = None,
    strip_step_prefixes: bool = False,
    code: bool = False,
) -> Iterator[ItemOrError]:
    """Yield one SolutionItem or BadInputError per item, in input order; a bad item never stops the others.

    Accepts one JSON object, a JSON array of objects, or JSON Lines (read line by line, so a large JSONL file
    streams in bounded memory). Each object has `problem` and either a `steps` list (kept verbatim) or
    `solution` text (split with `split_steps`); a ProcessBench `label` (0-based, -1 for none) becomes the
    1-based `first_error_step`. Errors name the item (position, line, id) and the field.
    `strip_step_prefixes` drops a leading `Step i:` from given steps, for formats where it is an artefact of
    the file (MR-GSM8K) rather than part of the solution.
    With `code`, an object with a `code` field is a CodeItem (problem, code, tests: core.code.items); without it
    such an object is an error saying this reader takes math solutions only.
    Raises BadInputError only when the input as a whole is unreadable (missing file, broken JSON array).
    """
    settings = settings or get_settings()
    stream = _open_text(source)
    try:
        for record in _read_stream(stream, settings, code):
            if strip_step_prefixes and isinstance(record, SolutionItem):
                record.steps = [strip_step_prefix(step) for step in record.steps]
            yield record
    except UnicodeDecodeError as exc:
        raise BadInputError(f"input is not UTF-8 text: {exc}") from exc
    finally:
        if stream is not source:
            stream.close()


def _read_stream(stream: IO[str], settings: Settings, code: bool) -> Iterator[ItemOrError]:
    first, head = _first_char(stream)
    if not first:
        raise BadInputError("input is empty: expected a JSON object, a JSON array or JSON Lines")
    if first == "[":
        text = head + stream.read()
        try:
            objs = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"input is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
        for position, obj in enumerate(objs, start=1):
            yield _checked(obj, _describe(position, obj), settings, code)
        return
    # JSON Lines, unless the first line alone is not JSON: then the input is one (pretty-printed) object.
    first_line = head + stream.readline()
    try:
        json.loads(first_line)
    except json.JSONDecodeError:
        rest = stream.read()
        try:
            whole = json.loads(first_line + rest)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            yield _checked(whole, _describe(1, whole), settings, code)
            return
        lines = iter((first_line + rest).splitlines(keepends=True))
    else:
        lines = itertools.chain(first_line.splitlines(keepends=True), stream)
    position = 0
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        position += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadInputError(f"{_describe(position, None, line=line_number)}: invalid JSON: {exc.msg}")
            continue
        yield _checked(obj, _describe(position, obj, line=line_number), settings, code)


def _checked(obj: Any, where: str, settings: Settings, code: bool = False) -> ItemOrError:
    try:
        if is_code_object(obj) and not (obj.get("steps") or obj.get("solution")):
            if not code:
                raise BadInputError(f"{where}: is a code item ('code'); this command takes math solutions")
            return code_item_from_obj(obj, where, settings)
        return _item_from_obj(obj, where, settings)
    except BadInputError as exc:
        return exc
