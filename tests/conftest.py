"""Shared fixtures: an isolated CRITIC_HOME per test, and the data files under ../shared."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings
from tests.db.fixtures import (  # noqa: F401  (database fixtures and the loud PostgreSQL-skip summary)
    _fast_password_hashing,
    _sqlite_template,
    db_session,
    db_url,
    make_item,
    make_user,
    postgres_db_url,
    pytest_terminal_summary,
    sqlite_db_url,
    sqlite_session,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# Converted models are kept across test runs so the embedded model is converted once per machine.
MODEL_CACHE = Path(os.environ.get("CRITIC_TEST_MODEL_CACHE", Path.home() / ".cache" / "critic-studio-test" / "models"))
# Tests compare generations (batched vs alone, one engine vs another) that agree exactly in float32 on every kind
# of machine; tests/core/test_cpu_dtype.py covers the bfloat16 that `auto` picks on CPUs with native bf16. Set at
# import, before module-scoped fixtures build backends, and inherited by the `critic` processes tests start.
os.environ.setdefault("CRITIC_CPU_DTYPE", "float32")


@pytest.fixture(autouse=True)
def critic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own CRITIC_HOME (database, jobs) and a shared model cache."""
    home = tmp_path / "critic-home"
    monkeypatch.setenv("CRITIC_HOME", str(home))
    monkeypatch.setenv("CRITIC_MODELS_DIR", str(MODEL_CACHE))
    monkeypatch.delenv("CRITIC_DATABASE_URL", raising=False)
    # Tests run on the in-process engine unless they pick a backend: the default `auto` backend may start a
    # vLLM server, which tests/core/test_auto_backend.py exercises on purpose.
    monkeypatch.setenv("CRITIC_BACKEND", "transformers")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def processbench_dir() -> Path:
    path = SHARED_DATA / "processbench"
    if not path.exists():
        pytest.fail(f"shared benchmark data missing at {path}")
    return path


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """The embedded SmolLM2-135M-Instruct converted to safetensors in the shared MODEL_CACHE (once per machine)."""
    from core.models import resolve_model
    from core.settings import Settings

    return Path(resolve_model("embedded", Settings(models_dir_override=MODEL_CACHE)))


@pytest.fixture(scope="session")
def tiny_model_dir(embedded_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama (hidden 64) with the real SmolLM2 tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
