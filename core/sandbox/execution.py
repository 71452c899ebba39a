"""Run code in the sandbox: as a program, or against its tests with each test's outcome (the public entry points)."""

from __future__ import annotations

import json
from typing import Any

from core.errors import BadInputError
from core.sandbox.run import RawRun, execute
from core.sandbox.types import ProgramRun, SandboxLimits, TestOutcome, TestReport, TestSpec
from core.settings import Settings


def _base(raw: RawRun) -> dict[str, Any]:
    return {
        "exit_code": raw.exit_code,
        "timed_out": raw.timed_out,
        "duration_s": raw.duration_s,
        "stdout": raw.stdout,
        "stderr": raw.stderr,
        "stdout_truncated": raw.stdout_truncated,
        "stderr_truncated": raw.stderr_truncated,
        "stopped": raw.stopped,
        "isolation": raw.isolation,
        "warning": raw.warning,
    }


def run_program(code: str, limits: SandboxLimits | None = None, settings: Settings | None = None) -> ProgramRun:
    """Run `code` as a program (`__name__ == "__main__"`, stdin empty) in the sandbox."""
    raw = execute({"mode": "program", "code": code}, limits or SandboxLimits(), settings)
    return ProgramRun(**_base(raw))


def _events(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill, or bytes the code wrote over the results
        if isinstance(event, dict):
            events.append(event)
    return events


def _unfinished_reason(raw: RawRun) -> str:
    if raw.timed_out or raw.stopped:
        return raw.stopped or "the run was stopped"
    tail = raw.stderr.strip().splitlines()[-1:] or ["no error message"]
    return f"the program ended before this test finished ({tail[0]})"


def report_from_run(raw: RawRun, spec: TestSpec) -> TestReport:
    """Each test's outcome from the harness's events; a test started but never finished timed out or crashed."""
    events = _events(raw.results)
    loaded = next((e for e in events if e.get("event") == "loaded"), None)
    names = [str(n) for n in loaded.get("tests", [])] if loaded else list(spec.test_list) or ["check(candidate)"]
    outcomes: dict[int, TestOutcome] = {}
    started: set[int] = set()
    for event in events:
        index = event.get("index")
        if not isinstance(index, int) or not 0 <= index < len(names):
            continue
        if event.get("event") == "start":
            started.add(index)
        elif event.get("event") == "done" and event.get("status") in ("passed", "failed", "error", "timed_out"):
            outcomes[index] = TestOutcome(
                name=names[index],
                status=event["status"],
                expected=_text(event.get("expected")),
                actual=_text(event.get("actual")),
                error=_text(event.get("error")),
            )
    why = _unfinished_reason(raw)
    tests = []
    for index, name in enumerate(names):
        if index in outcomes:
            tests.append(outcomes[index])
        elif index in started:
            status = "timed_out" if raw.timed_out else "error"
            tests.append(TestOutcome(name=name, status=status, error=why))
        else:
            tests.append(TestOutcome(name=name, status="not_run", error=why))
    passed = sum(t.status == "passed" for t in tests)
    failed = sum(t.status == "failed" for t in tests)
    load_error = loaded.get("error") if loaded else f"the tests never started: {why}"
    return TestReport(
        **_base(raw),
        passed=passed,
        failed=failed,
        errors=len(tests) - passed - failed,
        total=len(tests),
        load_error=_text(load_error),
        tests=tests,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def run_tests(
    code: str, spec: TestSpec, limits: SandboxLimits | None = None, settings: Settings | None = None
) -> TestReport:
    """Load `code` as a module in the sandbox and run each test of `spec` against it, in order."""
    if spec.empty:
        raise BadInputError("no tests to run: give MBPP 'test_list' assert lines or a HumanEval 'test' with check()")
    if spec.test and not spec.entry_point:
        raise BadInputError("HumanEval tests need 'entry_point': the function check(candidate) receives")
    limits = limits or SandboxLimits()
    job = {"mode": "tests", "code": code, "test_timeout_s": limits.test_timeout_s, **spec.for_harness()}
    raw = execute(job, limits, settings)
    return report_from_run(raw, spec)
