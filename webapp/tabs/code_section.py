"""Code views shared by the tabs: a code critique (verdict, analysis, suggestions) and its test results as a table."""

from __future__ import annotations

from collections.abc import Sequence

from core.code.critique import CodeCritiqueResult
from core.code.feedback import Execution
from webapp.render import message_html, sanitize, text_html

TEST_COLUMNS = ["test", "result", "expected", "actual", "error"]
VERDICT_BADGES = {"correct": "✓ correct", "incorrect": "✗ incorrect"}
SOURCE_TEXT = {
    "tests": "decided by the tests",
    "model": "the critic's verdict (every test passed)",
    "both": "the tests and the critic agree",
}


def test_rows(execution: Execution, tests: Sequence[str] = ()) -> list[list[str]]:
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
