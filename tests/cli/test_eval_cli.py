"""`critic eval` (symbolic critic, no model), resume, `critic eval compare`, `critic eval runs`, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.runner import critic
from tests.conftest import REPO_ROOT


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
    # through the real entry point, which turns project errors into a message and an exit code
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli.main import main; main()",
            "eval",
            "-B",
            str(path),
            "-c",
            "symbolic",
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert process.returncode == 2, process.stderr
    assert "item 1 id='x1'" in process.stderr and "'label' is missing" in process.stderr
