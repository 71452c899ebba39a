"""Test runs in the sandbox: each test's outcome with expected and actual values; refusing when no sandbox can run."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from core.errors import BadInputError, SandboxUnavailableError
from core.sandbox import SandboxLimits, TestSpec, run_program, run_tests
from core.settings import get_settings

ADD = "def add(a, b):\n    return a + b\n"


def test_mbpp_tests_report_each_outcome_with_expected_and_actual() -> None:
    spec = TestSpec(
        test_list=["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add('x') == 1"],
        test_setup_code="OFFSET = 0",
    )
    report = run_tests(ADD, spec)
    assert (report.passed, report.failed, report.errors, report.total) == (1, 1, 1, 3)
    failed = report.tests[1]
    assert failed.status == "failed" and (failed.expected, failed.actual) == ("5", "4")
    assert report.tests[2].status == "error" and "TypeError" in (report.tests[2].error or "")
    assert report.isolation == "bwrap" and report.warning is None


def test_humaneval_check_asserts_become_one_test_each() -> None:
    spec = TestSpec(
        test="METADATA = {}\ndef check(candidate):\n    assert candidate(1, 1) == 2\n    assert candidate(0, 0) == 1\n",
        entry_point="add",
    )
    report = run_tests(ADD, spec)
    assert [t.status for t in report.tests] == ["passed", "failed"]
    assert report.tests[1].name == "assert candidate(0, 0) == 1" and report.tests[1].actual == "0"


def test_code_that_does_not_load_fails_every_test_with_the_reason() -> None:
    report = run_tests("def add(a, b)\n    return a + b\n", TestSpec(test_list=["assert add(1, 1) == 2"] * 2))
    assert report.errors == 2 and report.passed == 0
    assert "SyntaxError" in (report.load_error or "") and "SyntaxError" in (report.tests[0].error or "")


def test_a_hanging_test_times_out_and_the_next_still_runs() -> None:
    code = "def add(a, b):\n    while a == 0:\n        pass\n    return a + b\n"
    spec = TestSpec(test_list=["assert add(0, 1) == 1", "assert add(1, 1) == 2"])
    report = run_tests(code, spec, SandboxLimits(timeout_s=5, test_timeout_s=0.5))
    assert [t.status for t in report.tests] == ["timed_out", "passed"]


def test_a_run_killed_at_its_timeout_names_the_test_that_was_running() -> None:
    code = (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        pass\n"
    )
    report = run_tests(
        code,
        TestSpec(test_list=["assert add(1, 1) == 2", "assert add(2, 2) == 4"]),
        SandboxLimits(timeout_s=1.5, test_timeout_s=1),
    )
    assert report.timed_out and [t.status for t in report.tests] == ["timed_out", "not_run"]
    assert "timeout" in (report.tests[1].error or "")


def test_no_tests_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="no tests"):
        run_tests(ADD, TestSpec())


def test_unsafe_local_runs_without_isolation_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_SANDBOX", "unsafe-local")
    get_settings.cache_clear()
    run = run_program("print('ran')")
    assert run.stdout == "ran\n" and run.isolation == "none"
    assert run.warning and "not isolated" in run.warning
    report = run_tests(ADD, TestSpec(test_list=["assert add(1, 1) == 2"]))
    assert report.all_passed and report.isolation == "none" and "not isolated" in (report.warning or "")


def test_refuses_to_run_where_bubblewrap_cannot_make_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bwrap that fails the way it does where the kernel forbids unprivileged user namespaces; in a directory
    # anyone may enter, since the sandbox drops root to run bwrap.
    folder = Path(tempfile.mkdtemp(prefix="critic-fake-bwrap-"))
    folder.chmod(0o755)
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CRITIC_SANDBOX_BWRAP", str(fake))
    get_settings.cache_clear()
    with pytest.raises(SandboxUnavailableError) as caught:
        run_program("print('never runs')")
    shutil.rmtree(folder)
    message = str(caught.value)
    assert "No permissions to creating new namespace" in message
    assert "user.max_user_namespaces" in message and "CRITIC_SANDBOX=unsafe-local" in message
