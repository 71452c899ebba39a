"""The program the sandbox runs: set resource limits, then run the code as a program or against its tests.

This file is shipped into the sandbox as data and runs there under the sandbox's interpreter with the standard
library only (it imports nothing from the project). It reads one job (JSON) from the file named by its first
argument and, for a test run, writes one JSON line per event to the file descriptor named by its second argument:

    {"event": "loaded", "error": null | "<what went wrong loading the code>"}
    {"event": "start", "index": i, "name": "<the test as written>"}
    {"event": "done", "index": i, "status": "passed" | "failed" | "error", "expected": .., "actual": .., "error": ..}

Events stream as they happen, so a test that never finishes (an endless loop) is known by its `start` without a
`done` when the host kills the run. The code under test runs in this same process: it could overwrite these
events, so the sandbox protects the machine, not the honesty of the score against code written to cheat it.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import signal
import sys
import traceback

_REPR_CHARS = 200
_ERROR_CHARS = 600


def _limit(kind: int, value: int | None) -> None:
    if value is not None:
        resource.setrlimit(kind, (value, value))


def apply_limits(limits: dict) -> None:
    """Resource limits for this process and everything it starts; set before any untrusted code runs."""
    _limit(resource.RLIMIT_CPU, limits.get("cpu_s"))
    _limit(resource.RLIMIT_AS, limits.get("memory_bytes"))
    _limit(resource.RLIMIT_NPROC, limits.get("processes"))
    _limit(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    _limit(resource.RLIMIT_NOFILE, limits.get("open_files"))
    _limit(resource.RLIMIT_CORE, 0)


class TestTimeout(BaseException):
    """Raised by the alarm when one test runs longer than its own time limit (BaseException: `except Exception`
    in the code under test does not swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise TestTimeout


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # an object whose repr raises is described by the error
        text = f"<unprintable: {type(exc).__name__}>"
    return text if len(text) <= _REPR_CHARS else text[: _REPR_CHARS - 3] + "..."


def _error(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    text = "".join(lines).strip()
    if isinstance(exc, SystemExit):
        text = f"the code called exit({exc.code!r})"
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


class Reporter:
    """Writes events to the result descriptor, one JSON line each, unbuffered."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, **event: object) -> None:
        data = (json.dumps(event, default=_short) + "\n").encode()
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


def _compare_parts(statement: ast.stmt) -> tuple[ast.expr, ast.expr] | None:
    """The two sides of `assert ACTUAL == EXPECTED`, the one assert form whose values are worth showing apart."""
    if isinstance(statement, ast.Assert):
        test = statement.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            return test.left, test.comparators[0]
    return None


def run_statement(source: str, namespace: dict, timeout_s: float = 0.0) -> dict:
    """Run one test statement; passed / failed (with expected and actual where the assert compares) / error /
    timed_out (after `timeout_s` seconds, when above 0)."""
    outcome: dict = {"status": "passed", "expected": None, "actual": None, "error": None}
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        return {**outcome, "status": "error", "error": _error(exc)}
    if timeout_s > 0:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        parts = _compare_parts(tree.body[0]) if len(tree.body) == 1 else None
        if parts is None:
            exec(compile(tree, "<test>", "exec"), namespace)
            return outcome
        actual = eval(compile(ast.Expression(parts[0]), "<test>", "eval"), namespace)
        expected = eval(compile(ast.Expression(parts[1]), "<test>", "eval"), namespace)
        outcome.update(expected=_short(expected), actual=_short(actual))
        if not actual == expected:
            outcome.update(status="failed", error="AssertionError")
    except TestTimeout:
        outcome.update(status="timed_out", error=f"this test ran longer than its limit of {timeout_s:g} s")
    except AssertionError as exc:
        outcome.update(status="failed", error=_error(exc))
    except BaseException as exc:  # whatever the code raises (even exit()) is this test's error, not the harness's
        outcome.update(status="error", error=_error(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome


def _humaneval_tests(test: str, entry_point: str, namespace: dict) -> tuple[str | None, list[str]]:
    """HumanEval's `check(candidate)`: its top-level asserts become one test each, the rest of it runs as setup.

    Returns (setup error, the assert statements with `candidate` bound to the entry point).
    """
    try:
        module = ast.parse(test)
    except SyntaxError as exc:
        return f"the tests do not parse: {_error(exc)}", []
    check = next((n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    others = ast.Module(body=[n for n in module.body if n is not check], type_ignores=[])
    try:
        exec(compile(others, "<tests>", "exec"), namespace)
    except BaseException as exc:
        return f"the test setup failed: {_error(exc)}", []
    if entry_point not in namespace:
        return f"the code defines no function named {entry_point!r}", []
    if check is None:
        return "the tests define no check(candidate) function", []
    parameter = check.args.args[0].arg if check.args.args else "candidate"
    namespace[parameter] = namespace[entry_point]
    tests = []
    for statement in check.body:
        if isinstance(statement, ast.Assert):
            tests.append(ast.unparse(statement))
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        # Setup inside check() (imports, helper values, loops of asserts) runs in order as a test of its own.
        tests.append(ast.unparse(statement))
    return None, tests


def run_tests(job: dict, report: Reporter) -> None:
    """Load the code as a module, then run each test in its namespace, reporting as it goes."""
    namespace: dict = {"__name__": "solution"}
    load_error = None
    try:
        exec(compile(job["code"], "solution.py", "exec"), namespace)
        if job.get("setup"):
            exec(compile(job["setup"], "<test setup>", "exec"), namespace)
    except BaseException as exc:
        load_error = _error(exc)
    tests = list(job.get("tests") or [])
    if load_error is None and job.get("humaneval"):
        spec = job["humaneval"]
        load_error, tests = _humaneval_tests(spec["test"], spec["entry_point"], namespace)
        if load_error is not None:
            tests = ["check(" + spec["entry_point"] + ")"]
    report(event="loaded", error=load_error, tests=tests)
    for index, test in enumerate(tests):
        report(event="start", index=index, name=test)
        if load_error is not None:
            outcome = {"status": "error", "expected": None, "actual": None, "error": load_error}
        else:
            outcome = run_statement(test, namespace, float(job.get("test_timeout_s") or 0))
        report(event="done", index=index, **outcome)


def run_program(job: dict) -> int:
    """Run the code as a program (`__name__ == "__main__"`); its exit status."""
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compile(job["code"], "solution.py", "exec"), namespace)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    apply_limits(job.get("limits") or {})
    signal.signal(signal.SIGALRM, _alarm)
    if job.get("mode") == "program":
        return run_program(job)
    report = Reporter(int(sys.argv[2]))
    run_tests(job, report)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: no atexit handler or lingering thread the code registered may run after the tests.
    os._exit(status)
