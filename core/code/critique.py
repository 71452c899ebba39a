"""Critiques of code grounded in execution: run the tests, show the outcome to the critic, let failing tests decide.

For each code item the tests run first in the sandbox; the outcome goes into the critic's prompt in CTRL's three
forms (core.code.feedback); the critic writes analysis -> suggestions -> verdict under the code-critique grammar
(core.code.grammar). A failing test makes the verdict `incorrect` whatever the model says, and the analysis then
opens with the failing test, as the symbolic checker's proof does for math steps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.backends.base import Backend, Messages
from core.code.feedback import Execution, execution_feedback
from core.code.grammar import VERDICT_LINE, code_critique_constraint, parse_code_critique
from core.code.items import CodeItem, CodeVerdict
from core.config import SamplingConfig
from core.critic import UNCONSTRAINED_REPETITION_PENALTY
from core.errors import ConfigError
from core.models import default_grammar_profile
from core.sandbox import SandboxLimits, run_tests
from core.settings import get_settings
from core.types import GrammarProfile

CodeVerdictSource = Literal["tests", "model", "both"]
SANDBOX_WORKERS = 4
CODE_SYSTEM_PROMPT = "You are a careful programming teacher who reviews Python solutions and their test results."
_TASK = (
    "Review the solution using the execution feedback. Write three parts:\n"
    "**Analysis**: what the code does and, if it is wrong, which line or case goes wrong and why.\n"
    "**Suggestions**: concrete changes that would fix it (or 'None needed' when it is right).\n"
    "**Verdict**: \\boxed{correct} if the solution is right, \\boxed{incorrect} otherwise."
)


class CodeCritiqueConfig(SamplingConfig):
    """How code critiques are generated and how the tests run."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    config_name = "code critique setting"

    max_new_tokens: int = Field(256, ge=16, le=32768, description="Token budget of one critique.")
    profile: Literal["auto", "tight", "structure"] = Field(
        default_factory=lambda: get_settings().grammar,
        description="Grammar profile (CRITIC_GRAMMAR): tight = one sentence per part (small embedded models), "
        "structure = labels and verdict only (strong critics write several paragraphs), auto = by the model's size.",
    )
    constrained: Literal["auto", "on", "off"] = Field(
        "auto", description="Enforce the format with the grammar: auto = where the backend can, on = or fail, off."
    )
    repetition_penalty: float | None = Field(
        None,
        ge=1.0,
        le=2.0,
        description="Penalty on repeated tokens (1 = none); default none under a grammar and "
        f"{UNCONSTRAINED_REPETITION_PENALTY} without one, as for math critiques.",
    )
    limits: SandboxLimits = Field(default_factory=SandboxLimits, description="Limits of each test run.")


class CodeCritiqueResult(BaseModel):
    """A critique of one code solution: the JSON `critic critique` writes for a code item."""

    kind: Literal["code"] = "code"
    id: str = ""
    problem: str
    code: str
    execution: Execution = Field(description="The tests' outcome in the sandbox (before the critic wrote).")
    feedback: str = Field(description="The execution feedback the critic was shown.")
    verdict: CodeVerdict = Field(description="correct / incorrect: failing tests make it incorrect.")
    model_verdict: CodeVerdict | None = Field(None, description="The model's own verdict; null when unreadable.")
    verdict_source: CodeVerdictSource = Field(description="tests, model, or both agreeing.")
    failing_test: str | None = Field(None, description="The first failing test, when any fails.")
    analysis: str = ""
    suggestions: str = ""
    model: str
    backend: str
    constrained: bool = False
    grammar: GrammarProfile | None = None
    raw_output: str = ""
    completion_tokens: int = 0
    timings: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def critique_text(self) -> str:
        """The critique as one text, in the format's labels (what a revision prompt shows)."""
        return f"**Analysis**: {self.analysis}\n**Suggestions**: {self.suggestions}\n" + VERDICT_LINE.format(
            verdict=self.verdict
        ).lstrip("\n")


def run_item_tests(items: Sequence[CodeItem], limits: SandboxLimits | None = None) -> list[Execution]:
    """Each item's tests in the sandbox (a few runs at once: they mostly wait on process start-up)."""
    with ThreadPoolExecutor(max_workers=SANDBOX_WORKERS) as pool:
        reports = list(pool.map(lambda item: run_tests(item.code, item.tests, limits), items))
    return [Execution.from_report(report) for report in reports]


