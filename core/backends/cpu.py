"""Running models on this CPU: whether a GPU takes over, the number format (bfloat16 where computed natively), the KV
cache size, and freeing large buffers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def gpu_available() -> bool:
    """Whether torch sees a CUDA GPU (then the CPU choices here do not apply)."""
    import torch

    return torch.cuda.is_available()


def vllm_honours_seeds() -> bool:
    """Whether vLLM here can sample a request with its own seed. On a CPU it cannot: when a prompt is prefilled in
    chunks the engine rewinds the request's generator with a CUDA-only call, and the worker dies; sampled requests
    then go unseeded (greedy ones never use the seed)."""
    return gpu_available()


# x86 instruction-set flags (as /proc/cpuinfo names them) with native bfloat16 arithmetic: AVX512-BF16 and the AMX
# tile units. Without them torch and vLLM emulate bfloat16 through float32, which is slower than float32 itself.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The instruction-set flags of this machine's first CPU (empty where /proc/cpuinfo does not exist)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    return bool(NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags))


def cpu_dtype_name(setting: str, flags: frozenset[str] | None = None) -> str:
    """'float32' or 'bfloat16' for a model generating on this CPU, from the `cpu_dtype` setting.

    `auto` takes bfloat16 where the CPU has it natively, since there it halves the bytes read per token and runs
    on the bfloat16 units (bench/generation.py compares the two); on CPUs without it (AVX2 only) bfloat16 is
    emulated through float32 and is slower than float32 itself, so they keep float32.
    """
    if setting in ("float32", "bfloat16"):
        return setting
    return "bfloat16" if has_native_bf16(flags) else "float32"


# Full-context sequences the KV cache holds when no size is set: a critique is a fraction of the context, so this is
# room for many critiques at once (more buys little on a CPU's few cores) without reserving memory never used.
KV_CACHE_SEQUENCES = 2


def vllm_kv_cache_bytes(gib: float | None, model_path: str | Path, max_model_len: int, dtype: str) -> int | None:
    """The KV cache to ask vLLM for on a CPU, in bytes; None where VLLM_CPU_KVCACHE_SPACE is set.

    `gib` None sizes it for the model: KV_CACHE_SEQUENCES sequences of `max_model_len` tokens at the model's
    per-token KV size (from its config.json), or 2 GiB where the config does not say. vLLM applies that variable
    (whole GiB) over any engine argument, so a user who sets it keeps their choice.
    """
    if "VLLM_CPU_KVCACHE_SPACE" in os.environ:
        return None
    if gib is not None:
        return int(gib * 2**30)
    per_token = kv_bytes_per_token(model_path, dtype)
    return per_token * max_model_len * KV_CACHE_SEQUENCES if per_token else 2 * 2**30


def kv_bytes_per_token(model_path: str | Path, dtype: str) -> int | None:
    """Bytes of keys and values one token takes in every layer, from the checkpoint's config.json (None: unknown)."""
    import json

    try:
        config = json.loads((Path(model_path) / "config.json").read_text())
        layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
        kv_heads = int(config.get("num_key_value_heads") or heads)
        head_dim = int(config.get("head_dim") or int(config["hidden_size"]) // heads)
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None
    element = 4 if dtype == "float32" else 2
    return 2 * layers * kv_heads * head_dim * element


# glibc's mallopt parameter numbers (malloc.h) and the values its own dynamic tuning settles at on 64-bit Linux.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
SETTLED_MMAP_THRESHOLD = 32 * 2**20
SETTLED_TRIM_THRESHOLD = 2 * SETTLED_MMAP_THRESHOLD


def _mallopt(parameter: int, value: int) -> bool:
    """glibc's mallopt; False where the C library has none (nothing changes there)."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(parameter, value))


@contextmanager
def large_buffers_returned_to_the_os(threshold_bytes: int = 128 * 1024) -> Iterator[bool]:
    """While the block runs, each allocation of `threshold_bytes` or more gets its own mapping, unmapped when freed.

    Loading a model and torch.compile allocate and free many large buffers; glibc's default serves them from its
    heap once its threshold has grown, and the heap fragments and never shrinks, so a process keeps the start-up
    peak for its whole life. After the block, large buffers come from the heap again at the thresholds glibc's own
    tuning settles at: mapping every buffer afresh during generation would cost throughput (peak memory and speed:
    bench/generation.py --backend vllm). Yields whether the C library took the setting (glibc only).
    """
    applied = _mallopt(M_MMAP_THRESHOLD, threshold_bytes)
    try:
        yield applied
    finally:
        if applied:
            _mallopt(M_TRIM_THRESHOLD, SETTLED_TRIM_THRESHOLD)
            _mallopt(M_MMAP_THRESHOLD, SETTLED_MMAP_THRESHOLD)
