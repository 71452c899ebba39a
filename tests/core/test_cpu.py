"""Models on the CPU: bfloat16 where the CPU has it natively (else float32, or as CRITIC_CPU_DTYPE says); freed
large buffers go back to the OS."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.backends import GenerationParams
from core.backends import cpu as cpu_module
from core.backends.cpu import cpu_dtype_name, cpu_flags, has_native_bf16
from core.backends.transformers_backend import TransformersBackend
from core.errors import ConfigError
from core.settings import Settings, get_settings
from core.vllm_server import vllm_server_command
from tests.conftest import REPO_ROOT

# Excerpts of /proc/cpuinfo from the two kinds of machine this project runs on.
XEON_WITH_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
EPYC_AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 avx avx2 fma bmi2 sha_ni
"""
ARM_WITHOUT_FLAGS_LINE = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32
"""


def test_auto_picks_bfloat16_only_where_the_cpu_computes_it_natively() -> None:
    assert has_native_bf16(cpu_flags(XEON_WITH_AMX))
    assert cpu_dtype_name("auto", cpu_flags(XEON_WITH_AMX)) == "bfloat16"
    assert not has_native_bf16(cpu_flags(EPYC_AVX2_ONLY))
    assert cpu_dtype_name("auto", cpu_flags(EPYC_AVX2_ONLY)) == "float32"
    assert cpu_flags(ARM_WITHOUT_FLAGS_LINE) == frozenset()
    assert cpu_dtype_name("auto", cpu_flags(ARM_WITHOUT_FLAGS_LINE)) == "float32"


def test_an_explicit_setting_wins_over_the_cpu() -> None:
    assert cpu_dtype_name("float32", cpu_flags(XEON_WITH_AMX)) == "float32"
    assert cpu_dtype_name("bfloat16", cpu_flags(EPYC_AVX2_ONLY)) == "bfloat16"


def test_a_bad_setting_names_the_variable_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_CPU_DTYPE", "fp16")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=r"CRITIC_CPU_DTYPE='fp16'.*'auto', 'float32' or 'bfloat16'"):
        get_settings()


@pytest.mark.parametrize(
    ("setting", "cpuinfo", "expected"),
    [
        ("auto", XEON_WITH_AMX, "bfloat16"),
        ("auto", EPYC_AVX2_ONLY, "float32"),
        ("float32", XEON_WITH_AMX, "float32"),
    ],
)
def test_transformers_backend_loads_and_generates_in_the_chosen_format(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, setting: str, cpuinfo: str, expected: str
) -> None:
    monkeypatch.setattr(cpu_module, "cpu_flags", lambda: cpu_flags(cpuinfo))
    backend = TransformersBackend(str(tiny_model_dir), device="cpu", settings=Settings(cpu_dtype=setting))
    assert str(backend.model.dtype) == f"torch.{expected}"
    out = backend.generate([[{"role": "user", "content": "What is 2 + 2?"}]], GenerationParams(max_new_tokens=5))
    assert 0 < out[0][0].completion_tokens <= 5


def test_the_vllm_server_on_a_cpu_gets_the_same_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.backends.cpu.gpu_available", lambda: False)
    monkeypatch.setattr(cpu_module, "cpu_flags", lambda: cpu_flags(XEON_WITH_AMX))
    monkeypatch.setenv("CRITIC_CPU_DTYPE", "auto")
    get_settings.cache_clear()
    command = vllm_server_command(Path("python"), "model-dir", "embedded")
    assert command[command.index("--dtype") + 1] == "bfloat16"
    monkeypatch.setenv("CRITIC_CPU_DTYPE", "float32")
    get_settings.cache_clear()
    command = vllm_server_command(Path("python"), "model-dir", "embedded")
    assert command[command.index("--dtype") + 1] == "float32"
    # A caller's own settings (the auto backend passes its settings) win over the environment's.
    given = vllm_server_command(Path("python"), "model-dir", "embedded", settings=Settings(cpu_dtype="auto"))
    assert given[given.index("--dtype") + 1] == "bfloat16"
    explicit = vllm_server_command(Path("python"), "model-dir", "embedded", dtype="bfloat16")
    assert explicit[explicit.index("--dtype") + 1] == "bfloat16"


RELEASE_SCRIPT = textwrap.dedent(
    """
    import sys
    from core.backends.cpu import large_buffers_returned_to_the_os

    def rss_kib():
        return int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1])

    def kept_after_free_kib():
        before = rss_kib()
        activations = bytearray(12 << 20)
        del activations
        return rss_kib() - before

    first = bytearray(16 << 20)
    del first  # from now on glibc's default serves blocks below 16 MiB from its heap, which keeps freed memory
    if sys.argv[1] == "glibc-default":
        print(kept_after_free_kib())
    else:
        with large_buffers_returned_to_the_os() as applied:
            assert applied
            print(kept_after_free_kib())
        print(kept_after_free_kib())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc are Linux's")
def test_large_buffers_freed_while_a_model_loads_go_back_to_the_os() -> None:
    def kept_kib(mode: str) -> list[int]:
        done = subprocess.run(
            [sys.executable, "-c", RELEASE_SCRIPT, mode], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        return [int(line) for line in done.stdout.split()]

    assert kept_kib("glibc-default")[0] > 10 * 1024, "glibc's default keeps a freed 12 MiB block"
    inside, after = kept_kib("while-loading")
    assert inside < 1024, "freed within the block: back to the OS"
    assert after > 10 * 1024, "after the block: the heap reuses it again, as glibc's default does (faster)"
