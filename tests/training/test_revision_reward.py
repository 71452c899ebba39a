"""CTRL's revision reward: a critique earns 1 when the fixed generator's revision with it passes the tests."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from core.code.tasks import load_code_tasks
from tests.core.scripted_backend import ScriptedBackend
from tests.training.test_jobs_e2e import _run_to_success
from training import queue
from training.config import load_config
from training.revision_reward import RevisionReward, code_revision_rows, math_revision_rows
from training.targets import LabelledItem

CRITIQUE = (
    "**Analysis**: The code stops one short: range(1, n) leaves out n.\n"
    "**Suggestions**: Use range(1, n + 1).\n**Verdict**: \\boxed{incorrect}"
)
FIXED = "```python\ndef sum_to_n(n):\n    return sum(range(1, n + 1))\n```"


def _wrong_sum() -> object:
    return next(item for item in load_code_tasks() if item.id == "sum_to_n/wrong-1")


def test_only_a_strict_critique_whose_revision_passes_earns_the_reward() -> None:
    rows = code_revision_rows([_wrong_sum()])
    assert "[Execution feedback]" in rows[0]["prompt"][-1]["content"]
    assert "sum_to_n(5)" in rows[0]["prompt"][-1]["content"]  # the failing tests, in CTRL's feedback form
    # The generator fixes the code when the review it is shown says how; otherwise it repeats the wrong code.
    generator = ScriptedBackend(lambda prompt, _: FIXED if "range(1, n + 1)" in prompt else "no idea")
    reward = RevisionReward(generator, max_new_tokens=64)
    completions = [
        CRITIQUE,  # strict and useful: the revision passes
        CRITIQUE.replace("Use range(1, n + 1).", "Rename the variable."),  # strict, but the revision still fails
        "The code is wrong. \\boxed{incorrect}",  # no analysis/suggestions labels: off-format, never revised
    ]
    batch = {key: [rows[0][key]] * 3 for key in ("kind", "item", "execution")}
    assert reward(completions, **batch) == [1.0, 0.0, 0.0]
    assert len(generator.calls) == 1 and len(generator.calls[0][0]) == 2  # one batched call, off-format skipped


def test_math_rows_need_a_known_answer_and_revisions_are_checked_against_it() -> None:
    known = LabelledItem(
        problem="What is 2 + 3?",
        steps=("2 + 3 = 6.", "So the answer is 6."),
        first_error_step=1,
        source="t",
        source_id="a",
        answer="5",
    )
    unknown = LabelledItem(
        problem="What is 1 + 1?", steps=("1 + 1 = 2.",), first_error_step=-1, source="t", source_id="b"
    )
    rows = math_revision_rows([known, unknown])
    assert len(rows) == 1 and rows[0]["kind"] == "math"
    critique = (
        "**Critique of Step 1**: 2 + 3 is 5, not 6.\n**Judgement**: The correctness of Step 1 is: \\boxed{-1}\n\n"
        "**Answer**: \\boxed{1}"
    )
    generator = ScriptedBackend(lambda prompt, _: "Step 1: 2 + 3 = 5.\nStep 2: So the answer is \\boxed{5}.")
    reward = RevisionReward(generator, max_new_tokens=64)
    batch = {key: [rows[0][key]] * 2 for key in ("kind", "item", "execution")}
    assert reward([critique, "**Answer**: \\boxed{1}"], **batch) == [1.0, 0.0]


def test_grpo_job_with_the_revision_reward_runs_and_logs_it_per_step(
    sqlite_session: Session, tiny_model_dir: Path, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(item.to_json()) + "\n" for item in load_code_tasks()[:4]))
    config = load_config(
        "grpo",
        None,
        {
            "base_model": str(tiny_model_dir),
            "reward": "revision",
            "revision_generator": str(tiny_model_dir),
            "revision_max_new_tokens": 24,
            "code_tasks": str(tasks),
            "max_steps": 2,
            "per_device_batch_size": 4,
            "num_generations": 4,
            "max_completion_length": 24,
            "max_length": 1024,
            "validation_fraction": 0.0,
            "evaluate": False,
        },
    )
    done = _run_to_success(sqlite_session, config)
    logs = "\n".join(line.message for line in queue.job_logs(sqlite_session, job_id=done.id))
    assert "revision reward: 4 code task(s) with their tests run, 0 math item(s)" in logs
    curves = queue.job_metrics(sqlite_session, job_id=done.id)
    assert [step for step, _ in curves["reward/revision_reward"]] == [1, 2]
    assert all(0.0 <= value <= 1.0 for _, value in curves["reward/revision_reward"])
    assert done.result_model_version_id is not None
