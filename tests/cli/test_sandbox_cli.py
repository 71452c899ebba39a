"""`critic sandbox run` as a user types it: one JSON object with the outcome, exit 1 when a test fails."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import critic


def test_sandbox_run_prints_each_test_and_fails_on_a_failing_test(tmp_path: Path) -> None:
    code = tmp_path / "solution.py"
    code.write_text("def add(a, b):\n    return a - b\n")
    tests = tmp_path / "tests.py"
    tests.write_text("assert add(1, 1) == 2\nassert add(3, 0) == 3\n")
    result = critic("sandbox", "run", "--code", str(code), "--tests", str(tests))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"], report["errors"], report["timed_out"]) == (1, 1, 0, False)
    assert report["tests"][0] == {
        "name": "assert add(1, 1) == 2",
        "status": "failed",
        "expected": "2",
        "actual": "0",
        "error": "AssertionError",
    }
    assert report["isolation"] == "bwrap" and "duration_s" in report and "stopped" in report


def test_sandbox_run_a_program_with_a_timeout(tmp_path: Path) -> None:
    code = tmp_path / "loop.py"
    code.write_text("print('started', flush=True)\nwhile True:\n    pass\n")
    result = critic("sandbox", "run", "--code", str(code), "--timeout", "1")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["timed_out"] and report["stdout"] == "started\n" and "timeout" in report["stopped"]


def test_sandbox_run_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = critic("sandbox", "run", "--code", str(tmp_path / "nope.py"))
    assert result.exit_code == 2 and "does not exist" in result.output
