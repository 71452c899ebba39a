"""`critic eval --benchmark code`: verdict accuracy and F1 on labelled code items, pass@1 before and after revision."""

from __future__ import annotations

import json
from pathlib import Path

from core.code.tasks import load_code_tasks
from tests.cli.runner import critic


def test_code_eval_scores_verdicts_and_reports_pass_at_1_beside_self_revision(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    items = load_code_tasks()[:4]  # two tasks: each a correct and a wrong solution
    source = tmp_path / "code.jsonl"
    source.write_text("".join(json.dumps(item.to_json()) + "\n" for item in items))
    out = tmp_path / "run"
    args = ["eval", "-B", f"code:{source}", "-m", str(tiny_model_dir), "-b", "transformers", "--max-new-tokens", "24"]
    result = critic(*args, "--revise-rounds", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "verdict (failing tests decide)" in result.output and "F1" in result.output
    assert "pass@1 on wrong solutions" in result.output and "self-revise" in result.output
    summary = json.loads((out / "summary.json").read_text())
    verdict = summary["verdict"]["code"]
    # Failing tests decide the wrong solutions' verdicts, whatever the tiny model writes.
    assert verdict["erroneous"] == 2 and verdict["error_hits"] == 2
    assert summary["pass_at_1"]["critique"][0] == 0.0 and len(summary["pass_at_1"]["self-revise"]) == 2
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["label"] for p in predictions] == [item.label for item in items]
    assert all("execution" in p and p["verdict"] in ("correct", "incorrect") for p in predictions)


def test_code_items_without_labels_are_refused_with_the_reason(tmp_path: Path) -> None:
    item = load_code_tasks()[0].model_copy(update={"label": None})
    source = tmp_path / "unlabelled.jsonl"
    source.write_text(json.dumps(item.to_json()) + "\n")
    result = critic("eval", "-B", f"code:{source}", "-o", str(tmp_path / "run"))
    assert result.exit_code != 0
    assert "have no 'label'" in result.output
