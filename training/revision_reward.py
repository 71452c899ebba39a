"""CTRL's training signal: a fixed generator revises the solution with each sampled critique; the revision is checked.

For code, the revision's tests run in the sandbox; for math, its final answer is compared with the ground truth
(math-verify). The reward is 1.0 when the revision passes and 0.0 when it fails. As with the first-error rewards
(training.grpo), only a critique in the strict format earns anything: a code critique needs its analysis, its
suggestions and a boxed verdict; a math critique must parse strictly. So a critique cannot be paid for an
unreadable text that happens to leave a correct solution as it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from core.answers import answers_match
from core.backends.base import Backend
from core.code.critique import CodeCritiqueResult, code_critique_messages, decide, run_item_tests
from core.code.feedback import Execution, execution_feedback
from core.code.grammar import parse_code_critique
from core.code.items import CodeItem
from core.code.refine import CodeRefineConfig, code_revision_messages, extract_code
from core.code.tasks import load_code_tasks
from core.critic import assemble_result
from core.parsing import parse_critique
from core.prompts import critique_messages
from core.refine import RefineConfig, revise
from core.sandbox import SandboxLimits
from core.types import CritiqueResult, SolutionItem
from training.targets import LabelledItem

RevisionKind = Literal["code", "math"]
_CODE_LABELS = ("**Analysis**", "**Suggestions**")


def code_revision_rows(items: Sequence[CodeItem], limits: SandboxLimits | None = None) -> list[dict[str, Any]]:
    """GRPO rows for code: the critic's prompt with the tests' outcome (CTRL's execution feedback), the item and the
    outcome for the reward. Item fields are JSON text: rows of both kinds share one dataset schema."""
    executions = run_item_tests(items, limits)
    return [
        {
            "prompt": code_critique_messages(item, execution_feedback(execution)),
            "kind": "code",
            "item": json.dumps(item.to_json()),
            "execution": execution.model_dump_json(),
        }
        for item, execution in zip(items, executions, strict=True)
    ]


def math_revision_rows(items: Sequence[LabelledItem]) -> list[dict[str, Any]]:
    """GRPO rows for math solutions whose ground-truth answer is known (the others cannot score a revision)."""
    return [
        {
            "prompt": critique_messages(item.problem, list(item.steps)),
            "kind": "math",
            "item": json.dumps({"problem": item.problem, "steps": list(item.steps), "answer": item.answer}),
            "execution": "",
        }
        for item in items
        if item.answer
    ]


def revision_rows(
    math_items: Sequence[LabelledItem], code_tasks: Path | None, limits: SandboxLimits | None = None
) -> list[dict[str, Any]]:
    """Every GRPO row of a revision-reward job: the code tasks' (the project's own when None) and the math items'."""
    return code_revision_rows(load_code_tasks(code_tasks), limits) + math_revision_rows(math_items)


def strict_code_critique(
    text: str, item: CodeItem, execution: Execution, generator: Backend
) -> CodeCritiqueResult | None:
    """The completion as a code critique, or None when it is not in the strict format (labels and boxed verdict)."""
    parsed = parse_code_critique(text)
    if parsed.verdict is None or not all(label in text for label in _CODE_LABELS) or not parsed.analysis:
        return None
    verdict, source = decide(execution, parsed.verdict)
    return CodeCritiqueResult(
        id=item.id,
        problem=item.problem,
        code=item.code,
        execution=execution,
        feedback=execution_feedback(execution),
        verdict=verdict,
        model_verdict=parsed.verdict,
        verdict_source=source,
        failing_test=execution.failing[0].name if execution.failing else None,
        analysis=parsed.analysis,
        suggestions=parsed.suggestions,
        model="policy",
        backend=generator.name,
        raw_output=text,
    )


def strict_math_critique(text: str, item: SolutionItem) -> CritiqueResult | None:
    """The completion as a math critique, or None when it does not parse strictly."""
    parsed = parse_critique(text, len(item.steps), mode="strict")
    if parsed.parse_status != "ok":
        return None
    return assemble_result(item, [parsed], model="policy", backend="grpo", mode="single")


def _completion_text(completion: Any) -> str:
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def revise_with_critiques(
    generator: Backend,
    items: Sequence[CodeItem],
    critiques: Sequence[CodeCritiqueResult],
    *,
    max_new_tokens: int = 384,
    limits: SandboxLimits | None = None,
) -> list[tuple[CodeItem, Execution]]:
    """One revision of each item with its given critique (one batched generator call), and the revision's tests."""
    if not items:
        return []
    prompts = [code_revision_messages(item, critique) for item, critique in zip(items, critiques, strict=True)]
    outputs = generator.generate(prompts, CodeRefineConfig(max_new_tokens=max_new_tokens).params())
    revised = [
        item.model_copy(update={"code": extract_code(out[0].text, item.code)})
        for item, out in zip(items, outputs, strict=True)
    ]
    return list(zip(revised, run_item_tests(revised, limits), strict=True))


class RevisionReward:
    """The reward function TRL calls with a batch of completions: 1.0 per critique whose revision passes."""

    __name__ = "revision_reward"  # TRL logs each reward under its function's name

    def __init__(self, generator: Backend, *, max_new_tokens: int = 384, limits: SandboxLimits | None = None) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.limits = limits

    def __call__(
        self, completions: Sequence[Any], kind: Sequence[str], item: Sequence[str], execution: Sequence[str], **_: Any
    ) -> list[float]:
        rewards = [0.0] * len(completions)
        code: list[tuple[int, CodeItem, CodeCritiqueResult]] = []
        math: list[tuple[int, SolutionItem, CritiqueResult, str]] = []
        for position, (completion, row_kind, row_item, row_execution) in enumerate(
            zip(completions, kind, item, execution, strict=True)
        ):
            text = _completion_text(completion)
            fields = json.loads(row_item)
            if row_kind == "code":
                code_item = CodeItem.model_validate({k: v for k, v in fields.items() if k in CodeItem.model_fields})
                critique = strict_code_critique(
                    text, code_item, Execution.model_validate_json(row_execution), self.generator
                )
                if critique is not None:
                    code.append((position, code_item, critique))
            else:
                solution = SolutionItem(problem=fields["problem"], steps=fields["steps"])
                math_critique = strict_math_critique(text, solution)
                if math_critique is not None:
                    math.append((position, solution, math_critique, fields["answer"]))
        for position, passed in zip([p for p, _, _ in code], self._revise_code(code), strict=True):
            rewards[position] = 1.0 if passed else 0.0
        for position, passed in zip([p for p, *_ in math], self._revise_math(math), strict=True):
            rewards[position] = 1.0 if passed else 0.0
        return rewards

    def _revise_code(self, todo: list[tuple[int, CodeItem, CodeCritiqueResult]]) -> list[bool]:
        if not todo:
            return []
        revised = revise_with_critiques(
            self.generator,
            [item for _, item, _ in todo],
            [critique for _, _, critique in todo],
            max_new_tokens=self.max_new_tokens,
            limits=self.limits,
        )
        return [execution.all_passed for _, execution in revised]

    def _revise_math(self, todo: list[tuple[int, SolutionItem, CritiqueResult, str]]) -> list[bool]:
        if not todo:
            return []
        config = RefineConfig(max_new_tokens=self.max_new_tokens)
        revisions = revise(self.generator, [s for _, s, _, _ in todo], [c for _, _, c, _ in todo], config)
        return [answers_match(r.final_answer, truth) for r, (*_, truth) in zip(revisions, todo, strict=True)]
