"""Prompts for the generator model and reading the solutions it writes."""

from __future__ import annotations

from core.backends.base import GenerationParams
from core.solving import (
    continue_messages,
    continue_solutions,
    parse_continuation,
    parse_solution_text,
    solution_answer,
    solve,
    solve_messages,
)
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def test_solve_prompt_asks_for_numbered_steps_and_a_boxed_answer() -> None:
    messages = solve_messages(PROBLEM)
    text = "\n".join(m["content"] for m in messages)
    assert PROBLEM in text and "Step i:" in text and "\\boxed{}" in text


def test_continue_prompt_shows_the_prefix_and_asks_for_the_next_step() -> None:
    messages = continue_messages(PROBLEM, ["He starts with 3 apples.", "Step 2: He buys 4 more."])
    user = messages[-1]["content"]
    assert "Step 1: He starts with 3 apples.\n\nStep 2: He buys 4 more." in user
    assert "Continue this solution from Step 3" in user
    assert continue_messages(PROBLEM, []) == solve_messages(PROBLEM)


def test_parse_solution_text_reads_numbered_steps() -> None:
    text = "Step 1: 3 apples.\nStep 2: 3 + 4 = 7.\nStep 3: The answer is \\boxed{7}."
    assert parse_solution_text(text) == ["3 apples.", "3 + 4 = 7.", "The answer is \\boxed{7}."]
    assert parse_solution_text("") == []


def test_continuation_keeps_the_prefix_and_drops_an_echo_of_it() -> None:
    prefix = ["3 apples.", "He buys 4."]
    echoed = "Step 1: 3 apples.\nStep 2: He buys 4.\nStep 3: 3 + 4 = \\boxed{7}"
    assert parse_continuation(echoed, prefix) == ["3 apples.", "He buys 4.", "3 + 4 = \\boxed{7}"]
    fresh = "Step 3: 3 + 4 = \\boxed{7}"
    assert parse_continuation(fresh, prefix) == ["3 apples.", "He buys 4.", "3 + 4 = \\boxed{7}"]


def test_solution_answer_reads_the_last_stated_answer() -> None:
    assert solution_answer(["x = 2", "so \\boxed{5}", "check: fine"]) == "5"
    assert solution_answer(["no answer"]) is None


def test_solve_and_continue_batch_every_prompt_into_one_call() -> None:
    backend = ScriptedBackend(lambda prompt, i: f"Step 1: work\nStep 2: \\boxed{{{i + 6}}}")
    solutions = solve(backend, [PROBLEM, "Another problem"], GenerationParams(n=3, temperature=0.7))
    assert len(backend.calls) == 1
    assert [[s.final_answer for s in per] for per in solutions] == [["6", "7", "8"], ["6", "7", "8"]]

    backend.calls.clear()
    continued = continue_solutions(backend, [(PROBLEM, ["3 apples."]), (PROBLEM, [])], GenerationParams(n=2))
    assert len(backend.calls) == 1
    assert continued[0][0].steps[0] == "3 apples." and continued[0][0].prefix_steps == 1
    assert continued[1][1].final_answer == "7"
