"""Critic prompts as chat messages: the DeepCritic single-pass prompt and the three deliberate-mode prompts."""

from __future__ import annotations

from collections.abc import Sequence

from core.backends.base import Messages
from core.steps import strip_step_prefix

SYSTEM_PROMPT = "You are a meticulous math teacher who checks solutions step by step."

ANSWER_INSTRUCTION = (
    "Finish with **Answer**: \\boxed{k}, where k is the number of the first incorrect step, "
    "or \\boxed{-1} if every step is correct."
)

# Kept short on purpose: every prompt token is prefilled and cached once per item and sample. The structure
# profile's task says exactly the format constrained decoding holds the model to (core.grammar); the tight one shows
# the judgement lines it is held to and leaves the sentence openers to the grammar (see _TIGHT_FORMAT).
_TASK_OPENING = (
    "Critique the solution step by step. For each step, analyse its reasoning and calculations, then re-verify that "
    "analysis in a different way (recompute, substitute back, or question the analysis). "
)
_STOP_RULE = "Stop at the first incorrect step. "
_ALL_STEPS_RULE = "Judge every step, also the steps after an incorrect one. "
# The tight profile's task shows one combined analysis line. The grammar (core.grammar) still writes the
# meta-critique as its own labelled sentence, so nothing is lost; but spelling out the grammar's openers and an
# extra placeholder line in the prompt made the embedded model judge the second step of almost every correct
# solution wrong (bench/README.md, "Choosing the tight prompt"), and the grammar alone already holds the format.
_TIGHT_FORMAT = (
    "Format each step as:\n\n"
    "**Critique of Step 1**: <analysis> <re-verification>\n"
    "**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n"
)
_STRUCTURE_FORMAT = (
    "Each part may take several sentences, lines, lists and LaTeX ($...$, $$...$$), but must not contain the "
    "format's own markers (**Critique of Step, **Meta-critique**, **Judgement**, **Answer**, \\boxed). Format each "
    "step as:\n\n"
    "**Critique of Step 1**: <analysis>\n"
    "**Meta-critique**: <re-verification>\n"
    "**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n"
)
_VALUES = "(\\boxed{1} for a correct step, \\boxed{-1} for an incorrect one.) "
_CHECKER_RULE = (
    "A step the checker proves false is incorrect: judge it \\boxed{-1} and explain its error. Judging an earlier "
    "step \\boxed{-1} does not end the critique before that step; the answer is then the step the checker proved "
    "false. "
)


def single_task(profile: str = "tight", *, all_steps: bool = False, checker_proved_wrong: bool = False) -> str:
    """The single-pass task: what to write for each step, in which format (per grammar profile), and the answer."""
    form = _STRUCTURE_FORMAT if profile == "structure" else _TIGHT_FORMAT
    rule = _ALL_STEPS_RULE if all_steps else _STOP_RULE
    checker = _CHECKER_RULE if checker_proved_wrong else ""
    return _TASK_OPENING + rule + form + _VALUES + checker + ANSWER_INSTRUCTION


def checker_feedback(findings: Sequence[tuple[int, str, str]], *, verified: bool = True) -> str:
    """The symbolic checker's findings as execution feedback: (step, "wrong" or "verified", detail) per step.

    `verified`: also list the arithmetic that holds (capable models use it; a small model reads the long list as
    reasons to doubt, so the tight profile shows only the proven errors)."""
    lines = []
    for index, status, detail in findings:
        if status == "wrong":
            lines.append(f"Checker: step {index}: {detail}.")
        elif status == "verified" and verified:
            lines.append(f"Checker: step {index}: {detail} holds.")
    if not lines:
        return ""
    return "[Checker]\nA symbolic calculator checked the arithmetic of the steps.\n" + "\n".join(lines)


_JUDGEMENT_FORMAT = (
    "End with exactly one line: **Judgement**: The correctness of Step {i} is: \\boxed{{1}} if the step is correct, "
    "or \\boxed{{-1}} if it is incorrect."
)


