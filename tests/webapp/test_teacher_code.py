"""A teacher's class of Python submissions: shared tests run in the sandbox, critiques, a corrected verdict, report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.errors import BadInputError
from core.items_csv import SharedCode
from webapp.handlers import teacher
from webapp.reports import report_csv

TESTS = "assert sum_to_n(1) == 1\nassert sum_to_n(5) == 15\nassert sum_to_n(0) == 0\n"
RIGHT = "def sum_to_n(n):\n    return sum(range(1, n + 1))\n"
OFF_BY_ONE = "def sum_to_n(n):\n    return sum(range(1, n))\n"


def write_class(path: Path) -> Path:
    rows = [("Ann", RIGHT), ("Ben", OFF_BY_ONE), ("Cy", "def sum_to_n(n):\n    return n * (n + 1) // 2\n")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "code"])
    writer.writerows(rows)
    writer.writerow(["Dee", "def sum_to_n(n) return n"])  # a syntax error: every test errs
    path.write_text(out.getvalue())
    return path


def test_a_code_class_runs_its_tests_critiques_and_reports_tests_passed(web, tmp_path: Path) -> None:
    t = web["teacher"]
    shared = SharedCode.parse("Write sum_to_n(n): the sum of 1..n (0 when n < 1).", TESTS)
    class_id, errors = teacher.upload_class(
        web.ctx, t, name="Py 1", path=write_class(tmp_path / "py.csv"), start=False, shared=shared
    )
    assert errors == []
    assert teacher.critique_class(web.ctx, t, class_id=class_id) == 4
    rows = {row.student: row for row in teacher.report_rows(web.ctx, t, class_id=class_id)}
    assert rows["Ann"].is_code and rows["Ann"].tests_passed == "3/3" and rows["Ann"].verdict == "correct"
    assert rows["Ben"].tests_passed == "1/3" and rows["Ben"].verdict == "incorrect"
    assert "assert sum_to_n(1) == 1" in rows["Ben"].comment  # the critique names the failing test
    assert rows["Dee"].tests_passed == "0/3" and rows["Dee"].verdict == "incorrect"
    assert rows["Ann"].test_list == TESTS.strip().splitlines()

    # The teacher overrules the critic on Cy's solution; the report keeps both the verdict and the tests.
    teacher.correct(web.ctx, t, class_id=class_id, item_id=rows["Cy"].item_id, first_wrong_step=1, comment="No loop")
    report = list(csv.DictReader(io.StringIO(report_csv(teacher.report_rows(web.ctx, t, class_id=class_id)))))
    by_student = {row["student"]: row for row in report}
    assert by_student["Cy"]["verdict"] == "incorrect" and by_student["Cy"]["comment"] == "No loop"
    assert by_student["Cy"]["tests_passed"] == "3" and by_student["Cy"]["tests_total"] == "3"
    assert by_student["Ben"]["tests_passed"] == "1"
    assert by_student["Ben"]["failing_test"] == "assert sum_to_n(1) == 1"


def test_code_rows_without_tests_are_refused_with_the_reason(web, tmp_path: Path) -> None:
    path = write_class(tmp_path / "py.csv")
    with pytest.raises(BadInputError, match=r"a code item needs tests.*\(and 3 more rows\)"):
        teacher.upload_class(
            web.ctx, web["teacher"], name="Py 2", path=path, start=False, shared=SharedCode(problem="Sum 1..n")
        )
    assert teacher.classes(web.ctx, web["teacher"]) == []  # nothing half-stored
