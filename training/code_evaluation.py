"""Evaluate a critic on code items: verdict accuracy and F1 (ProcessBench's), and pass@1 after critique -> revision.

The items are the project's own tasks (core/code/tasks.jsonl) or a JSONL of code items with `label`. Each item's
tests run in the sandbox, the critic writes an execution-grounded critique (core.code.critique), and its verdict
is scored against the label twice: the result's verdict (failing tests decide) and the model's own verdict (what
the critic adds where every test passes). With `revise_rounds`, the wrong solutions are revised by the generator
with the critique up to that many rounds (core.code.refine) and pass@1 is reported before and after each round,
beside the self-revision baseline with the same generator and budget.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from core.code.critique import CodeCritiqueConfig, CodeCritiqueResult, critique_code
from core.code.items import CodeItem
from core.code.refine import CodeRefineConfig, pass_at_1, refine_code
from core.code.tasks import load_code_tasks, wrong_solutions
from core.config import ConfigModel
from core.errors import BadInputError
from core.metrics import Report, format_report, format_table, percent, score_subsets

CODE_BENCHMARK = "code"
"""`critic eval --benchmark code` (the project's tasks) or `code:FILE` (a JSONL of labelled code items)."""
_LABEL_STEP = {"correct": -1, "incorrect": 1}


class CodeEvalConfig(ConfigModel):
    """One evaluation of a critic on code items."""

    config_name = "code eval setting"

    benchmark: str = Field(CODE_BENCHMARK, description="'code' (the project's tasks) or 'code:FILE' (labelled JSONL).")
    output: Path = Field(description="Directory for predictions.jsonl and summary.json.")
    model: str | None = Field(
        None, description="Critic model, also the generator of revisions (default: CRITIC_MODEL)."
    )
    backend: str | None = Field(None, description="Generation backend (default: CRITIC_BACKEND).")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL for the openai backend.")
    max_new_tokens: int | None = Field(None, gt=0, description="Token budget of one critique (default 256).")
    limit: int | None = Field(None, gt=0, description="Evaluate only the first N items.")
    revise_rounds: int = Field(
        0, ge=0, le=10, description="Critique -> revision rounds on the wrong solutions for pass@1 (0 = none)."
    )

    @classmethod
    def is_code_benchmark(cls, benchmark: str) -> bool:
        return benchmark == CODE_BENCHMARK or benchmark.startswith(CODE_BENCHMARK + ":")

    def items(self) -> list[CodeItem]:
        if not self.is_code_benchmark(self.benchmark):
            raise BadInputError(f"{self.benchmark!r} is not a code benchmark: use 'code' or 'code:FILE'")
        path = Path(self.benchmark.split(":", 1)[1]) if ":" in self.benchmark else None
        items = load_code_tasks(path)
        unlabelled = [item.id or str(i) for i, item in enumerate(items, start=1) if item.label is None]
        if unlabelled:
            raise BadInputError(
                f"{len(unlabelled)} code item(s) have no 'label' (correct/incorrect), first {unlabelled[0]!r}: "
                "an evaluation scores verdicts against labels"
            )
        return items[: self.limit] if self.limit else items


@dataclass
class CodeEvalOutcome:
    """Scores of one code evaluation."""

    verdict: Report
    model_verdict: Report
    results: list[CodeCritiqueResult]
    pass_at_1: dict[str, list[float | None]] = field(default_factory=dict)
    """'critique' and 'self-revise': pass@1 on the wrong solutions before revision, then after each round."""
    seconds: float = 0.0
    revised: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "verdict": {name: s.to_dict() for name, s in self.verdict.subsets.items()},
            "model_verdict": {name: s.to_dict() for name, s in self.model_verdict.subsets.items()},
            "pass_at_1": self.pass_at_1,
            "revised_items": self.revised,
            "seconds": self.seconds,
        }


def _scores(items: Sequence[CodeItem], predictions: Sequence[str | None]) -> Report:
    return score_subsets(
        ("code", _LABEL_STEP[item.label or "correct"], None if p is None else _LABEL_STEP[p])
        for item, p in zip(items, predictions, strict=True)
    )


def run_code_eval(config: CodeEvalConfig, backend: Any, items: Sequence[CodeItem] | None = None) -> CodeEvalOutcome:
    """Critique every item (`config.items()` unless given) with `backend`, score the verdicts, optionally revise the
    wrong ones; write predictions.jsonl and summary.json."""
    started = time.perf_counter()
    items = list(items) if items is not None else config.items()
    critique_config = CodeCritiqueConfig(**({"max_new_tokens": config.max_new_tokens} if config.max_new_tokens else {}))
    results = critique_code(backend, items, critique_config)
    outcome = CodeEvalOutcome(
        verdict=_scores(items, [r.verdict for r in results]),
        model_verdict=_scores(items, [r.model_verdict for r in results]),
        results=results,
    )
    if config.revise_rounds:
        wrong = wrong_solutions(items)
        refine = CodeRefineConfig(rounds=config.revise_rounds)
        with_critique = refine_code(backend, backend, wrong, refine, critique_config)
        baseline = refine_code(backend, None, wrong, refine.model_copy(update={"use_critique": False}), critique_config)
        rounds = range(config.revise_rounds + 1)
        outcome.pass_at_1 = {
            "critique": [pass_at_1(with_critique, r) for r in rounds],
            "self-revise": [pass_at_1(baseline, r) for r in rounds],
        }
        outcome.revised = len(wrong)
    outcome.seconds = time.perf_counter() - started
    config.output.mkdir(parents=True, exist_ok=True)
    with (config.output / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for item, result in zip(items, results, strict=True):
            handle.write(json.dumps({"label": item.label, **result.model_dump(mode="json")}) + "\n")
    (config.output / "summary.json").write_text(json.dumps(outcome.summary(), indent=1), encoding="utf-8")
    return outcome


def format_code_outcome(outcome: CodeEvalOutcome, config: CodeEvalConfig, model_name: str) -> str:
    """The verdict tables and, with revisions, pass@1 per round side by side with the self-revision baseline."""
    parts = [
        format_report(outcome.verdict, f"{config.benchmark} · {model_name} · verdict (failing tests decide)"),
        format_report(outcome.model_verdict, "the model's own verdict (unparsed: no boxed verdict)"),
    ]
    if outcome.pass_at_1:
        header = ["pass@1 on wrong solutions", "before", *[f"after {r}" for r in range(1, config.revise_rounds + 1)]]
        rows = [header] + [[name, *(percent(v) for v in values)] for name, values in outcome.pass_at_1.items()]
        parts.append(f"{format_table(rows)}\n({outcome.revised} wrong solutions revised)")
    parts.append(f"wrote {config.output / 'predictions.jsonl'} and summary.json in {outcome.seconds:.0f}s")
    return "\n\n".join(parts)
