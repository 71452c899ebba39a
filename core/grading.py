"""Partial credit: a problem's points and credit rule, and the points one graded solution earns under it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import BadInputError

CreditRule = Literal["all_or_nothing", "step", "rubric"]
CREDIT_RULES: tuple[str, ...] = get_args(CreditRule)
CREDIT_RULE_HELP = {
    "all_or_nothing": "full points when correct, none otherwise",
    "step": "full points when correct, otherwise credit for the correct steps before the first wrong one",
    "rubric": "full points when correct, otherwise the points of the rubric criteria the teacher ticks",
}
POINT_DECIMALS = 2
"""Points are rounded half up to two decimals (4 × 1/3 = 1.33, 4 × 2/3 = 2.67): gradebooks accept decimals."""
MAX_POINTS = 1000.0


class RubricCriterion(BaseModel):
    """One named criterion of a rubric and the points it is worth when the teacher ticks it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, description="What the solution shows, e.g. 'sets up the equation'.")
    points: float = Field(ge=0, le=MAX_POINTS, description="Points earned when the criterion is ticked.")


class GradingScheme(BaseModel):
    """How one problem of a class is graded: its points and the credit a solution with a wrong step earns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: float = Field(gt=0, le=MAX_POINTS, description="Points a correct solution earns.")
    rule: CreditRule = Field(
        "all_or_nothing",
        description="Credit for a solution with a wrong step: "
        + "; ".join(f"{name}: {text}" for name, text in CREDIT_RULE_HELP.items()),
    )
    rubric: tuple[RubricCriterion, ...] = Field(
        (), description="The rubric rule's criteria (unique names); their points add up to at most `points`."
    )

    @model_validator(mode="after")
    def _rubric_fits(self) -> Self:
        names = [c.name.strip() for c in self.rubric]
        if len(set(names)) != len(names):
            raise ValueError("rubric criteria need different names")
        if self.rule == "rubric" and not self.rubric:
            raise ValueError("the rubric rule needs at least one criterion (one per line: 'name: points')")
        total = sum(c.points for c in self.rubric)
        if total > self.points + 1e-9:
            raise ValueError(
                f"the rubric's criteria add up to {total:g} points, more than the problem's {self.points:g}"
            )
        return self

    @classmethod
    def build(cls, **values: Any) -> GradingScheme:
        """A validated scheme, or BadInputError saying what to fix."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
            raise BadInputError(f"invalid grading: {problems}") from None


def parse_rubric(text: str) -> list[RubricCriterion]:
    """Rubric lines as a teacher types them, `name: points` one per line (blank lines skipped)."""
    criteria = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, points = line.rpartition(":")
        try:
            value = float(points)
        except ValueError:
            value = None
        if not sep or not name.strip() or value is None:
            raise BadInputError(f"rubric line {number} {line.strip()!r}: write 'criterion name: points'")
        try:
            criteria.append(RubricCriterion(name=name.strip(), points=value))
        except ValidationError as exc:
            raise BadInputError(f"rubric line {number}: {exc.errors()[0]['msg']}") from None
    return criteria


def rubric_text(criteria: Sequence[RubricCriterion]) -> str:
    """The criteria as `parse_rubric` reads them."""
    return "\n".join(f"{c.name}: {c.points:g}" for c in criteria)


def rounded(points: float) -> float:
    """Points rounded half up to POINT_DECIMALS (not Python's round-half-even: 0.125 -> 0.13)."""
    quantum = Decimal(1).scaleb(-POINT_DECIMALS)
    return float(Decimal(str(points)).quantize(quantum, rounding=ROUND_HALF_UP))


def step_credit(points: float, first_wrong_step: int, n_steps: int) -> float:
    """Credit for the correct steps before the first wrong one: points × (first_wrong_step − 1) / n_steps."""
    if n_steps < 1 or not 1 <= first_wrong_step <= n_steps:
        raise BadInputError(f"first wrong step {first_wrong_step} is not one of the solution's {n_steps} steps")
    return rounded(points * (first_wrong_step - 1) / n_steps)


def score(
    scheme: GradingScheme, *, first_wrong_step: int | None, n_steps: int, ticked: Collection[str] = ()
) -> float | None:
    """The points a solution earns: all when correct (first wrong step -1), else what the rule gives; None while
    it has no verdict yet. Rubric: the points of the ticked criteria (names not in the rubric count nothing)."""
    if first_wrong_step is None:
        return None
    if first_wrong_step == -1:
        return rounded(scheme.points)
    if scheme.rule == "step":
        return step_credit(scheme.points, first_wrong_step, n_steps)
    if scheme.rule == "rubric":
        chosen = set(ticked)
        return rounded(min(scheme.points, sum(c.points for c in scheme.rubric if c.name in chosen)))
    return 0.0