def code_critique_messages(item: CodeItem, feedback: str) -> Messages:
    """The critic's prompt: problem, solution, execution feedback, then the three-part task."""
    user = (
        f"[Problem]\n{item.problem.strip()}\n\n[Solution]\n```python\n{item.code.rstrip()}\n```\n\n"
        f"[Execution feedback]\n{feedback}\n\n{_TASK}"
    )
    return [{"role": "system", "content": CODE_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _uses_grammar(backend: Backend, config: CodeCritiqueConfig) -> bool:
    if config.constrained == "off":
        return False
    if backend.supports_constraints:
        return True
    if config.constrained == "on":
        raise ConfigError(f"the {backend.name} backend cannot enforce the code critique format: set constrained=auto")
    return False


def decide(execution: Execution, model_verdict: CodeVerdict | None) -> tuple[CodeVerdict, CodeVerdictSource]:
    """The verdict: failing tests make it incorrect; with every test passing, the model's (tests may be too few)."""
    if not execution.all_passed:
        return "incorrect", "both" if model_verdict == "incorrect" else "tests"
    if model_verdict is None:
        return "correct", "tests"
    return model_verdict, "both" if model_verdict == "correct" else "model"


def grammar_profile(setting: str, model_name: str) -> GrammarProfile:
    """The profile a code critique is held to: the setting, or under auto the one that fits the model's size."""
    chosen = default_grammar_profile(model_name) if setting == "auto" else setting
    return "tight" if chosen == "tight" else "structure"


def critique_code(
    backend: Backend,
    items: Sequence[CodeItem],
    config: CodeCritiqueConfig | None = None,
    executions: Sequence[Execution] | None = None,
) -> list[CodeCritiqueResult]:
    """Critique every item in one batched generation; `executions` (one per item) skips re-running the tests."""
    config = config or CodeCritiqueConfig()
    if not items:
        return []
    started = time.perf_counter()
    executions = list(executions) if executions is not None else run_item_tests(items, config.limits)
    tested = time.perf_counter()
    feedbacks = [execution_feedback(execution) for execution in executions]
    prompts = [code_critique_messages(item, feedback) for item, feedback in zip(items, feedbacks, strict=True)]
    grammar = _uses_grammar(backend, config)
    penalty = config.repetition_penalty
    if penalty is None:
        penalty = 1.0 if grammar else UNCONSTRAINED_REPETITION_PENALTY
    params = replace(config.params(), repetition_penalty=penalty)
    profile = grammar_profile(config.profile, str(backend.model_name))
    if grammar:
        constraint = code_critique_constraint(config.max_new_tokens, profile)
        outputs = backend.generate(prompts, params, [constraint] * len(prompts))
    else:
        outputs = backend.generate(prompts, params)
    generated = time.perf_counter()
    results = []
    for item, execution, feedback, generations in zip(items, executions, feedbacks, outputs, strict=True):
        generation = generations[0]
        parsed = parse_code_critique(generation.text)
        verdict, source = decide(execution, parsed.verdict)
        failing = execution.failing[0] if execution.failing else None
        analysis = parsed.analysis
        if failing is not None:
            # The failing test is a proof, as the checker's finding is for a math step: the critique always names it.
            analysis = f"The test {failing.describe()}. {analysis}".strip()
        notes = []
        if parsed.verdict is None:
            notes.append("the model's critique has no readable verdict: the verdict comes from the tests")
        if execution.isolation == "none":
            notes.append("the tests ran without isolation (CRITIC_SANDBOX=unsafe-local)")
        results.append(
            CodeCritiqueResult(
                id=item.id,
                problem=item.problem,
                code=item.code,
                execution=execution,
                feedback=feedback,
                verdict=verdict,
                model_verdict=parsed.verdict,
                verdict_source=source,
                failing_test=failing.name if failing else None,
                analysis=analysis,
                suggestions=parsed.suggestions,
                model=str(backend.model_name),
                backend=backend.name,
                constrained=grammar and generation.constrained,
                grammar=profile if grammar and generation.constrained else None,
                raw_output=generation.text,
                completion_tokens=generation.completion_tokens,
                timings={"tests_s": tested - started, "generate_s": generated - tested},
                notes=notes,
            )
        )
    return results
