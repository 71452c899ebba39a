"""Untrusted code under bubblewrap: `run_program`, `run_tests` (core.sandbox.execution) and their result types."""

from core.sandbox.execution import run_program, run_tests
from core.sandbox.run import check_sandbox
from core.sandbox.types import ProgramRun, SandboxLimits, TestOutcome, TestReport, TestSpec

__all__ = [
    "ProgramRun",
    "SandboxLimits",
    "TestOutcome",
    "TestReport",
    "TestSpec",
    "check_sandbox",
    "run_program",
    "run_tests",
]
