"""Execution feedback: a test report summarised for results (`Execution`) and for the critic's prompt (CTRL's forms)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.sandbox.types import Isolation, TestReport, TestStatus

MAX_FAILING_SHOWN = 5


class FailingTest(BaseModel):
    """A test that did not pass, as users and prompts see it."""

    name: str
    status: TestStatus
    expected: str | None = None
    actual: str | None = None
    error: str | None = None

    def describe(self) -> str:
        """`assert f(1) == 2`: expected 2, got 3 (AssertionError)."""
        parts = []
        if self.expected is not None or self.actual is not None:
            parts.append(f"expected {self.expected}, got {self.actual}")
        if self.error and self.error != "AssertionError":
            parts.append(self.error)
        elif not parts:
            parts.append(self.status.replace("_", " "))
        return f"`{self.name}`: " + "; ".join(parts)


class Execution(BaseModel):
    """The outcome of a solution's tests in the sandbox, as every code result carries it."""

    passed: int
    failed: int = Field(description="Tests whose assertion was false.")
    errors: int = Field(description="Tests that raised, timed out or did not run.")
    total: int
    timed_out: bool = False
    stopped: str | None = Field(None, description="Why the run was stopped, if it was.")
    load_error: str | None = Field(None, description="Why the code could not be loaded at all.")
    failing: list[FailingTest] = Field(default_factory=list, description="Every test that did not pass, in order.")
    isolation: Isolation = "bwrap"
    duration_s: float = 0.0

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @classmethod
    def from_report(cls, report: TestReport) -> Execution:
        return cls(
            passed=report.passed,
            failed=report.failed,
            errors=report.errors,
            total=report.total,
            timed_out=report.timed_out,
            stopped=report.stopped,
            load_error=report.load_error,
            failing=[FailingTest(**t.model_dump()) for t in report.failing],
            isolation=report.isolation,
            duration_s=report.duration_s,
        )


def execution_feedback(execution: Execution) -> str:
    """The execution feedback in CTRL's three forms: all pass (a short confirmation); nothing runs or every test
    fails (say so, suggest starting over); some fail (the failing tests with expected and actual values and error)."""
    n = execution.total
    if execution.all_passed:
        return f"All {n} tests passed."
    shown = "\n".join(f"- {test.describe()}" for test in execution.failing[:MAX_FAILING_SHOWN])
    more = len(execution.failing) - MAX_FAILING_SHOWN
    if more > 0:
        shown += f"\n- ... and {more} more"
    if execution.load_error:
        return (
            f"The code does not run: {execution.load_error}\nNone of the {n} tests could run. "
            "The solution needs to be rewritten; consider starting over."
        )
    if execution.passed == 0:
        return (
            f"All {n} tests failed:\n{shown}\nThe approach does not work; consider starting over with a new solution."
        )
    return f"{execution.passed} of {n} tests passed. Failing tests:\n{shown}"
