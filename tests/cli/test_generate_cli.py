"""`critic generate`, `critic refine`, `critic rank` (and `critic eval refine`) end to end on real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.jsonl import read_jsonl
from tests.cli.runner import critic

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"
FAST = {"max_new_tokens": 16}


def _input(tmp_path: Path, *, malformed: bool = True) -> Path:
    rows: list[str] = [
        json.dumps(
            {
                "id": "w",
                "problem": PROBLEM,
                "steps": ["He has 3.", "3 + 4 = 8.", "So \\boxed{8}."],
                "label": 1,
                "answer": "7",
            }
        ),
        json.dumps(
            {
                "id": "r",
                "problem": PROBLEM + " (again)",
                "steps": ["3 + 4 = 7.", "So \\boxed{7}."],
                "label": -1,
                "final_answer_correct": True,
            }
        ),
    ]
    if malformed:
        rows.insert(1, '{"id": "bad", "steps": ["no problem field"]}')
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def _cli(*words: str, **options: object) -> list[str]:
    """A command line: the words, then each option as `--name value` (a True option as a bare flag)."""
    line = list(words)
    for name, value in options.items():
        line += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return line


def test_mc_labels_end_to_end_with_a_bad_item_and_resume(tmp_path: Path, tiny_model_dir: Path) -> None:
    source, output = _input(tmp_path), tmp_path / "mc.jsonl"
    args = _cli(
        "generate",
        "mc-labels",
        input=source,
        generator=f"transformers:{tiny_model_dir}",
        rollouts=2,
        output=output,
        seed=0,
        **FAST,
    )
    first = critic(*args)
    assert first.exit_code == 2, first.output  # the malformed item is reported; the others are labelled
    assert "item 2" in first.output and "'problem' is missing" in first.output
    rows = read_jsonl(output)
    assert [r["id"] for r in rows] == ["w", "r"]
    assert all(r["label_source"] == "monte_carlo" and len(r["mc_success_rates"]) == len(r["steps"]) for r in rows)
    assert rows[0]["human_label"] == 1 and rows[0]["answer"] == "7"
    # The last step states an answer, which is checked without rollouts: 8 is wrong, 7 is right.
    assert rows[0]["mc_success_rates"][-1] == 0.0 and rows[1]["mc_success_rates"][-1] == 1.0

    again = critic(*args)
    assert "already done 2" in again.output and len(read_jsonl(output)) == 2


def test_seed_critiques_report_kept_and_dropped_and_resume(tmp_path: Path, tiny_model_dir: Path) -> None:
    source, output = _input(tmp_path, malformed=False), tmp_path / "seeds.jsonl"
    args = _cli(
        "generate", "seed-critiques", input=source, teacher=f"transformers:{tiny_model_dir}", output=output, **FAST
    )
    result = critic(*args)
    assert result.exit_code == 0, result.output
    kept, dropped = read_jsonl(output), read_jsonl(output.with_name("seeds.jsonl.dropped.jsonl"))
    assert len(kept) + len(dropped) == 2 and f"kept {len(kept)}, dropped {len(dropped)}" in result.output
    # A random model's critiques do not match the labels, so they are dropped with the reason and the evidence.
    assert all(d["reason"] and len(d["step_seeds"]) >= 1 for d in dropped)
    assert "already done 2" in critic(*args).output


def test_refine_writes_rounds_and_a_step_diff(tmp_path: Path, tiny_model_dir: Path) -> None:
    source, output = _input(tmp_path, malformed=False), tmp_path / "refined.jsonl"
    model = f"transformers:{tiny_model_dir}"
    result = critic(*_cli("refine", input=source, generator=model, critic=model, rounds=2, output=output, **FAST))
    assert result.exit_code == 0, result.output
    rows = read_jsonl(output)
    assert [r["id"] for r in rows] == ["w", "r"]
    assert all(r["stop_reason"] in {"accepted", "max_rounds", "critique_unreadable"} and r["rounds"] for r in rows)
    assert all(r["rounds"][0]["critique"]["model"] for r in rows)

    baseline = tmp_path / "baseline.jsonl"
    result = critic(*_cli("refine", input=source, generator=model, without_critique=True, output=baseline, **FAST))
    assert result.exit_code == 0, result.output
    for row in read_jsonl(baseline):
        assert row["used_critique"] is False and row["diff"]
        assert {d["status"] for d in row["diff"]} <= {"kept", "changed", "added", "removed"}


def test_rank_reports_critic_and_majority_accuracy(tmp_path: Path, tiny_model_dir: Path) -> None:
    source, output = _input(tmp_path, malformed=False), tmp_path / "ranked.jsonl"
    model = f"transformers:{tiny_model_dir}"
    result = critic(
        *_cli("rank", input=source, candidates=2, generator=model, critic=model, output=output, seed=1, **FAST)
    )
    assert result.exit_code == 0, result.output
    assert "best-of-2 on 2 problems: critic" in result.output and "majority vote" in result.output
    rows = read_jsonl(output)
    assert all(len(r["candidates"]) == 2 and r["truth"] == "7" for r in rows)


def test_bad_options_are_config_errors_naming_the_option(tmp_path: Path) -> None:
    source = _input(tmp_path)
    result = critic(*_cli("generate", "mc-labels", input=source, rollouts=2, temperature=0))
    assert (result.exit_code, result.output) == (
        ConfigError.exit_code,
        "error: invalid mc-labels option: temperature: Input should be greater than 0 (got 0.0)\n",
    )
    result = critic(
        "rank",
        "--input",
        str(source),
        "--critic-mode",
        "loud",
        "--generator",
        "openai:x",
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert (result.exit_code, result.output) == (
        ConfigError.exit_code,
        "error: --critic-mode 'loud': choose single or deliberate\n",
    )


def test_eval_refine_writes_summary_and_items(tmp_path: Path, tiny_model_dir: Path) -> None:
    pytest.importorskip("cli.eval", reason="the eval command group (cli/eval.py) is not in this checkout yet")

    source, out_dir = _input(tmp_path, malformed=False), tmp_path / "eval-refine"
    model = f"transformers:{tiny_model_dir}"
    result = critic(*_cli("eval", "refine", input=source, output=out_dir, generator=model, critic=model, **FAST))
    assert result.exit_code == 0, result.output
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["with_critique"]["wrong_before"] == 1 and summary["with_critique"]["right_before"] == 1
    assert "w->c" in result.output and len(read_jsonl(out_dir / "items.jsonl")) == 2
    # Stored like other evaluations, so the dashboard lists it.
    from db.evals import list_eval_runs
    from db.session import session_scope

    with session_scope() as session:
        [run] = list_eval_runs(session, dataset="refine:items.jsonl")
        assert run.status == "finished" and run.metrics["with_critique"]["items"] == 2


@pytest.mark.slow
def test_mc_labels_on_a_processbench_item_with_the_embedded_model(
    tmp_path: Path, processbench_dir: Path, embedded_model_dir: Path
) -> None:
    data = json.loads((processbench_dir / "gsm8k.json").read_text())
    item = next(x for x in data if x["final_answer_correct"] and len(x["steps"]) == 2)
    source, output = tmp_path / "pb.json", tmp_path / "mc.jsonl"
    source.write_text(json.dumps([item]))
    result = critic(
        *_cli("generate", "mc-labels", input=source, generator="embedded", rollouts=2, output=output, **FAST, seed=0)
    )
    assert result.exit_code == 0, result.output
    [row] = read_jsonl(output)
    assert row["id"] == item["id"] and row["label_source"] == "monte_carlo"
    assert row["mc_success_rates"][-1] == 1.0  # the solution's own (correct) answer is the ground truth
    assert len(row["mc_rollout_answers"][0]) == 2


def test_refine_code_items_runs_the_tests_on_each_revision(tmp_path: Path, tiny_model_dir: Path) -> None:
    from core.code.tasks import load_code_tasks

    chosen = {item.id: item for item in load_code_tasks()}
    source, output = tmp_path / "code.jsonl", tmp_path / "refined.jsonl"
    source.write_text("\n".join(json.dumps(chosen[i].to_json()) for i in ("clamp/wrong-1", "clamp/correct")))
    model = f"transformers:{tiny_model_dir}"
    result = critic(*_cli("refine", input=source, generator=model, critic=model, rounds=2, output=output, **FAST))
    assert result.exit_code == 0, result.output
    assert "pass@1 after 0: 50.0%" in result.output
    wrong, right = read_jsonl(output)
    assert wrong["execution_before"]["passed"] < wrong["total_tests"] == 3
    assert len(wrong["passed_per_round"]) == 3 and len(wrong["rounds"]) >= 1
    assert wrong["rounds"][0]["critique"]["verdict"] == "incorrect" and wrong["rounds"][0]["execution"]["total"] == 3
    assert right["stop_reason"] == "passed" and right["rounds"] == [] and right["passed_per_round"] == [3, 3, 3]
