"""Grading handlers: a class's points and credit rule per problem, rubric ticks, and the gradebook CSV export."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError
from core.gradebook import GradebookRow, gradebook_csv
from core.grading import GradingScheme, parse_rubric
from db.classes import class_submissions, get_class, grading_schemes, set_grading, set_rubric_ticks
from db.items import problem_key
from db.models import Item
from db.session import session_scope
from webapp.context import AppContext
from webapp.handlers.teacher import ReportRow, report_rows
from webapp.permissions import Action, Actor, require


@dataclass(frozen=True)
class Gradebook:
    """An exported gradebook: the file, and the students left blank because a solution of theirs has no verdict."""

    path: Path
    students: int
    ungraded: list[str]


def problems(ctx: AppContext, actor: Actor | None, *, class_id: int) -> list[str]:
    """The class's problems (text), each once, in the order of the class file."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        get_class(session, class_id=class_id, user_id=actor.id, role=actor.role)
        seen: dict[str, str] = {}
        for sub in class_submissions(session, campaign_id=class_id):
            text = session.get(Item, sub.item_id).problem
            seen.setdefault(problem_key(text), text)
        return list(seen.values())


def grading_of(ctx: AppContext, actor: Actor | None, *, class_id: int, problem: str) -> GradingScheme | None:
    """How the problem is graded in this class; None until the teacher sets it."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        campaign = get_class(session, class_id=class_id, user_id=actor.id, role=actor.role)
        return grading_schemes(campaign).get(problem_key(problem))


def save_grading(
    ctx: AppContext,
    actor: Actor | None,
    *,
    class_id: int,
    problem: str,
    points: float | None,
    rule: str,
    rubric: str = "",
) -> GradingScheme:
    """Set the problem's points and credit rule; `rubric` holds 'name: points' lines (the rubric rule)."""
    actor = require(actor, Action.GRADE_CLASS)
    if points is None:
        raise BadInputError("give the problem's points (what a correct solution earns)")
    scheme = GradingScheme.build(points=points, rule=rule, rubric=parse_rubric(rubric or ""))
    if problem not in problems(ctx, actor, class_id=class_id):
        raise BadInputError("that problem is not in this class; pick one of the class's problems")
    with session_scope(ctx.database_url) as session:
        campaign = get_class(session, class_id=class_id, user_id=actor.id, role=actor.role)
        set_grading(session, campaign=campaign, problem=problem, scheme=scheme)
    return scheme


def tick_rubric(ctx: AppContext, actor: Actor | None, *, class_id: int, item_id: int, ticked: Sequence[str]) -> None:
    """Record which rubric criteria the solution meets (names of its problem's criteria only)."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        campaign = get_class(session, class_id=class_id, user_id=actor.id, role=actor.role)
        item = session.get(Item, item_id)
        scheme = grading_schemes(campaign).get(problem_key(item.problem)) if item is not None else None
        if scheme is None or scheme.rule != "rubric":
            raise BadInputError("this solution's problem is not graded by a rubric; set its grading first")
        unknown = sorted(set(ticked) - {c.name for c in scheme.rubric})
        if unknown:
            raise BadInputError(f"not criteria of this problem's rubric: {', '.join(unknown)}")
        set_rubric_ticks(session, campaign_id=class_id, item_id=item_id, ticked=ticked)


def gradebook_rows(rows: Sequence[ReportRow]) -> tuple[list[GradebookRow], float]:
    """Each student's points (the sum over their solutions; None while one has no verdict) and the points possible
    (each problem once). BadInputError names a problem whose points are not set."""
    missing = next((row for row in rows if row.max_points is None), None)
    if missing is not None:
        raise BadInputError(f"set the points of the problem {missing.problem[:60]!r} first (Grading)")
    totals: dict[str, float | None] = {}
    possible: dict[str, float] = {}
    for row in rows:
        possible[problem_key(row.problem)] = float(row.max_points or 0)
        before = totals.get(row.student, 0.0)
        totals[row.student] = None if before is None or row.points is None else before + row.points
    return [GradebookRow(student, points) for student, points in totals.items()], sum(possible.values())


def export_gradebook(
    ctx: AppContext, actor: Actor | None, *, class_id: int, lms: str, id_column: str, assignment: str = ""
) -> Gradebook:
    """Write the class's gradebook CSV for Canvas or Moodle under CRITIC_HOME/reports; the assignment column is
    named `assignment`, else after the class."""
    actor = require(actor, Action.GRADE_CLASS)
    with session_scope(ctx.database_url) as session:
        name = get_class(session, class_id=class_id, user_id=actor.id, role=actor.role).name.removeprefix("class: ")
    rows, possible = gradebook_rows(report_rows(ctx, actor, class_id=class_id))
    text = gradebook_csv(
        rows, lms=lms, id_column=id_column, assignment=assignment.strip() or name, points_possible=possible
    )
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "class"
    path = ctx.settings.home / "reports" / f"{actor.username}-{class_id}" / f"{safe}-gradebook-{lms}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Gradebook(path=path, students=len(rows), ungraded=[r.student for r in rows if r.points is None])
