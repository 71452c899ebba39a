"""Gradebook CSV for an LMS import: Canvas or Moodle columns, one row per student, points in one assignment column."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from core.errors import BadInputError
from core.grading import rounded

Lms = Literal["canvas", "moodle"]
LMS_NAMES: tuple[str, ...] = get_args(Lms)
# The columns that identify a student, as each LMS names them in its own gradebook files; the teacher picks the one
# their class file's `student` values are (Canvas: SIS User ID / SIS Login ID / Canvas ID; Moodle: what its import
# page's "Identify user by" maps to).
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "canvas": ("SIS User ID", "SIS Login ID", "ID"),
    "moodle": ("Email address", "Username", "ID number"),
}
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


@dataclass(frozen=True)
class GradebookRow:
    """One student's points in the class (None: not every solution of theirs has a verdict yet)."""

    student: str
    points: float | None


def spreadsheet_text(value: str) -> str:
    """A cell starting with = + - @ is a formula in spreadsheet apps; a leading quote keeps it text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _points(points: float | None) -> str:
    return "" if points is None else f"{rounded(points):g}"


def gradebook_csv(
    rows: Sequence[GradebookRow], *, lms: str, id_column: str, assignment: str, points_possible: float
) -> str:
    """The CSV text: Canvas `Student,ID,SIS User ID,SIS Login ID,Section,<assignment>` with a `Points Possible` row,
    or Moodle `<id column>,<assignment>`; the student's value goes in `id_column` (and in Canvas's Student column).
    A student without points gets an empty cell, which both LMSs leave ungraded."""
    if lms not in ID_COLUMNS:
        raise BadInputError(f"unknown gradebook format {lms!r}; use one of {', '.join(LMS_NAMES)}")
    if id_column not in ID_COLUMNS[lms]:
        raise BadInputError(f"{lms} identifies students by {', '.join(ID_COLUMNS[lms])}; {id_column!r} is not one")
    assignment = assignment.strip()
    if not assignment:
        raise BadInputError("give the gradebook column (the assignment) a name")
    out = io.StringIO()
    writer = csv.writer(out)
    if lms == "canvas":
        writer.writerow([*CANVAS_COLUMNS, assignment])
        writer.writerow(["Points Possible", "", "", "", "", _points(points_possible)])
        for row in rows:
            cells = dict.fromkeys(CANVAS_COLUMNS, "")
            cells["Student"] = cells[id_column] = spreadsheet_text(row.student)
            writer.writerow([*cells.values(), _points(row.points)])
    else:
        writer.writerow([id_column, assignment])
        writer.writerows([spreadsheet_text(row.student), _points(row.points)] for row in rows)
    return out.getvalue()
