"""`critic eval-set add|list|score` and the registry's versions x sets table and audit trail in `critic model`."""

from __future__ import annotations

from pathlib import Path

from db.eval_sets import held_out_problem_keys
from db.session import session_scope
from tests.cli.runner import critic
from tests.training.test_registry import _candidate


def test_register_score_and_see_the_table(
    sqlite_db_url: str,
    processbench_dir: Path,
    tiny_model_dir: Path,
) -> None:
    source = str(processbench_dir / "gsm8k.json")
    result = critic("eval-set", "add", "gsm8k-6", "--from", source, "--limit", "6")
    assert result.exit_code == 0 and "6 items" in result.output, result.output
    result = critic("eval-set", "add", "gsm8k-6", "--from", source, "--limit", "6")
    assert result.exit_code != 0 and "already exists" in result.output
    result = critic("eval-set", "list")
    assert "gsm8k-6" in result.output and "6 items" in result.output
    with session_scope(sqlite_db_url) as session:
        assert len(held_out_problem_keys(session)) == 6

    result = critic("eval-set", "score", "gsm8k-6", "--model", str(tiny_model_dir), "--max-new-tokens", "4")
    assert result.exit_code == 0 and "gsm8k-6: 6 items, F1" in result.output, result.output
    result = critic("model", "list")
    assert (
        "version" in result.output and "gsm8k-6" in result.output and f"unversioned: {tiny_model_dir}" in result.output
    )


def test_manual_promotion_shows_who_in_the_history(sqlite_db_url: str) -> None:
    with session_scope(sqlite_db_url) as session:
        version_id = _candidate(session, "by-hand")
    result = critic("model", "promote", str(version_id), "--reason", "checked by hand")
    assert result.exit_code == 0, result.output
    result = critic("model", "history")
    assert (
        f"v{version_id}  promote" in result.output and "by cli:" in result.output and "checked by hand" in result.output
    )
