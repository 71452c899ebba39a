"""`critic generate problems` and `critic solve` as a user types them: every strategy, results, summary, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.jsonl import read_jsonl
from tests.cli.runner import critic


def test_generate_problems_writes_answers_and_a_held_out_file(tmp_path: Path) -> None:
    out = tmp_path / "problems.jsonl"
    result = critic("generate", "problems", "--output", str(out), "--count", "10", "--held-out", "3", "--seed", "4")
    assert result.exit_code == 0, result.output
    train, held = read_jsonl(out), read_jsonl(tmp_path / "problems.held-out.jsonl")
    assert len(train) == 7 and len(held) == 3 and all(r["answer"] and r["label"] == -1 for r in train + held)
    assert "wrote 7 problem(s)" in result.output


def test_processbench_problems_come_with_their_truth(tmp_path: Path) -> None:
    out = tmp_path / "pb.jsonl"
    result = critic("generate", "problems", "--output", str(out), "--from", "processbench:gsm8k", "--limit", "4")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert len(rows) == 4 and all(r["answer"] and r["final_answer_correct"] for r in rows)


@pytest.mark.parametrize("source", [["--count", "2"], ["--from", "processbench:gsm8k", "--limit", "2"]])
def test_solve_with_every_strategy_reports_accuracy_and_resumes(
    source: list[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    problems, output = tmp_path / "problems.jsonl", tmp_path / "solved.jsonl"
    assert critic("generate", "problems", "--output", str(problems), *source).exit_code == 0
    model = f"transformers:{tiny_model_dir}"
    args = ["solve", "--input", str(problems), "--output", str(output), "--samples", "2", "--rounds", "2"]
    args += ["--actor-model", model, "--model", model, "--max-new-tokens", "16", "--seed", "1"]
    for strategy in ("greedy", "majority", "critic-rank", "critique-refine"):
        args += ["--strategy", strategy]
    result = critic(*args)
    assert result.exit_code == 0, result.output
    rows = read_jsonl(output)
    assert sorted({r["strategy"] for r in rows}) == ["critic-rank", "critique-refine", "greedy", "majority"]
    assert len(rows) == 8 and all(isinstance(r["correct"], bool) and r["truth"] for r in rows)
    greedy = [r for r in rows if r["strategy"] == "greedy"]
    assert all(r["samples"] == 1 for r in greedy)
    refined = [r for r in rows if r["strategy"] == "critique-refine"]
    assert all(r["samples"] == 2 and r["critique_rounds"] == len(r["rounds"]) >= 1 for r in refined)
    assert all(r["rounds"][0]["critique"]["model"] for r in refined)
    for strategy in ("greedy", "majority", "critic-rank", "critique-refine"):
        assert strategy in result.output
    assert "95% interval" in result.output and "written now 8" in result.output
    again = critic(*args)
    assert "already done 8" in again.output and len(read_jsonl(output)) == 8


def test_a_bad_strategy_is_refused_with_the_choices(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    critic("generate", "problems", "--output", str(problems), "--count", "1")
    result = critic("solve", "--input", str(problems), "--strategy", "best")
    assert result.exit_code != 0 and "choose from greedy, majority, critic-rank, critique-refine" in result.output


@pytest.mark.slow
def test_the_embedded_actor_solves_generated_problems(tmp_path: Path, embedded_model_dir: Path) -> None:
    problems, output = tmp_path / "problems.jsonl", tmp_path / "solved.jsonl"
    critic("generate", "problems", "--output", str(problems), "--count", "2", "--max-operations", "1")
    model = f"transformers:{embedded_model_dir}"
    result = critic(
        *("solve", "--input", str(problems), "--output", str(output), "--strategy", "critique-refine"),
        *("--actor-model", model, "--model", model, "--max-new-tokens", "96"),
    )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(output)
    # A real model's solutions come back as steps, each checked against the truth (whether a 135M actor states an
    # answer at all varies with the machine's arithmetic, so that is not asserted here).
    assert len(rows) == 2 and all(r["final_steps"] and isinstance(r["correct"], bool) for r in rows)
