"""Teacher grading reports: a CSV (student, problem, verdict, comment; tests passed for code) and HTML per student."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from core.gradebook import spreadsheet_text
from core.step_comments import step_comments_line
from webapp.handlers.teacher import ReportRow

CSV_COLUMNS = ("student", "problem", "first_wrong_step", "comment")
CODE_CSV_COLUMNS = ("verdict", "tests_passed", "tests_total", "failing_test")
"""Added to the report of a class with code submissions: each one's verdict and its tests in the sandbox."""
GRADE_CSV_COLUMNS = ("step_comments", "points", "points_possible")
"""The teacher's step comments (`step 2: text; step 3: text`) and the points earned under the problem's grading."""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def report_csv(rows: Sequence[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    code = any(row.is_code for row in rows)
    writer.writerow(CSV_COLUMNS + (CODE_CSV_COLUMNS if code else ()) + GRADE_CSV_COLUMNS)
    for row in rows:
        first = "" if row.first_wrong_step is None else str(row.first_wrong_step)
        cells = [spreadsheet_text(row.student), spreadsheet_text(row.problem), first, spreadsheet_text(row.comment)]
        if code:
            execution = row.code.execution if row.code is not None else None
            cells += [
                row.verdict,
                "" if execution is None else str(execution.passed),
                "" if execution is None else str(execution.total),
                spreadsheet_text(row.code.failing_test or "") if row.code is not None else "",
            ]
        cells += [spreadsheet_text(step_comments_line(row.step_comments)), _number(row.points), _number(row.max_points)]
        writer.writerow(cells)
    return out.getvalue()


def _verdict_line(row: ReportRow) -> str:
    if row.first_wrong_step is None:
        return "Not graded yet."
    if row.is_code:
        tests = f" Tests passed: {row.tests_passed}." if row.code is not None else ""
        return f"Verdict: {row.verdict}.{tests}"
    if row.first_wrong_step == -1:
        return "All steps are correct."
    return f"First wrong step: step {row.first_wrong_step}."


def student_page(student: str, rows: Sequence[ReportRow]) -> str:
    """A standalone printable HTML page of one student's solutions (every value escaped)."""
    e = html.escape
    sections = []
    for row in rows:
        notes = {int(step): text for step, text in row.step_comments.items()}
        steps = "".join(
            f'<li class="{"wrong" if row.first_wrong_step == i else ""}">{e(text)}'
            + (f'<p class="step-comment"><b>Teacher:</b> {e(notes[i])}</p>' if i in notes else "")
            + "</li>"
            for i, text in enumerate(row.steps, start=1)
        )
        # A code submission is its code, shown as written (one block, not numbered steps).
        solution = f"<pre>{e(row.steps[0] if row.steps else '')}</pre>" if row.is_code else f"<ol>{steps}</ol>"
        comment = f'<p class="comment"><b>Comment:</b> {e(row.comment)}</p>' if row.comment else ""
        if row.points is not None:
            comment += f'<p class="points"><b>Points:</b> {_number(row.points)} of {_number(row.max_points)}</p>'

        sections.append(
            f'<section><h2>Problem</h2><p class="problem">{e(row.problem)}</p>{solution}'
            f'<p class="verdict">{e(_verdict_line(row))}</p>{comment}</section>'
        )
    body = "".join(sections)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(student)}: grading report</title>"
        "<style>body{font-family:serif;max-width:46em;margin:2em auto}li{margin:.3em 0}"
        "li.wrong{background:#ffebe9;font-weight:bold}.step-comment{font-weight:normal;margin:.2em 0 0 1em}"
        ".verdict{font-weight:bold}"
        "@media print{section{page-break-inside:avoid}}</style></head>"
        f"<body><h1>{e(student)}</h1>{body}</body></html>"
    )


def _file_name(student: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", student).strip("._") or "student"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return f"{name}.html"


def write_reports(rows: Sequence[ReportRow], out_dir: Path, *, class_name: str) -> tuple[Path, Path]:
    """Write `report.csv` and a zip of one HTML page per student; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", class_name).strip("._") or "class"
    csv_path = out_dir / f"{safe}-report.csv"
    csv_path.write_text(report_csv(rows), encoding="utf-8")
    by_student: dict[str, list[ReportRow]] = {}
    for row in rows:
        by_student.setdefault(row.student, []).append(row)
    zip_path = out_dir / f"{safe}-students.zip"
    used: set[str] = set()
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for student, student_rows in by_student.items():
            archive.writestr(_file_name(student, used), student_page(student, student_rows))
    return csv_path, zip_path
