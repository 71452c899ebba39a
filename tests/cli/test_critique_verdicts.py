"""The pencils example through `critic critique` with every default and the embedded model: the checker's proof
names the first wrong step, with its reason, whatever the model judged before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.runner import critic
from tests.core.served_critiques import PENCILS_PROBLEM, PENCILS_STEPS


@pytest.mark.slow
def test_the_pencils_example_names_step_3_with_the_checker_reason(
    tmp_path: Path, embedded_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("CRITIC_MODELS_DIR", str(embedded_model_dir.parent))
    get_settings.cache_clear()
    solution = tmp_path / "solution.txt"
    solution.write_text("\n\n".join(PENCILS_STEPS))
    try:
        result = critic(
            "critique", "--problem", PENCILS_PROBLEM, "--solution-file", str(solution), "--backend", "transformers"
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    steps = data["steps"]
    assert data["first_error_step"] == 3, "the proven error, not the model's doubt on an earlier step"
    assert steps[2]["verdict"] == "incorrect" and steps[2]["verdict_source"] in ("checker", "both")
    assert "12 + 3 = 16 is false (12 + 3 = 15)" in steps[2]["check"]["detail"]
    assert steps[1]["verdict"] != "incorrect", "step 2 is not the first error"
    assert data["grammar"] == "tight" and data["parse_status"] == "ok"
