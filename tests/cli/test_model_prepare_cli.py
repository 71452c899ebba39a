"""`critic model prepare` leaves a loadable checkpoint behind and names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from tests.cli.runner import critic


@pytest.mark.slow
def test_prepare_embedded_prints_a_checkpoint_directory(embedded_model_dir: Path) -> None:
    result = critic("model", "prepare", "--model", "embedded")
    assert result.exit_code == 0, result.output
    printed = Path(result.output.strip().splitlines()[-1])
    assert printed == embedded_model_dir
    assert (printed / "config.json").is_file()
    assert any(printed.glob("*.safetensors"))


def test_prepare_rejects_a_directory_without_config(tmp_path: Path) -> None:
    result = critic("model", "prepare", "--model", str(tmp_path))
    assert result.exit_code == ConfigError.exit_code
    assert result.output.startswith("error: ") and "config.json" in result.output
