"""Code in the app: the Critique tab's Python section (editor, tests, results, critique, revision) and the views of a
code critique (verdict, analysis, suggestions) and its test results that the Teacher tab shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from core.code.critique import CodeCritiqueResult
from core.code.feedback import Execution
from core.code.items import CodeItem
from webapp.context import AppContext
from webapp.handlers import code as handlers
from webapp.render import message_html, sanitize, text_html
from webapp.ui import current_actor, shows_errors

EXAMPLE_PROBLEM = "Write sum_to_n(n) that returns 1 + 2 + ... + n, and 0 when n < 1."
EXAMPLE_CODE = "def sum_to_n(n):\n    total = 0\n    for i in range(1, n):\n        total += i\n    return total\n"
EXAMPLE_TESTS = "assert sum_to_n(1) == 1\nassert sum_to_n(5) == 15\nassert sum_to_n(0) == 0\n"

TEST_COLUMNS = ["test", "result", "expected", "actual", "error"]
VERDICT_BADGES = {"correct": "✓ correct", "incorrect": "✗ incorrect"}
SOURCE_TEXT = {
    "tests": "decided by the tests",
    "model": "the critic's verdict (every test passed)",
    "both": "the tests and the critic agree",
}


def result_rows(execution: Execution, tests: Sequence[str] = ()) -> list[list[str]]:
    """One row per test: every test the item lists (those not failing passed), then any failing test not listed."""
    failing = {test.name: test for test in execution.failing}
    rows = []
    for name in tests:
        test = failing.pop(name, None)
        if test is None:
            rows.append([name, "passed", "", "", ""])
        else:
            rows.append([name, test.status.replace("_", " "), test.expected or "", test.actual or "", test.error or ""])
    for test in failing.values():
        rows.append(
            [test.name, test.status.replace("_", " "), test.expected or "", test.actual or "", test.error or ""]
        )
    listed = len(tests) or len(rows)
    if execution.total > listed:  # HumanEval: only the failing statements of check() are named
        rows.append([f"{execution.total - listed} other test(s)", "passed", "", "", ""])
    return rows


def pass_count(execution: Execution) -> str:
    """`3 of 4 tests passed`, with why nothing ran when the code did not load."""
    text = f"{execution.passed} of {execution.total} tests passed"
    if execution.load_error:
        text += f" (the code does not run: {execution.load_error})"
    elif execution.timed_out:
        text += " (the run was stopped: time limit)"
    return text


def code_critique_html(result: CodeCritiqueResult) -> str:
    """The critique as a card: verdict (and who decided it), test counts, analysis, suggestions; all text escaped."""
    verdict = result.verdict
    notes = "".join(message_html(note, kind="warn") for note in result.notes)
    failing = ""
    if result.failing_test:
        failing = f'<p class="failing-test"><b>Failing test:</b> {text_html(result.failing_test)}</p>'
    return sanitize(
        f'<div class="code-critique" id="code-critique">'
        f'<p class="verdict {verdict}"><b>Verdict:</b> <span class="badge {verdict}">{VERDICT_BADGES[verdict]}</span>'
        f" <i>({SOURCE_TEXT[result.verdict_source]})</i></p>"
        f'<p class="tests-passed"><b>Tests:</b> {text_html(pass_count(result.execution))}</p>{failing}'
        f"<h4>Analysis</h4>{text_html(result.analysis or '(none)')}"
        f"<h4>Suggestions</h4>{text_html(result.suggestions or '(none)')}{notes}</div>"
    )


def build(ctx: AppContext) -> None:
    """The Critique tab's Python section: the tests run in a sandbox, then the critic reads their outcome."""
    with gr.Accordion("Python code: run the tests, critique, revise", open=False, elem_id="code-section"):
        problem = gr.Textbox(label="Problem", lines=2, value=EXAMPLE_PROBLEM, elem_id="code-problem")
        with gr.Row():
            code = gr.Code(label="Solution", language="python", value=EXAMPLE_CODE, lines=10, elem_id="code-editor")
            with gr.Column():
                tests = gr.Code(
                    label="Tests (assert lines, or a check(candidate) function)",
                    language="python",
                    value=EXAMPLE_TESTS,
                    lines=6,
                    elem_id="code-tests",
                )
                entry = gr.Textbox(label="Entry point (check(candidate) tests only)", elem_id="code-entry")
        run = gr.Button("Run tests and critique", variant="primary", elem_id="code-run")
        results = gr.Dataframe(
            headers=TEST_COLUMNS, interactive=False, wrap=True, label="Test results", elem_id="code-results"
        )
        card = gr.HTML(elem_id="code-card")
        revise = gr.Button("Revise with this critique", elem_id="code-revise")
        revised = gr.Code(label="Revised solution", language="python", interactive=False, elem_id="code-revised")
        revision_status = gr.HTML(elem_id="code-revision-status")
        shown = gr.State(None)  # (item, critique) on screen: what "Revise" works from

        @shows_errors
        def on_run(
            problem_text: str, code_text: str | None, tests_text: str | None, entry_point: str, request: gr.Request
        ) -> list[Any]:
            item, result, _run_id = handlers.critique_submission(
                ctx,
                current_actor(ctx, request),
                problem=problem_text,
                code=code_text or "",
                tests=tests_text or "",
                entry_point=entry_point,
            )
            return [
                result_rows(result.execution, item.test_list),
                code_critique_html(result),
                (item, result),
                "",
                "",
            ]

        @shows_errors
        def on_revise(state: tuple[CodeItem, CodeCritiqueResult] | None, request: gr.Request) -> list[Any]:
            if state is None:
                return [gr.update(), message_html("Run the tests and critique first.", kind="warn")]
            item, critique = state
            revision = handlers.revise_submission(ctx, current_actor(ctx, request), item=item, critique=critique)
            before, after = revision.before, revision.after
            kind = "ok" if after.all_passed else ("warn" if after.passed > before.passed else "error")
            text = (
                f"Tests passed: {before.passed}/{before.total} before, {after.passed}/{after.total} after the revision."
            )
            return [revision.code, message_html(text, kind=kind)]

        run.click(
            on_run,
            [problem, code, tests, entry],
            [results, card, shown, revised, revision_status],
            api_visibility="private",
        )
        revise.click(on_revise, [shown], [revised, revision_status], api_visibility="private")
