"""Symbolic step checker: find the calculations a step claims and verify each with sympy.

Modules: `text` (prose/LaTeX to tokens), `units` (strip units and labels), `values` (evaluate and judge a
side), `words` (worded claims), `claims` (find and judge a step's claims), `check` (verdicts per step and
solution, and the combined critic).
"""

from core.symbolic.check import (
    SolutionCheck,
    check_solution,
    check_step,
    checker_first_error,
    combined_first_error,
    step_check_from_claims,
    with_checker_verdicts,
    with_checks,
)
from core.symbolic.claims import Claim, find_claims

__all__ = [
    "Claim",
    "SolutionCheck",
    "check_solution",
    "check_step",
    "checker_first_error",
    "combined_first_error",
    "find_claims",
    "step_check_from_claims",
    "with_checker_verdicts",
    "with_checks",
]
