"""Benchmark loading: ProcessBench subsets, MR-GSM8K, PRM800K, any ProcessBench file, and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.benchmarks import load_benchmark
from core.errors import BadInputError
from core.settings import get_settings


def test_processbench_loads_every_subset_with_one_based_labels() -> None:
    benchmark = load_benchmark("processbench")
    assert {name: len(items) for name, items in benchmark.subsets.items()} == {"gsm8k": 400, "math": 1000}
    gsm8k = benchmark.subsets["gsm8k"]
    assert sum(item.first_error_step != -1 for item in gsm8k) == 207
    first = gsm8k[0]
    assert first.id == "gsm8k-0"
    assert first.first_error_step == 2  # ProcessBench label 1 is the second step


def test_subsets_can_be_chosen_and_limited() -> None:
    benchmark = load_benchmark("processbench:math", limit=5)
    assert list(benchmark.subsets) == ["math"]
    assert len(benchmark) == 5
    labels = [item.first_error_step for item in benchmark.subsets["math"]]
    assert -1 in labels and any(label > 0 for label in labels)  # spread over the file, not just its head


def test_unknown_subset_names_what_is_available() -> None:
    with pytest.raises(BadInputError, match="olympiad.*available: gsm8k, math"):
        load_benchmark("processbench:olympiad")


def test_data_dir_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processbench_dir: Path) -> None:
    (tmp_path / "processbench").mkdir()
    shutil.copy(processbench_dir / "gsm8k.json", tmp_path / "processbench" / "omnimath.json")
    monkeypatch.setenv("CRITIC_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    assert list(load_benchmark("processbench").subsets) == ["omnimath"]


def _write(path: Path, objs: list[dict]) -> Path:
    path.write_text(json.dumps(objs, indent=1))
    return path


def test_any_processbench_schema_file_is_a_benchmark_named_by_its_stem(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "olympiadbench.json",
        [
            {"id": "o-1", "problem": "1+1?", "steps": ["1 + 1 = 2", "So 2."], "label": -1},
            {"id": "o-2", "problem": "2+2?", "steps": ["2 + 2 = 5"], "label": 0},
            {"problem": "3+3?", "steps": ["3 + 3 = 6"], "label": -1},
        ],
    )
    benchmark = load_benchmark(str(path))
    items = benchmark.subsets["olympiadbench"]
    assert [i.first_error_step for i in items] == [-1, 1, -1]
    assert items[2].id == "olympiadbench-2"  # an id-less item gets one, so results can be keyed


def test_mr_gsm8k_steps_lose_their_step_prefix_and_keep_annotations(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mr.json",
        [{"id": "mr-1", "problem": "p", "steps": ["Step 1: 2 * 6 = <<2*6=12>>12", "Step 2: Done."], "label": -1}],
    )
    item = load_benchmark(f"mr-gsm8k:{path}").subsets["mr-gsm8k"][0]
    assert item.steps == ["2 * 6 = <<2*6=12>>12", "Done."]


def test_missing_mr_gsm8k_says_it_is_not_in_the_shared_data() -> None:
    with pytest.raises(BadInputError, match="MR-GSM8K is not in the data dir.*mr-gsm8k:FILE"):
        load_benchmark("mr-gsm8k")


def _completion(text: str, rating: int) -> dict:
    return {"completions": [{"text": text, "rating": rating, "flagged": False}]}


def _prm_line(finish: str, ratings: list[int]) -> str:
    steps = [f"step {i}" for i in range(len(ratings))]
    return json.dumps(
        {
            "labeler": "u",
            "timestamp": "t",
            "generation": 1,
            "is_quality_control_question": False,
            "is_initial_screening_question": False,
            "question": {"problem": "p", "ground_truth_answer": "1", "pre_generated_steps": steps},
            "label": {
                "steps": [_completion(s, r) for s, r in zip(steps, ratings, strict=True)],
                "total_time": 1,
                "finish_reason": finish,
            },
        }
    )


def test_prm800k_uses_first_negative_rating_and_skips_unlabelled_rows(tmp_path: Path) -> None:
    path = tmp_path / "phase2_test.jsonl"
    lines = [_prm_line("found_error", [1, -1]), _prm_line("solution", [1, 1]), _prm_line("give_up", [1])]
    path.write_text("\n".join(lines) + "\n")
    benchmark = load_benchmark(f"prm800k:{path}")
    assert [i.first_error_step for i in benchmark.subsets["prm800k"]] == [2, -1]
    assert benchmark.skipped == {"prm800k": 1}


def test_prm800k_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_prm_line("solution", [1]) + "\n{not json\n")
    with pytest.raises(BadInputError, match="line 2"):
        load_benchmark(f"prm800k:{path}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": "a", "problem": "p", "steps": ["s"], "label": -1},\n {"id": "b", ', "line 2"),
        ('{"id": "a", "problem": "p", "steps": ["s"], "label": -1}\n{"id": "b", "problem": "p"', "line 2"),
        ('[{"id": "a", "problem": "p", "steps": ["s"]}]', "item 1 id='a'.*'label' is missing"),
        ('[{"id": "a", "problem": "p", "label": -1}]', "item 1 id='a'.*'steps'"),
        ('[{"id": "a", "problem": "p", "steps": ["s"], "label": 3}]', "item 1 id='a'.*'label'"),
        ("[]", "no items"),
    ],
)
def test_malformed_files_fail_with_the_line_or_item(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        load_benchmark(str(path))


def test_unknown_spec_lists_the_accepted_forms() -> None:
    with pytest.raises(BadInputError, match="processbench:gsm8k,math"):
        load_benchmark("no-such-benchmark")
