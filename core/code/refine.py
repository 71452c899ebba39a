"""Checked revisions of code (CTRL's test-time loop): critique -> revision -> run the tests, while tests fail.

Each round runs the current solution's tests, critiques it with that execution feedback, has a fixed generator
revise it with the critique, and runs the tests on the revision. Rounds stop when every test passes or after
`rounds`. The self-revision baseline (`use_critique=False`) gives the generator the same rounds with neither
critique nor test results: only the problem and its own code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.backends.base import Backend, Messages
from core.code.critique import CodeCritiqueConfig, CodeCritiqueResult, critique_code, run_item_tests
from core.code.feedback import Execution
from core.code.items import CodeItem
from core.config import SamplingConfig

CodeStopReason = Literal["passed", "max_rounds"]
GENERATOR_SYSTEM = "You are an expert Python programmer. You fix code so that it solves the problem."
_FENCED = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


class CodeRefineConfig(SamplingConfig):
    """How code is revised (the sampling fields apply to each revision)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    config_name = "code refine option"

    rounds: int = Field(1, ge=1, le=10, description="Most critique -> revision rounds while tests fail.")
    use_critique: bool = Field(True, description="False: the self-revision baseline (no critique, no test results).")
    max_new_tokens: int = Field(384, ge=16, le=32768, description="Token budget of one revision.")


class CodeRound(BaseModel):
    """One round: the critique of the current code (none in the baseline), the revision and its tests."""

    round: int
    critique: CodeCritiqueResult | None = None
    revised_code: str
    execution: Execution = Field(description="The revision's tests.")


class CodeRefinement(BaseModel):
    """The whole refinement of one code item, with pass counts before and after every round."""

    id: str
    problem: str
    original_code: str
    final_code: str
    execution_before: Execution
    execution_after: Execution
    passed_per_round: list[int] = Field(description="Tests passed before round 1, then after each round.")
    total_tests: int
    rounds: list[CodeRound] = Field(default_factory=list)
    stop_reason: CodeStopReason
    used_critique: bool = True

    @property
    def solved_before(self) -> bool:
        return self.execution_before.all_passed

    @property
    def solved_after(self) -> bool:
        return self.execution_after.all_passed

    def solved_after_round(self, round_number: int) -> bool:
        """Whether the code passed every test after `round_number` rounds (0 = the original)."""
        counts = self.passed_per_round[: round_number + 1]
        return counts[-1] == self.total_tests


def extract_code(text: str, fallback: str) -> str:
    """The code of a generator's reply: the last fenced block, else the whole reply when it parses, else `fallback`."""
    blocks = _FENCED.findall(text)
    if blocks:
        return blocks[-1].strip() + "\n"
    try:
        compile(text, "<revision>", "exec")
    except (SyntaxError, ValueError):
        return fallback
    return text.strip() + "\n" if text.strip() else fallback


def code_revision_messages(item: CodeItem, critique: CodeCritiqueResult | None) -> Messages:
    """The generator's prompt: the problem, the current code and (unless the baseline) the execution-grounded
    critique; the reply is the whole corrected function in a ```python block."""
    shown = f"Problem:\n{item.problem.strip()}\n\nCode:\n```python\n{item.code.rstrip()}\n```"
    if critique is None:
        task = "Check this code. If it is wrong, fix it."
    else:
        task = (
            f"Test results:\n{critique.feedback}\n\nReview:\n{critique.critique_text}\n\n"
            "Fix the code as the review says."
        )
    task += " Reply with the complete corrected code in one ```python block."
    return [{"role": "system", "content": GENERATOR_SYSTEM}, {"role": "user", "content": f"{shown}\n\n{task}"}]


def refine_code(
    generator: Backend,
    critic: Backend | None,
    items: Sequence[CodeItem],
    config: CodeRefineConfig | None = None,
    critique_config: CodeCritiqueConfig | None = None,
) -> list[CodeRefinement]:
    """Revise every item up to `config.rounds` times while its tests fail, batched per round."""
    config = config or CodeRefineConfig()
    critique_config = critique_config or CodeCritiqueConfig()
    use_critique = config.use_critique and critic is not None
    current = [item.model_copy() for item in items]
    before = run_item_tests(items, critique_config.limits)
    latest = list(before)
    history: list[list[CodeRound]] = [[] for _ in items]
    for round_number in range(1, config.rounds + 1):
        active = [p for p in range(len(items)) if not latest[p].all_passed]
        if not active:
            break
        critiques: list[CodeCritiqueResult | None] = [None] * len(active)
        if use_critique:
            assert critic is not None
            found = critique_code(critic, [current[p] for p in active], critique_config, [latest[p] for p in active])
            critiques = list(found)
        prompts = [code_revision_messages(current[p], c) for p, c in zip(active, critiques, strict=True)]
        outputs = generator.generate(prompts, config.params())
        revised = [extract_code(out[0].text, current[p].code) for p, out in zip(active, outputs, strict=True)]
        revised_items = [current[p].model_copy(update={"code": code}) for p, code in zip(active, revised, strict=True)]
        executions = run_item_tests(revised_items, critique_config.limits)
        for p, critique, item, execution in zip(active, critiques, revised_items, executions, strict=True):
            history[p].append(
                CodeRound(round=round_number, critique=critique, revised_code=item.code, execution=execution)
            )
            current[p], latest[p] = item, execution
    results = []
    for p, item in enumerate(items):
        counts = [before[p].passed]
        for r in history[p]:
            counts.append(r.execution.passed)
        counts += [counts[-1]] * (config.rounds + 1 - len(counts))  # a solved item keeps its count
        results.append(
            CodeRefinement(
                id=item.id,
                problem=item.problem,
                original_code=item.code,
                final_code=current[p].code,
                execution_before=before[p],
                execution_after=latest[p],
                passed_per_round=counts,
                total_tests=before[p].total,
                rounds=history[p],
                stop_reason="passed" if latest[p].all_passed else "max_rounds",
                used_critique=use_critique,
            )
        )
    return results


def pass_at_1(refinements: Sequence[CodeRefinement], after_round: int) -> float | None:
    """Share of items whose code passes every test after `after_round` rounds (0 = before any revision)."""
    if not refinements:
        return None
    return sum(r.solved_after_round(after_round) for r in refinements) / len(refinements)
