"""What goes into a sandboxed run (its limits) and what comes out (a program run, a test report)."""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import ConfigDict, Field

from core.config import ConfigModel
from core.errors import BadInputError

Isolation = Literal["bwrap", "none"]
TestStatus = Literal["passed", "failed", "error", "timed_out", "not_run"]


class SandboxLimits(ConfigModel):
    """Resource limits of one sandboxed run; every process the code starts inherits them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    config_name = "sandbox limit"

    timeout_s: float = Field(10.0, gt=0, le=600, description="Wall clock for the whole run; then the tree is killed.")
    test_timeout_s: float = Field(
        3.0,
        gt=0,
        le=600,
        description="Wall clock of one test; a test that runs longer is timed out and the next "
        "one runs (the run's own timeout_s still bounds them all).",
    )
    memory_mb: int = Field(
        1024,
        ge=64,
        le=65536,
        description="Address space of each process (RLIMIT_AS), in MiB; a bigger allocation raises MemoryError.",
    )
    processes: int = Field(
        32, ge=2, le=4096, description="Processes and threads the sandbox user may have at once (RLIMIT_NPROC)."
    )
    file_mb: int = Field(16, ge=1, le=4096, description="Largest file a process may write (RLIMIT_FSIZE), in MiB.")
    open_files: int = Field(64, ge=16, le=4096, description="Open file descriptors per process (RLIMIT_NOFILE).")
    tmp_mb: int = Field(64, ge=1, le=4096, description="Size of the private /tmp and working directory, in MiB.")
    output_kb: int = Field(
        64, ge=1, le=65536, description="Captured stdout and stderr, each, in KiB; the rest is dropped (and said)."
    )

    @property
    def cpu_s(self) -> int:
        """CPU seconds per process: the wall clock, rounded up, plus one (the wall clock normally stops it first)."""
        return int(self.timeout_s) + 2

    def for_harness(self) -> dict[str, int]:
        """The limits as the in-sandbox harness sets them."""
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "processes": self.processes,
            "file_bytes": self.file_mb * 1024 * 1024,
            "open_files": self.open_files,
        }


class ProgramRun(ConfigModel):
    """One sandboxed process run: how it ended and what it printed (bounded)."""

    model_config = ConfigDict(extra="forbid")

    exit_code: int | None = Field(description="The program's exit status; None when it was killed.")
    timed_out: bool = Field(False, description="The wall clock ran out and the whole process tree was killed.")
    duration_s: float = Field(description="Wall-clock seconds from start to the last process gone.")
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stopped: str | None = Field(None, description="Why the run was stopped before it ended by itself, if it was.")
    isolation: Isolation = Field(description="bwrap: isolated by bubblewrap; none: CRITIC_SANDBOX=unsafe-local.")
    warning: str | None = Field(None, description="Set when the run was not isolated.")


class TestOutcome(ConfigModel):
    """One test of a test run."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The test as written (an assert line, or one statement of check()).")
    status: TestStatus
    expected: str | None = Field(None, description="repr of the expected value (assert ACTUAL == EXPECTED).")
    actual: str | None = Field(None, description="repr of the value the code produced.")
    error: str | None = Field(None, description="The exception, or why the test did not finish.")


class TestReport(ProgramRun):
    """A program run against its tests: counts per outcome and each test's result."""

    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = Field(0, description="Tests whose assertion was false.")
    errors: int = Field(0, description="Tests that raised, timed out or could not run (the run was stopped).")
    total: int = 0
    load_error: str | None = Field(None, description="Why the code could not even be loaded (then every test errs).")
    tests: list[TestOutcome] = Field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def failing(self) -> list[TestOutcome]:
        return [test for test in self.tests if test.status != "passed"]


class TestSpec(ConfigModel):
    """The tests of a piece of code, in MBPP form (assert lines) or HumanEval form (check(candidate))."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(frozen=True, extra="forbid")

    test_list: list[str] = Field(default_factory=list, description="MBPP: one assert statement per test.")
    test_setup_code: str = Field("", description="MBPP: code run after the solution, before the tests.")
    test: str | None = Field(None, description="HumanEval: code defining check(candidate), one assert per test.")
    entry_point: str | None = Field(None, description="HumanEval: the function check() receives as candidate.")

    @property
    def empty(self) -> bool:
        return not self.test_list and not self.test

    def for_harness(self) -> dict[str, object]:
        """The tests as the in-sandbox harness reads them."""
        humaneval = {"test": self.test, "entry_point": self.entry_point} if self.test else None
        return {"tests": list(self.test_list), "setup": self.test_setup_code, "humaneval": humaneval}

    @classmethod
    def from_python(cls, source: str, entry_point: str | None = None) -> TestSpec:
        """Tests written as Python: a file defining check(candidate) is HumanEval form (with `entry_point`);
        otherwise each top-level assert is one MBPP test and every other statement is setup, run first in order."""
        try:
            module = ast.parse(source)
        except SyntaxError as exc:
            raise BadInputError(f"the tests are not valid Python (line {exc.lineno}): {exc.msg}") from exc
        if any(isinstance(node, ast.FunctionDef) and node.name == "check" for node in module.body):
            if not entry_point:
                raise BadInputError("the tests define check(candidate): name the function it tests (entry point)")
            return cls(test=source, entry_point=entry_point)
        nodes = module.body
        written = [(ast.get_source_segment(source, n) or ast.unparse(n), isinstance(n, ast.Assert)) for n in nodes]
        asserts = [text for text, is_assert in written if is_assert]
        setup = [text for text, is_assert in written if not is_assert]
        if not asserts:
            raise BadInputError("the tests have no assert statement and no check(candidate) function")
        return cls(test_list=asserts, test_setup_code="\n".join(setup))
