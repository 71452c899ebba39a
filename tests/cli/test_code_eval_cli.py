"""`critic eval --benchmark code`: verdict accuracy and F1 on labelled code items, pass@1 before and after revision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.code.tasks import load_code_tasks
from tests.cli.runner import critic
from tests.core.scripted_backend import ScriptedBackend
from training.code_evaluation import CodeEvalConfig, format_code_outcome, run_code_eval

FIXED = {
    "sum_to_n": "```python\ndef sum_to_n(n):\n    return sum(range(1, n + 1))\n```",
    "max_of_list": "```python\ndef max_of_list(numbers):\n    return max(numbers)\n```",
}


def _write(items: list, path: Path) -> Path:
    path.write_text("".join(json.dumps(item.to_json()) + "\n" for item in items))
    return path


def _generator(prompt: str, _: int) -> str:
    """A critic that calls everything incorrect; as generator it fixes code only when shown a review."""
    if "Fix the code as the review says" in prompt:
        return next(code for name, code in FIXED.items() if f"def {name}" in prompt)
    if "Check this code" in prompt:  # the self-revision baseline: no review, the code comes back unchanged
        return "It looks fine."
    return "**Analysis**: The code misses a case.\n**Suggestions**: Check the bounds.\n**Verdict**: \\boxed{incorrect}"


def test_verdicts_are_scored_and_pass_at_1_is_reported_beside_self_revision(tmp_path: Path) -> None:
    items = load_code_tasks()[:4]  # sum_to_n and max_of_list: a correct and a wrong solution each
    config = CodeEvalConfig(benchmark=f"code:{_write(items, tmp_path / 'code.jsonl')}", output=tmp_path / "run")
    config = config.model_copy(update={"revise_rounds": 1})
    outcome = run_code_eval(config, ScriptedBackend(_generator))
    verdict, model = outcome.verdict.subsets["code"], outcome.model_verdict.subsets["code"]
    assert (verdict.error_hits, verdict.erroneous) == (2, 2)  # failing tests decide
    assert (model.correct_hits, model.correct) == (0, 2) and model.f1 == 0.0  # the model calls correct code wrong
    assert outcome.pass_at_1 == {"critique": [0.0, 1.0], "self-revise": [0.0, 0.0]}
    text = format_code_outcome(outcome, config, "scripted")
    assert "pass@1 on wrong solutions" in text and "self-revise" in text
    summary = json.loads((config.output / "summary.json").read_text())
    assert summary["pass_at_1"]["critique"] == [0.0, 1.0]
    predictions = [json.loads(line) for line in (config.output / "predictions.jsonl").read_text().splitlines()]
    assert [p["label"] for p in predictions] == [item.label for item in items]


@pytest.mark.slow
def test_critic_eval_on_code_items_with_the_tiny_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    source = _write(load_code_tasks()[:2], tmp_path / "code.jsonl")
    out = tmp_path / "run"
    result = critic("eval", "-B", f"code:{source}", "-m", str(tiny_model_dir), "-b", "transformers", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "verdict (failing tests decide)" in result.output and "F1" in result.output
    verdict = json.loads((out / "summary.json").read_text())["verdict"]["code"]
    assert verdict["erroneous"] == 1 and verdict["error_hits"] == 1  # the wrong solution's tests fail


def test_code_items_without_labels_are_refused_with_the_reason(tmp_path: Path) -> None:
    item = load_code_tasks()[0].model_copy(update={"label": None})
    result = critic("eval", "-B", f"code:{_write([item], tmp_path / 'unlabelled.jsonl')}", "-o", str(tmp_path / "r"))
    assert result.exit_code != 0
    assert "have no 'label'" in result.output
