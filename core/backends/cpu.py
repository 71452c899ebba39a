"""The number format for models run on this CPU: bfloat16 where the CPU computes it natively, else float32."""

from __future__ import annotations

from pathlib import Path

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

    `auto` takes bfloat16 where the CPU has it natively: measured with bench/generation.py on a 2-core Xeon with
    AMX, batched critiques ran 3.8x as fast as in float32 (default backend), one at a time 1.9x; on CPUs without
    it (AVX2 only) bfloat16 is slower than float32, so they keep float32.
    """
    if setting in ("float32", "bfloat16"):
        return setting
    return "bfloat16" if has_native_bf16(flags) else "float32"
