"""A generator model solving problems: prompts to solve or continue a solution in steps, and reading its output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.answers import extract_final_answer
from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.prompts import format_steps
from core.steps import split_steps, strip_step_prefix

SOLVER_SYSTEM = (
    "You are a careful math solver. Solve the problem step by step. Write every step on its own line, "
    "starting with 'Step i:' (i = 1, 2, ...). Finish with the final answer in \\boxed{}."
)


@dataclass(frozen=True)
class GeneratedSolution:
    """One solution written by the generator: its steps (prefix included when continued) and its final answer."""

    steps: list[str]
    final_answer: str | None
    raw: str = ""
    finish_reason: str = "stop"
    completion_tokens: int = 0
    prefix_steps: int = field(default=0, metadata={"help": "How many leading steps were given, not generated."})


def solve_messages(problem: str) -> Messages:
    """A chat asking the generator to solve `problem` from scratch."""
    return [
        {"role": "system", "content": SOLVER_SYSTEM},
        {"role": "user", "content": f"Problem:\n{problem.strip()}"},
    ]


def continue_messages(problem: str, prefix: Sequence[str]) -> Messages:
    """A chat asking the generator to finish a solution whose first steps are given (kept as they are)."""
    if not prefix:
        return solve_messages(problem)
    k = len(prefix)
    shown = format_steps([strip_step_prefix(step) for step in prefix])
    user = (
        f"Problem:\n{problem.strip()}\n\n"
        f"Here are the first {k} step{'s' if k > 1 else ''} of a solution:\n\n{shown}\n\n"
        f"Continue this solution from Step {k + 1}. Do not repeat or change the steps above. "
        "Finish with the final answer in \\boxed{}."
    )
    return [{"role": "system", "content": SOLVER_SYSTEM}, {"role": "user", "content": user}]


def parse_solution_text(text: str) -> list[str]:
    """The steps of a generated solution (`Step i:` prefixes removed); empty for empty output."""
    return [strip_step_prefix(step) for step in split_steps(text or "") if strip_step_prefix(step)]


def parse_continuation(text: str, prefix: Sequence[str]) -> list[str]:
    """The full step list of a continued solution: the given prefix, then the generated steps.

    Small models often echo the given steps before continuing; echoed copies of the prefix are dropped.
    """
    generated = parse_solution_text(text)
    given = [strip_step_prefix(step) for step in prefix]
    if given and generated[: len(given)] == given:
        generated = generated[len(given) :]
    return [*given, *generated]


def solution_answer(steps: Sequence[str]) -> str | None:
    """The final answer a step list states (searched from the last step backwards)."""
    for step in reversed(steps):
        answer = extract_final_answer(step)
        if answer is not None:
            return answer
    return None


def _to_solution(generation: Generation, prefix: Sequence[str]) -> GeneratedSolution:
    steps = parse_continuation(generation.text, prefix)
    # The answer comes from the generated part when there is one; a prefix may already state it.
    answer = extract_final_answer(generation.text) or solution_answer(steps)
    return GeneratedSolution(
        steps=steps,
        final_answer=answer,
        raw=generation.text,
        finish_reason=generation.finish_reason,
        completion_tokens=generation.completion_tokens,
        prefix_steps=len(prefix),
    )


def solve(backend: Backend, problems: Sequence[str], params: GenerationParams) -> list[list[GeneratedSolution]]:
    """`params.n` fresh solutions per problem, all problems in one backend call."""
    if not problems:
        return []
    outputs = backend.generate([solve_messages(p) for p in problems], params)
    return [[_to_solution(g, []) for g in gens] for gens in outputs]


def continue_solutions(
    backend: Backend, requests: Sequence[tuple[str, Sequence[str]]], params: GenerationParams
) -> list[list[GeneratedSolution]]:
    """`params.n` continuations for each (problem, step prefix) pair, all pairs in one backend call."""
    if not requests:
        return []
    outputs = backend.generate([continue_messages(problem, prefix) for problem, prefix in requests], params)
    return [[_to_solution(g, prefix) for g in gens] for (_, prefix), gens in zip(requests, outputs, strict=True)]
