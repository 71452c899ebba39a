"""`critic eval` (symbolic critic, no model), resume, `critic eval compare`, `critic eval runs`, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import critic


def test_symbolic_eval_prints_a_table_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["eval", "--benchmark", "processbench:gsm8k", "--critic", "symbolic", "--limit", "20", "-o", str(out), "-q"]
    first = critic(*args)
    assert first.exit_code == 0, first.output
    assert "err_acc" in first.output and "gsm8k" in first.output and "F1" in first.output
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["subsets"]["gsm8k"]["total"] == 20

    second = critic(*args)
    assert second.exit_code == 0, second.output
    assert "0 evaluated, 20 already finished (resumed)" in second.output

    listed = critic("eval", "runs")
    assert "processbench:gsm8k" in listed.output and "finished" in listed.output


def test_compare_two_runs(tmp_path: Path) -> None:
    small, large = tmp_path / "a", tmp_path / "b"
    base = ["eval", "-B", "processbench:gsm8k", "-c", "symbolic", "--no-db", "-q"]
    assert critic(*base, "-n", "10", "-o", str(small)).exit_code == 0
    assert critic(*base, "-n", "20", "-o", str(large)).exit_code == 0
    result = critic("eval", "compare", str(small), str(large))
    assert result.exit_code == 0, result.output
    assert "dF1" in result.output and "0 items changed" in result.output


def test_malformed_benchmark_file_fails_with_the_item_and_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([{"id": "x1", "problem": "p", "steps": ["s"]}]))
    result = critic("eval", "-B", str(path), "-c", "symbolic", "-o", str(tmp_path / "o"))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"error: {path}: item 1 id='x1': field 'label' is missing; a benchmark item needs the 0-based index of its "
        "first wrong step, or -1\n",
    )
