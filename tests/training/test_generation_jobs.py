"""File-level generation jobs with a scripted model: outputs, per-item errors, kept/dropped counts and resume."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from core.jsonl import read_jsonl
from core.mc_labels import MCLabelConfig
from core.ranking import RankConfig
from core.refine import RefineConfig
from core.seed_critiques import SeedConfig
from core.types import CritiqueResult, SolutionItem
from tests.core.scripted_backend import ScriptedBackend
from training.generation_jobs import (
    dropped_path,
    run_mc_labels,
    run_rank,
    run_refine,
    run_refine_eval,
    run_seed_critiques,
)

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _rows() -> list[object]:
    return [
        {
            "id": "w",
            "problem": PROBLEM,
            "steps": ["He has 3.", "3 + 4 = 8", "\\boxed{8}"],
            "label": 1,
            "final_answer_correct": False,
        },
        {
            "id": "r",
            "problem": PROBLEM,
            "steps": ["He has 3.", "3 + 4 = 7", "\\boxed{7}"],
            "label": -1,
            "final_answer_correct": True,
        },
        '{"id": "broken", "problem": ',
        {"id": "nolabel", "problem": "What is 2+2?", "steps": ["2+2=5", "\\boxed{5}"], "final_answer_correct": False},
    ]


def _generator(prompt: str, sample: int) -> str:
    if "3 + 4 = 8" in prompt and "Continue" in prompt:
        return "Step 9: \\boxed{8}"
    if "is wrong" in prompt:
        return "Step 2: 3 + 4 = 7\nStep 3: \\boxed{7}"
    return "Step 1: 3 + 4 = 7\nStep 2: \\boxed{7}"


def _critic(items: Sequence[SolutionItem]) -> list[CritiqueResult]:
    out = []
    for item in items:
        bad = next((i for i, s in enumerate(item.steps, start=1) if "= 8" in s), -1)
        out.append(
            CritiqueResult(
                id=item.id,
                problem=item.problem,
                steps=[],
                first_error_step=bad,
                votes=[bad],
                model="m",
                backend="scripted",
            )
        )
    return out


def test_mc_labels_write_automatic_labels_report_bad_items_and_resume(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", _rows())
    output = tmp_path / "out" / "mc.jsonl"
    generator = ScriptedBackend(_generator)
    report = run_mc_labels(source, output, generator, MCLabelConfig(rollouts=2), batch_size=1)
    assert report.written == 2 and report.skipped == 0
    assert any("line 3" in e and "invalid JSON" in e for e in report.errors)
    assert any("nolabel" in e and "answer" in e for e in report.errors)
    rows = {r["id"]: r for r in read_jsonl(output)}
    assert rows["w"]["label"] == 1 and rows["w"]["label_source"] == "monte_carlo" and rows["w"]["answer"] == "7"
    assert rows["r"]["label"] == -1 and report.summary["agreement_with_human_labels"] == 1.0

    # Simulate a crash that left a half-written row: the rerun redoes only that item.
    lines = output.read_text().splitlines()
    output.write_text(lines[0] + "\n" + lines[1][:20])
    calls_before = len(generator.calls)
    again = run_mc_labels(source, output, generator, MCLabelConfig(rollouts=2), batch_size=1)
    assert again.skipped == 1 and again.written == 1 and len(generator.calls) == calls_before + 1
    assert sorted(r["id"] for r in read_jsonl(output)) == ["r", "w"]


def _teacher(prompt: str, sample: int) -> str:
    step = int(re.findall(r"Focus only on Step (\d+)", prompt)[-1])
    under_review = prompt.split("[Solution]")[1].split(f"Step {step}:")[1].split("\n\n")[0]
    value = -1 if "= 8" in under_review or "= 5" in under_review else 1
    return f"Checked step {step}.\n**Judgement**: The correctness of Step {step} is: \\boxed{{{value}}}"


def test_seed_critiques_count_kept_and_dropped_and_resume(tmp_path: Path) -> None:
    rows = _rows()
    rows.append({"id": "mislabelled", "problem": PROBLEM, "steps": ["3 + 4 = 8", "\\boxed{8}"], "label": 1})
    source = _write(tmp_path / "in.jsonl", rows)
    output = tmp_path / "seeds.jsonl"
    stored: list[str] = []
    report = run_seed_critiques(
        source, output, ScriptedBackend(_teacher), SeedConfig(), store=lambda seeds: stored.extend(s.id for s in seeds)
    )
    assert report.counts == {"kept": 2, "dropped": 1}
    assert any("nolabel" in e and "label" in e for e in report.errors)
    assert sorted(r["id"] for r in read_jsonl(output)) == ["r", "w"] and sorted(stored) == ["r", "w"]
    assert read_jsonl(dropped_path(output))[0]["id"] == "mislabelled"
    assert all(r["completion"].rstrip().endswith(f"\\boxed{{{r['first_error_step']}}}") for r in read_jsonl(output))

    teacher = ScriptedBackend(_teacher)
    again = run_seed_critiques(source, output, teacher, SeedConfig())
    assert again.skipped == 3 and again.written == 0 and teacher.calls == []


def test_refine_and_its_eval_measure_wrong_to_right_with_and_without_critiques(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", _rows())
    refined = run_refine(source, tmp_path / "refined.jsonl", ScriptedBackend(_generator), _critic, RefineConfig())
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "refined.jsonl")}
    assert rows["w"]["final_answer"] == "7" and refined.counts["accepted"] >= 1
    assert [d["status"] for d in rows["w"]["diff"]] == ["kept", "changed", "changed"]

    out_dir = tmp_path / "eval"
    report = run_refine_eval(source, out_dir, ScriptedBackend(_generator), _critic, RefineConfig(rounds=2))
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["with_critique"]["w_to_c_rate"] == 1.0 and summary["with_critique"]["c_to_w_rate"] == 0.0
    assert summary["without_critique"]["items"] == 2 and report.written == 2
    again = run_refine_eval(source, out_dir, ScriptedBackend(_generator), _critic, RefineConfig(rounds=2))
    assert again.skipped == 2 and again.written == 0 and again.summary["with_critique"] == summary["with_critique"]


def test_rank_ranks_each_problem_once_and_reports_both_accuracies(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", _rows())
    report = run_rank(source, tmp_path / "rank.jsonl", ScriptedBackend(_generator), _critic, RankConfig(candidates=2))
    assert report.written == 1, "two solutions of the same problem make one best-of-N problem"
    assert report.summary["critic_accuracy"] == 1.0 and report.summary["majority_accuracy"] == 1.0