def format_steps(steps: Sequence[str]) -> str:
    """Number the steps `Step 1: ...` (1-based), one per paragraph; a step's own `Step i:` prefix is dropped."""
    return "\n\n".join(f"Step {i}: {strip_step_prefix(step)}" for i, step in enumerate(steps, start=1))


def _problem_and_solution(problem: str, steps: Sequence[str]) -> str:
    return (
        "The following is a math problem and a solution split into steps.\n\n"
        f"[Problem]\n{problem.strip()}\n\n[Solution]\n{format_steps(steps)}"
    )


def critique_messages(
    problem: str,
    steps: Sequence[str],
    *,
    profile: str = "tight",
    findings: Sequence[tuple[int, str, str]] = (),
    all_steps: bool = False,
) -> Messages:
    """The DeepCritic prompt: critique every step up to the first wrong one and box its index (or -1).

    `profile`: the grammar profile whose format the task describes; `findings`: the symbolic checker's view of the
    steps, shown as execution feedback; `all_steps`: judge every step instead of stopping at the first wrong one.
    """
    feedback = checker_feedback(findings, verified=profile != "tight")
    proved_wrong = any(status == "wrong" for _, status, _ in findings)
    task = single_task(profile, all_steps=all_steps, checker_proved_wrong=proved_wrong)
    parts = [_problem_and_solution(problem, steps), feedback, task]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(part for part in parts if part)},
    ]


def _step_context(problem: str, steps: Sequence[str], step: int) -> str:
    # Only the steps up to the one under review: later steps must not influence its judgement.
    if step == 1:
        assumption = "Focus only on Step 1."
    elif step == 2:
        assumption = "Assume Step 1 is correct. Focus only on Step 2."
    else:
        assumption = f"Assume Steps 1 to {step - 1} are correct. Focus only on Step {step}."
    return f"{_problem_and_solution(problem, steps[:step])}\n\n{assumption}"


def initial_critique_messages(problem: str, steps: Sequence[str], step: int) -> Messages:
    """Deliberate mode, call 1: an initial critique of step `step` (1-based)."""
    task = (
        f"Critique Step {step}: check its reasoning and every calculation in it, and explain whether it is correct. "
        + _JUDGEMENT_FORMAT.format(i=step)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{_step_context(problem, steps, step)}\n\n{task}"},
    ]


def in_depth_critique_messages(problem: str, steps: Sequence[str], step: int, initial_critique: str) -> Messages:
    """Deliberate mode, call 2: re-check the step another way, or judge the initial critique (the meta-critique)."""
    task = (
        f"Here is an initial critique of Step {step}:\n\n[Initial critique]\n{initial_critique.strip()}\n\n"
        f"Take a second, deeper look. Either verify Step {step} again using a different method than the initial "
        "critique (recompute, substitute the result back, or check units and magnitudes), or examine whether the "
        "initial critique itself is right and point out any mistake in it. " + _JUDGEMENT_FORMAT.format(i=step)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{_step_context(problem, steps, step)}\n\n{task}"},
    ]


def merge_critique_messages(
    problem: str, steps: Sequence[str], step: int, initial_critique: str, in_depth_critique: str
) -> Messages:
    """Deliberate mode, call 3: merge both critiques into one deliberate critique with a final judgement."""
    task = (
        f"Two critiques of Step {step} follow.\n\n[Initial critique]\n{initial_critique.strip()}\n\n"
        f"[In-depth critique]\n{in_depth_critique.strip()}\n\n"
        f"Merge them into one deliberate critique of Step {step}: keep the correct reasoning from both, resolve any "
        "disagreement by checking the step yourself, and decide. " + _JUDGEMENT_FORMAT.format(i=step)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{_step_context(problem, steps, step)}\n\n{task}"},
    ]
