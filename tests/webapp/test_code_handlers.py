"""The Critique tab's Python section: tests run first, the critique is stored, a revision is tested again."""

from __future__ import annotations

import pytest

from core.errors import BadInputError
from db.critique_runs import get_critique_run, to_code_critique_result
from db.session import session_scope
from webapp.handlers import code as handlers
from webapp.tabs.code_section import EXAMPLE_CODE, EXAMPLE_PROBLEM, EXAMPLE_TESTS, code_critique_html, result_rows

FIXED = "```python\ndef sum_to_n(n):\n    return sum(range(1, n + 1))\n```"


def test_a_pasted_solution_is_tested_critiqued_stored_and_revised(web) -> None:
    actor = web["annotator"]
    item, result, run_id = handlers.critique_submission(
        web.ctx, actor, problem=EXAMPLE_PROBLEM, code=EXAMPLE_CODE, tests=EXAMPLE_TESTS
    )
    assert (result.execution.passed, result.execution.total) == (1, 3)
    assert result.verdict == "incorrect" and result.failing_test == "assert sum_to_n(1) == 1"
    rows = result_rows(result.execution, item.test_list)
    assert [row[1] for row in rows] == ["failed", "failed", "passed"]
    assert rows[0][2:4] == ["1", "0"]  # expected 1, got 0
    card = code_critique_html(result)
    assert "✗ incorrect" in card and "1 of 3 tests passed" in card
    with session_scope(web.url) as session:
        stored = to_code_critique_result(get_critique_run(session, run_id=run_id))
    assert stored.execution == result.execution

    # The generator (the serving model) revises with the critique; the tests run again on the revision.
    critic = web.ctx.critic(web.ctx.serving().model)
    critic.backend.script = lambda prompt, _: FIXED if "Review:" in prompt else ""
    revision = handlers.revise_submission(web.ctx, actor, item=item, critique=result)
    assert (revision.before.passed, revision.after.passed, revision.after.total) == (1, 3, 3)
    assert "range(1, n + 1)" in revision.code


def test_a_solution_without_tests_is_refused_with_the_reason(web) -> None:
    with pytest.raises(BadInputError, match="write the tests first"):
        handlers.critique_submission(web.ctx, web["annotator"], problem="p", code="def f(): pass", tests=" ")
    with pytest.raises(BadInputError, match="no assert statement"):
        handlers.critique_submission(web.ctx, web["annotator"], problem="p", code="def f(): pass", tests="x = 1")
