"""Code critiques grounded in execution, and checked revisions: failing tests decide and are named; revisions count."""

from __future__ import annotations

from core.code.critique import CodeCritiqueConfig, critique_code
from core.code.feedback import Execution, FailingTest, execution_feedback
from core.code.grammar import code_critique_constraint
from core.code.refine import CodeRefineConfig, pass_at_1, refine_code
from core.code.tasks import load_code_tasks
from tests.core.scripted_backend import ScriptedBackend

SAYS_CORRECT = (
    "**Analysis**: The code looks fine to me.\n**Suggestions**: None needed here.\n**Verdict**: \\boxed{correct}"
)


def _tasks(*ids: str):
    items = {item.id: item for item in load_code_tasks()}
    return [items[i] for i in ids]


def test_feedback_takes_ctrls_three_forms() -> None:
    passing = Execution(passed=3, failed=0, errors=0, total=3)
    assert execution_feedback(passing) == "All 3 tests passed."
    failing = FailingTest(name="assert f(1) == 2", status="failed", expected="2", actual="3", error="AssertionError")
    some = Execution(passed=1, failed=1, errors=0, total=2, failing=[failing])
    assert "1 of 2 tests passed" in execution_feedback(some) and "expected 2, got 3" in execution_feedback(some)
    none = Execution(passed=0, failed=0, errors=2, total=2, load_error="SyntaxError: invalid syntax", failing=[])
    assert "does not run" in execution_feedback(none) and "starting over" in execution_feedback(none)
    every = Execution(passed=0, failed=2, errors=0, total=2, failing=[failing, failing])
    assert "All 2 tests failed" in execution_feedback(every) and "starting over" in execution_feedback(every)


def test_failing_tests_make_the_verdict_incorrect_and_are_named() -> None:
    wrong, right = _tasks("sum_to_n/wrong-1", "sum_to_n/correct")
    critic = ScriptedBackend(lambda prompt, i: SAYS_CORRECT)
    bad, good = critique_code(critic, [wrong, right], CodeCritiqueConfig(constrained="off"))
    assert bad.verdict == "incorrect" and bad.model_verdict == "correct" and bad.verdict_source == "tests"
    assert bad.failing_test == "assert sum_to_n(1) == 1" and "assert sum_to_n(1) == 1" in bad.analysis
    assert bad.execution.passed == 1 and bad.execution.total == 4 and bad.execution.failing[0].expected == "1"
    assert good.verdict == "correct" and good.verdict_source == "both" and good.execution.all_passed
    prompt = critic.calls[0][0][0][1]["content"]
    assert "[Execution feedback]" in prompt and "expected 1, got 0" in prompt


def test_the_grammar_profiles_accept_a_critique_in_the_format() -> None:
    tight, structure = code_critique_constraint(256, "tight"), code_critique_constraint(256, "structure")
    assert tight.matches(SAYS_CORRECT.replace("looks fine to me", "returns the right sum"))
    long = (
        "**Analysis**: The loop stops at `n - 1`.\n\nSo `sum_to_n(1)` returns 0.\n**Suggestions**: Use "
        "`range(1, n + 1)`.\n**Verdict**: \\boxed{incorrect}"
    )
    assert structure.matches(long) and not tight.matches(long)


def test_critique_guided_revisions_are_run_and_counted_per_round() -> None:
    (wrong,) = _tasks("sum_to_n/wrong-1")
    (right,) = _tasks("sum_to_n/correct")

    def generator(prompt: str, i: int) -> str:
        # Fixes the code only when shown a review (so the two arms differ measurably).
        return f"```python\n{right.code}```" if "Review:" in prompt else f"```python\n{wrong.code}```"

    critic = ScriptedBackend(lambda prompt, i: SAYS_CORRECT)
    config = CodeRefineConfig(rounds=3)
    (guided,) = refine_code(ScriptedBackend(generator), critic, [wrong], config)
    assert guided.passed_per_round == [1, 4, 4, 4] and guided.stop_reason == "passed" and len(guided.rounds) == 1
    assert guided.rounds[0].critique is not None and guided.rounds[0].critique.verdict == "incorrect"
    (alone,) = refine_code(ScriptedBackend(generator), None, [wrong], config.model_copy(update={"use_critique": False}))
    assert alone.passed_per_round == [1, 1, 1, 1] and len(alone.rounds) == 3 and not alone.used_critique
    assert pass_at_1([guided], 0) == 0.0 and pass_at_1([guided], 1) == 1.0 and pass_at_1([alone], 3) == 0.0
