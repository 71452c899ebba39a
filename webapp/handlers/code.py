"""Code handlers: critique a pasted Python solution with its tests (run in the sandbox first), revise it with the
critique and run the tests again, so the page can show pass counts before and after."""

from __future__ import annotations

from dataclasses import dataclass

from core.code.critique import CodeCritiqueResult, critique_code
from core.code.feedback import Execution
from core.code.items import CodeItem, code_item_from_obj
from core.errors import BadInputError
from core.sandbox.types import TestSpec
from db.critique_runs import save_critique_run
from db.items import add_item
from db.session import session_scope
from training.revision_reward import revise_with_critiques
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require


@dataclass
class CodeRevision:
    """A revision of a code solution with its critique: the new code and the tests before and after."""

    code: str
    before: Execution
    after: Execution


def code_item(ctx: AppContext, *, problem: str, code: str, tests: str, entry_point: str = "") -> CodeItem:
    """A checked code item from the form: the tests as Python (assert lines, or check(candidate) + entry point)."""
    if not tests.strip():
        raise BadInputError("write the tests first: assert lines such as `assert add(1, 2) == 3`")
    spec = TestSpec.from_python(tests, entry_point.strip() or None)
    fields = {"problem": problem, "code": code, **spec.model_dump(exclude_none=True)}
    return code_item_from_obj(fields, "the solution", ctx.settings)


def critique_submission(
    ctx: AppContext, actor: Actor | None, *, problem: str, code: str, tests: str, entry_point: str = ""
) -> tuple[CodeItem, CodeCritiqueResult, int]:
    """Run the tests, critique the code with their outcome, store item and critique; returns (item, result, run id)."""
    actor = require(actor, Action.CRITIQUE)
    item = code_item(ctx, problem=problem, code=code, tests=tests, entry_point=entry_point)
    serving = ctx.serving()
    critic = ctx.critic(serving.model)
    with ctx.generating(critic.backend):
        result = critique_code(critic.backend, [item])[0]
    with session_scope(ctx.database_url) as session:
        row = add_item(session, item=item)
        run = save_critique_run(
            session, item_id=row.id, result=result, created_by_id=actor.id, model_version_id=serving.version_id
        )
        return item, result, run.id


def revise_submission(
    ctx: AppContext, actor: Actor | None, *, item: CodeItem, critique: CodeCritiqueResult
) -> CodeRevision:
    """Have the generator (the serving model) revise the code with this critique, and run the tests on the revision."""
    require(actor, Action.CRITIQUE)
    critic = ctx.critic(ctx.serving().model)
    with ctx.generating(critic.backend):
        [(revised, after)] = revise_with_critiques(critic.backend, [item], [critique])
    return CodeRevision(code=revised.code, before=critique.execution, after=after)
