"""run_eval: symbolic / LLM / combined critics, Maj@k, unparseable outputs, resume, compare, EvalRun rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.critic import Critic
from core.errors import ConfigError
from tests.core.scripted_backend import ScriptedBackend
from training.evaluation import (
    EvalConfig,
    compare_runs,
    format_comparison,
    read_predictions,
    run_eval,
)

ITEMS = [
    # step 2 is wrong and the checker can prove it
    {
        "id": "a",
        "problem": "Pens?",
        "steps": ["3 packs of 4: 3 × 4 = 12 pens.", "Gives 5 away: 12 - 5 = 8."],
        "label": 1,
    },
    # wrong at step 1, but not arithmetically (the checker cannot see it)
    {"id": "b", "problem": "Apples?", "steps": ["He has 10 apples, so doubling gives 15.", "So 15."], "label": 0},
    # correct
    {"id": "c", "problem": "Sum?", "steps": ["2 + 2 = 4.", "The answer is 4."], "label": -1},
    {"id": "d", "problem": "Product?", "steps": ["6 × 7 = 42.", "The answer is 42."], "label": -1},
]


@pytest.fixture()
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(ITEMS))
    return path


def _config(bench_file: Path, output: Path, **values: object) -> EvalConfig:
    return EvalConfig.build(benchmark=str(bench_file), output=output, record=False, **values)


def _answer(step: int) -> str:
    judgement = "**Judgement**: The correctness of Step 1 is: \\boxed{1}"
    return f"**Critique of Step 1**: fine.\n{judgement}\n**Answer**: \\boxed{{{step}}}"


def test_symbolic_eval_writes_predictions_and_scores(bench_file: Path, tmp_path: Path) -> None:
    outcome = run_eval(_config(bench_file, tmp_path / "out", critic="symbolic"), show_progress=False)
    records = read_predictions(tmp_path / "out")
    by_id = {r["id"]: r for r in records}
    assert set(by_id) == {"a", "b", "c", "d"}
    assert by_id["a"]["prediction"] == 2 and by_id["a"]["correct"] is True
    assert "12 - 5 = 8 is false" in by_id["a"]["checker_findings"]["2"]
    assert by_id["b"]["prediction"] == -1 and by_id["b"]["correct"] is False
    for key in ("label", "votes", "parse_status"):
        assert key in by_id["c"]
    scores = outcome.report.subsets["toy"]
    assert (scores.error_acc, scores.correct_acc) == (0.5, 1.0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["subsets"]["toy"]["f1"] == pytest.approx(2 * 0.5 / 1.5)
    assert summary["average"]["f1"] == pytest.approx(2 * 0.5 / 1.5)


def test_rerun_with_the_same_directory_skips_finished_items(bench_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_eval(_config(bench_file, out, critic="symbolic", limit=2), show_progress=False)
    assert (first.evaluated, first.skipped) == (2, 0)
    second = run_eval(_config(bench_file, out, critic="symbolic"), show_progress=False)
    assert (second.evaluated, second.skipped) == (2, 2)
    third = run_eval(_config(bench_file, out, critic="symbolic"), show_progress=False)
    assert (third.evaluated, third.skipped) == (0, 4)
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 4


def test_a_torn_last_line_is_dropped_and_that_item_redone(bench_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_eval(_config(bench_file, out, critic="symbolic"), show_progress=False)
    path = out / "predictions.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:20])  # killed while writing the last record
    again = run_eval(_config(bench_file, out, critic="symbolic"), show_progress=False)
    assert (again.evaluated, again.skipped) == (1, 3)
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b", "c", "d"]


def test_resuming_with_different_settings_is_refused(bench_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_eval(_config(bench_file, out, critic="symbolic"), show_progress=False)
    backend = ScriptedBackend(lambda text, i: _answer(-1))
    with pytest.raises(ConfigError, match="different run.*critic"):
        run_eval(_config(bench_file, out, critic="llm"), critic=Critic(backend), show_progress=False)


def test_bad_config_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="critic"):
        EvalConfig.build(output=tmp_path, critic="oracle")
    with pytest.raises(ConfigError, match="samples"):
        EvalConfig.build(output=tmp_path, samples=0)


def test_llm_majority_vote_and_unparseable_outputs(bench_file: Path, tmp_path: Path) -> None:
    def script(text: str, sample: int) -> str:
        if "Apples?" in text:
            return "I cannot decide."  # unparseable: wrong on whichever side
        if "Pens?" in text:
            return _answer([2, 2, 1][sample])  # Maj@3 -> 2
        return _answer(-1)

    critic = Critic(ScriptedBackend(script), samples=3)
    outcome = run_eval(
        _config(bench_file, tmp_path / "out", critic="llm", samples=3), critic=critic, show_progress=False
    )
    by_id = {r["id"]: r for r in read_predictions(tmp_path / "out")}
    assert by_id["a"]["votes"] == [2, 2, 1] and by_id["a"]["prediction"] == 2
    assert by_id["b"]["prediction"] is None and by_id["b"]["parse_status"] == "failed"
    scores = outcome.report.subsets["toy"]
    assert scores.unparseable == 1
    assert (scores.error_acc, scores.correct_acc) == (0.5, 1.0)


def test_combined_override_uses_the_checkers_proven_error(bench_file: Path, tmp_path: Path) -> None:
    critic = Critic(ScriptedBackend(lambda text, i: _answer(-1)))  # a model that never finds anything
    run_eval(
        _config(bench_file, tmp_path / "out", critic="combined", combine="override"), critic=critic, show_progress=False
    )
    by_id = {r["id"]: r for r in read_predictions(tmp_path / "out")}
    assert by_id["a"]["llm_prediction"] == -1
    assert by_id["a"]["prediction"] == 2  # the checker proved step 2 wrong
    assert by_id["c"]["prediction"] == -1


def test_combined_prompt_shows_the_checkers_findings_to_the_model(bench_file: Path, tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda text, i: _answer(2 if "Calculator check" in text else -1))
    config = _config(bench_file, tmp_path / "out", critic="combined", combine="prompt")
    run_eval(config, critic=Critic(backend), show_progress=False)
    prompts = ["\n".join(m["content"] for m in prompt) for call in backend.calls for prompt in call[0]]
    flagged = [p for p in prompts if "Calculator check" in p]
    assert len(flagged) == 1 and "12 - 5 = 8 is false (12 - 5 = 7)" in flagged[0]
    assert {r["id"]: r["prediction"] for r in read_predictions(tmp_path / "out")}["a"] == 2


def test_compare_shows_per_subset_difference_and_changed_items(bench_file: Path, tmp_path: Path) -> None:
    run_eval(_config(bench_file, tmp_path / "sym", critic="symbolic"), show_progress=False)
    critic = Critic(ScriptedBackend(lambda text, i: _answer(1 if "Apples?" in text else 2 if "Sum?" in text else -1)))
    run_eval(_config(bench_file, tmp_path / "llm", critic="llm"), critic=critic, show_progress=False)
    comparison = compare_runs(tmp_path / "sym", tmp_path / "llm")
    statuses = {c["id"]: c["status"] for c in comparison.changed}
    assert statuses == {"a": "broken", "b": "fixed", "c": "broken"}
    text = format_comparison(comparison)
    assert "toy" in text and "1 fixed, 2 broken" in text
    with pytest.raises(ConfigError, match="no predictions.jsonl"):
        compare_runs(tmp_path / "sym", tmp_path / "nowhere")


def test_run_is_recorded_as_an_eval_run_row(bench_file: Path, tmp_path: Path) -> None:
    config = EvalConfig.build(benchmark=str(bench_file), output=tmp_path / "out", critic="symbolic")
    outcome = run_eval(config, show_progress=False)
    again = run_eval(config, show_progress=False)  # a resume updates the same row

    from db.evals import eval_run_f1, list_eval_runs
    from db.session import session_scope

    with session_scope() as session:
        runs = list_eval_runs(session)
        assert [r.id for r in runs] == [outcome.eval_run_id] == [again.eval_run_id]
        assert runs[0].status == "finished" and runs[0].n_items == 4
        assert eval_run_f1(runs[0]) == pytest.approx(2 * 0.5 / 1.5)
        assert runs[0].predictions_path == str((tmp_path / "out").resolve())


def test_llm_eval_with_a_real_tiny_model(bench_file: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(
        bench_file,
        tmp_path / "out",
        critic="llm",
        model=str(tiny_model_dir),
        backend="transformers",
        limit=2,
        max_new_tokens=8,
    )
    outcome = run_eval(config, show_progress=False)
    records = read_predictions(tmp_path / "out")
    assert len(records) == 2 and outcome.evaluated == 2
    for record in records:
        # a random model writes no verdict: its output is unparseable and scored as wrong
        assert record["parse_status"] in {"ok", "partial", "failed"}
        assert len(record["raw_outputs"]) == 1
    assert outcome.report.subsets["toy"].total == 2


def test_items_without_ids_are_all_evaluated(tmp_path: Path) -> None:
    from core.benchmarks import Benchmark
    from core.types import SolutionItem

    items = [SolutionItem(problem=f"p{i}", steps=[f"{i} + 1 = {i + 1}"], first_error_step=-1) for i in range(3)]
    config = EvalConfig.build(benchmark="held-out", output=tmp_path / "out", critic="symbolic", record=False)
    outcome = run_eval(config, benchmark=Benchmark("held-out", {"held-out": items}), show_progress=False)
    assert outcome.evaluated == 3 and outcome.report.subsets["held-out"].correct_acc == 1.0


def test_an_unreachable_database_does_not_stop_the_evaluation(
    bench_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("CRITIC_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    get_settings.cache_clear()
    config = EvalConfig.build(benchmark=str(bench_file), output=tmp_path / "out", critic="symbolic")
    with pytest.warns(UserWarning, match="not recording the run"):
        outcome = run_eval(config, show_progress=False)
    assert outcome.eval_run_id is None and outcome.evaluated == 4
    assert (tmp_path / "out" / "summary.json").exists()


def test_strict_and_lenient_scores_side_by_side(bench_file: Path, tmp_path: Path) -> None:
    def critique(judged: list[int], answer: int) -> str:
        blocks = [
            f"**Critique of Step {i}**: checked.\n**Judgement**: The correctness of Step {i} is: \\boxed{{{v}}}\n\n"
            for i, v in enumerate(judged, start=1)
        ]
        return "".join(blocks) + f"**Answer**: \\boxed{{{answer}}}"

    def script(text: str, sample: int) -> str:
        if "Pens?" in text:
            return critique([1, -1], 2)  # complete: right in both modes
        if "Apples?" in text:
            return "**Answer**: \\boxed{1}"  # bare answer box: right only when read leniently
        if "Sum?" in text:
            return critique([1, 1], -1)
        return critique([1], -1)  # stops after step 1 yet says no error: lenient reads -1, strict fails

    outcome = run_eval(_config(bench_file, tmp_path / "out", critic="llm"), critic=Critic(ScriptedBackend(script)))
    by_id = {r["id"]: r for r in read_predictions(tmp_path / "out")}
    assert {k: (r["prediction"], r["strict_prediction"]) for k, r in by_id.items()} == {
        "a": (2, 2),
        "b": (1, None),
        "c": (-1, -1),
        "d": (-1, None),
    }
    assert outcome.report.subsets["toy"].f1 == 1.0
    assert outcome.strict_report.subsets["toy"].f1 == pytest.approx(0.5)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["average"]["f1"] == 1.0 and summary["strict"]["average"]["f1"] == pytest.approx(0.5)
    from training.evaluation import format_outcome

    table = format_outcome(outcome, _config(bench_file, tmp_path / "out", critic="llm"))
    assert "F1 lenient" in table and "F1 strict" in table
    assert [line.split() for line in table.splitlines() if line.startswith("toy")][-1] == [
        "toy",
        "100.0",
        "50.0",
        "0",
        "2",
    ]


def test_an_engine_the_evaluation_built_is_released_when_it_ends(
    bench_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vLLM server started for an evaluation must not stay up (GiBs of memory) through what the caller does next."""

    class ClosingBackend(ScriptedBackend):
        closed = False

        def close(self) -> None:
            ClosingBackend.closed = True

    backend = ClosingBackend(lambda text, i: _answer(-1))
    monkeypatch.setattr(Critic, "create", classmethod(lambda cls, **kw: Critic(backend)))
    run_eval(_config(bench_file, tmp_path / "built", critic="llm"))
    assert ClosingBackend.closed
    ClosingBackend.closed = False
    run_eval(_config(bench_file, tmp_path / "given", critic="llm"), critic=Critic(backend))
    assert not ClosingBackend.closed, "a critic the caller passed in is the caller's to close"
