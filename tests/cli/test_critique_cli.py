"""`critic critique` as a user runs it: files, stdin, bad items, exit codes and help (tiny model, few tokens)."""

from __future__ import annotations

import json
from pathlib import Path

from core.types import CritiqueResult
from tests.cli.runner import critic


def test_good_file_writes_one_jsonl_line_per_item(tmp_path: Path, tiny_model_dir: Path, processbench_dir: Path) -> None:
    items = json.loads((processbench_dir / "gsm8k.json").read_text())[:3]
    source = tmp_path / "items.json"
    source.write_text(json.dumps(items))
    out = tmp_path / "out" / "results.jsonl"
    result = critic(
        "critique",
        "-i",
        str(source),
        "-m",
        str(tiny_model_dir),
        "--max-new-tokens",
        "4",
        "--batch-size",
        "2",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    results = [CritiqueResult.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [r.id for r in results] == ["gsm8k-0", "gsm8k-1", "gsm8k-2"]
    assert [len(r.steps) for r in results] == [len(i["steps"]) for i in items]
    assert all(r.backend == "transformers" and r.samples == 1 for r in results)


def test_bad_items_are_reported_and_the_rest_still_written(tmp_path: Path, tiny_model_dir: Path) -> None:
    lines = [
        '{"id": "good-1", "problem": "What is 2+2?", "steps": ["2+2=4", "So 4."], "label": -1}',
        '{"id": "oops", "problem": "What is 3+3?", ',
        '{"id": "no-problem", "steps": ["a"]}',
        '{"id": "good-2", "problem": "What is 5*2?", "solution": "Step 1: 5*2=10\\nStep 2: So 10."}',
    ]
    source = tmp_path / "items.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.jsonl"
    result = critic(
        "critique",
        "--input",
        str(source),
        "--model",
        str(tiny_model_dir),
        "--max-new-tokens",
        "3",
        "--samples",
        "2",
        "--output",
        str(out),
    )
    assert result.exit_code == 2
    err = result.stderr
    assert "item 2 (line 2): invalid JSON" in err
    assert "item 3 (line 3) id='no-problem': field 'problem' is missing" in err
    assert "2 of 4 item(s) rejected" in err
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in results] == ["good-1", "good-2"]
    assert results[1]["steps"][0]["text"] == "5*2=10" and len(results[1]["votes"]) == 2


def test_problem_and_solution_file_write_one_json_object_to_stdout(tmp_path: Path, tiny_model_dir: Path) -> None:
    solution = tmp_path / "solution.txt"
    solution.write_text("He buys 3*4 = <<3*4=12>>12 eggs.\n\nHe has 12-2 = <<12-2=10>>10 left.")
    result = critic(
        "critique",
        "--problem",
        "Eggs?",
        "--solution-file",
        str(solution),
        "-m",
        str(tiny_model_dir),
        "--max-new-tokens",
        "3",
    )
    assert result.exit_code == 0, result.output
    result = json.loads(result.stdout)
    assert [s["text"] for s in result["steps"]] == [
        "He buys 3*4 = <<3*4=12>>12 eggs.",
        "He has 12-2 = <<12-2=10>>10 left.",
    ]
    assert result["problem"] == "Eggs?" and result["mode"] == "single"


def test_stdin_input_and_usage_errors(tiny_model_dir: Path) -> None:
    item = json.dumps({"problem": "1+1?", "steps": ["1+1=2"]})
    result = critic("critique", "-i", "-", "-m", str(tiny_model_dir), "--max-new-tokens", "2", stdin=item)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][0]["text"] == "1+1=2"
    for args, message in (
        (["-i", "-", "--mode", "fast"], "--mode 'fast': choose single or deliberate"),
        (["--problem", "p"], "--problem needs --solution-file FILE (or - for stdin)"),
        (
            ["-i", "-", "--samples", "3", "--temperature", "0"],
            "invalid critic setting: config: samples > 1 needs temperature > 0 (greedy samples are identical); "
            "omit temperature",
        ),
    ):
        result = critic("critique", *args, stdin=item)
        assert (result.exit_code, result.output) == (2, f"error: {message}\n")


def test_help_texts_describe_every_option() -> None:
    result = critic("--help")
    assert result.exit_code == 0 and "critique" in result.output
    result = critic("critique", "--help")
    assert result.exit_code == 0
    text = result.output
    for option in (
        "--input",
        "--problem",
        "--solution-file",
        "--model",
        "--backend",
        "--base-url",
        "--mode",
        "--samples",
        "--max-new-tokens",
        "--output",
    ):
        assert option in text
    assert "JSONL" in text and "first wrong step" in text


def test_code_items_get_execution_and_a_verdict_that_failing_tests_decide(tmp_path: Path, tiny_model_dir: Path) -> None:
    from core.code.tasks import load_code_tasks

    chosen = {item.id: item for item in load_code_tasks()}
    rows = [chosen["factorial/wrong-1"].to_json(), chosen["factorial/correct"].to_json()]
    source = tmp_path / "code.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows))
    out = tmp_path / "results.jsonl"
    result = critic("critique", "-i", str(source), "-m", str(tiny_model_dir), "--max-new-tokens", "16", "-o", str(out))
    assert result.exit_code == 0, result.output
    wrong, right = [json.loads(line) for line in out.read_text().splitlines()]
    assert wrong["verdict"] == "incorrect" and wrong["execution"]["passed"] < wrong["execution"]["total"]
    failing = wrong["execution"]["failing"][0]
    assert failing["name"] == wrong["failing_test"] and failing["name"] in wrong["analysis"]
    assert failing["expected"] is not None and failing["actual"] is not None
    assert right["execution"]["passed"] == right["execution"]["total"] == 4 and right["verdict"] in (
        "correct",
        "incorrect",
    )
