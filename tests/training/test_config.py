"""Job configs: YAML + overrides, and bad values rejected with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from training.config import GRPOJobConfig, SFTJobConfig, load_config, parse_override


def test_yaml_file_and_cli_overrides_merge(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("max_steps: 7\nlearning_rate: 3.0e-5\nuse_lora: true\n", encoding="utf-8")
    config = load_config("sft", path, {"max_steps": 3})
    assert isinstance(config, SFTJobConfig)
    assert (config.max_steps, config.learning_rate, config.use_lora) == (3, 3e-5, True)
    assert parse_override("lora_target_modules=[q_proj, v_proj]") == ("lora_target_modules", ["q_proj", "v_proj"])


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("sft", {"learning_rate": -1}, "learning_rate: Input should be greater than 0"),
        ("sft", {"max_steps": 0}, "max_steps"),
        ("sft", {"precision": "fp8"}, "precision"),
        ("sft", {"learnin_rate": 1e-5}, "learnin_rate: unknown field; known fields:"),
        ("sft", {"use_annotations": False}, "no training data"),
        ("sft", {"prm800k": "/no/such/prm800k.jsonl"}, "does not exist"),
        ("sft", {"teacher_backend": "openai"}, "needs teacher_model"),
        ("grpo", {"num_generations": 3, "per_device_batch_size": 4}, "must be a multiple of num_generations"),
        ("grpo", {"num_generations": 1}, "num_generations"),
        ("dpo", {}, "unknown job type 'dpo'"),
    ],
)
def test_bad_values_raise_config_error_naming_the_fix(kind: str, values: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load_config(kind, None, values)


def test_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config("grpo", path)
    assert isinstance(load_config("grpo", None, {"num_generations": 2}), GRPOJobConfig)
