"""CTRL's critique synthesis: critiques of code written with the tests' outcome, kept when their verdict matches."""

from __future__ import annotations

import json
from pathlib import Path

from core.code.critique import CodeCritiqueConfig
from core.code.tasks import load_code_tasks
from core.jsonl import read_jsonl
from tests.core.scripted_backend import ScriptedBackend
from training.generation_jobs import dropped_path, run_ctrl_critiques


def _critique(verdict: str) -> str:
    return f"**Analysis**: The code adds the numbers.\n**Suggestions**: None.\n**Verdict**: \\boxed{{{verdict}}}"


def test_kept_critiques_agree_with_the_tests_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    items = load_code_tasks()[:4]  # sum_to_n and max_of_list: a correct and a wrong solution each
    source = tmp_path / "code.jsonl"
    source.write_text("".join(json.dumps(item.to_json()) + "\n" for item in items))
    # A teacher that calls every solution incorrect: right for the wrong ones only.
    teacher = ScriptedBackend(lambda prompt, _: _critique("incorrect"))
    output = tmp_path / "ctrl.jsonl"
    config = CodeCritiqueConfig(constrained="off")
    report = run_ctrl_critiques(source, output, teacher, config, batch_size=2)
    assert report.counts == {"kept": 2, "dropped": 2} and report.errors == []
    kept = read_jsonl(output)
    assert {row["id"] for row in kept} == {item.id for item in items if item.label == "incorrect"}
    prompt = kept[0]["prompt"][-1]["content"]
    assert "[Execution feedback]" in prompt and "Failing tests" in prompt  # CTRL's feedback in the prompt
    assert kept[0]["completion"].endswith("\\boxed{incorrect}")
    dropped = read_jsonl(dropped_path(output))
    assert all("the tests say correct" in row["reason"] for row in dropped)

    again = run_ctrl_critiques(source, output, teacher, config, batch_size=2)
    assert again.written == 0 and again.skipped == 4
