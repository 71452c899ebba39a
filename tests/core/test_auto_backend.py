"""The default `auto` backend: transformers for small calls, a local vLLM server it starts for batches, and back."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from core.backends import GenerationParams, create_backend
from core.backends.auto_backend import AutoBackend
from core.backends.transformers_backend import TransformersBackend
from core.critic import Critic
from core.settings import Settings, get_settings
from core.types import SolutionItem
from tests.conftest import REPO_ROOT

FAKE_VLLM_DIR = Path(__file__).parent / "fake_vllm"
PARAMS = GenerationParams(max_new_tokens=6)


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def fake_vllm_python(tmp_path: Path, *, broken: bool = False) -> Path:
    """A `python` of a pretend vLLM environment whose `vllm` server is the stub OpenAI server (or dies at once)."""
    python = tmp_path / "fake-vllm-env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    exit_early = 'case "$*" in *api_server*) echo "CUDA out of memory" >&2; exit 3;; esac\n' if broken else ""
    python.write_text(f'#!/bin/sh\n{exit_early}PYTHONPATH="{FAKE_VLLM_DIR}:{REPO_ROOT}" exec "{sys.executable}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python


def auto_backend(model_dir: Path, vllm_python: Path, **options: object) -> AutoBackend:
    settings = Settings(vllm_python=vllm_python, auto_server_startup_timeout_s=60)
    return AutoBackend(str(model_dir), settings=settings, device="cpu", **options)  # type: ignore[arg-type]


def test_auto_is_the_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRITIC_BACKEND")
    get_settings.cache_clear()
    assert get_settings().backend == "auto"


def test_without_vllm_everything_runs_on_transformers(tiny_model_dir: Path, tmp_path: Path) -> None:
    backend = auto_backend(tiny_model_dir, tmp_path / "no-such-env" / "python", min_server_batch=2)
    reference = TransformersBackend(str(tiny_model_dir), device="cpu")
    prompts = [chat("What is 2+2?"), chat("Is 3 prime?"), chat("Halve 10.")]
    try:
        generations = backend.generate(prompts, PARAMS)
        assert backend.engine == "transformers" and backend.name == "auto:transformers"
        assert "no vLLM environment" in (backend.server_error or "")
        # Same weights, greedy: exactly what the transformers backend writes.
        assert [g[0].text for g in generations] == [g[0].text for g in reference.generate(prompts, PARAMS)]
    finally:
        backend.close()


def test_a_batch_starts_the_server_and_later_calls_use_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    backend = auto_backend(tiny_model_dir, fake_vllm_python(tmp_path), min_server_batch=3)
    try:
        [[single]] = backend.generate([chat("one problem")], PARAMS)
        assert backend.engine == "transformers" and backend._server is None  # a single call starts no server
        batch = backend.generate([chat(f"problem {i}") for i in range(3)], PARAMS)
        assert backend.engine == "vllm-server" and backend.name == "auto:vllm-server"
        assert [g[0].text.split(" for ")[-1] for g in batch] == [f"problem {i}" for i in range(3)]
        assert backend.serves_concurrently
        # Once the server answers, single calls and streams go there too.
        [[after]] = backend.generate([chat("one more")], PARAMS)
        assert after.text.startswith("Step 1 is correct.")
        *chunks, whole = backend.stream(chat("streamed"), PARAMS)
        assert "".join(chunks).strip().endswith("streamed") and whole.text == "".join(chunks)
        server = backend._server
    finally:
        backend.close()
    assert server.process.poll() is not None, "close() must stop the server it started"


def test_a_server_that_fails_to_start_leaves_transformers_in_charge(tiny_model_dir: Path, tmp_path: Path) -> None:
    backend = auto_backend(tiny_model_dir, fake_vllm_python(tmp_path, broken=True), min_server_batch=2)
    try:
        generations = backend.generate([chat("a"), chat("b")], PARAMS)
        assert len(generations) == 2 and backend.engine == "transformers"
        assert "exited with code 3" in (backend.server_error or "")
        log = get_settings().home / "logs" / "auto-vllm-server.log"
        assert "CUDA out of memory" in log.read_text()
    finally:
        backend.close()


def test_on_a_cpu_single_critiques_stay_in_process_until_a_batch(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A long-lived process warms up: the in-process model answers single critiques at once (vLLM's start-up would
    take the few cores for minutes, and the app would hold two engines); the first batch starts the server."""
    backend = auto_backend(tiny_model_dir, fake_vllm_python(tmp_path), min_server_batch=2)
    try:
        backend.prepare_for_traffic()
        assert backend._server_thread is None, "nothing starts vLLM before a batch needs it"
        critic = Critic(backend)
        item = SolutionItem(problem="What is 1+1?", steps=["1+1=2.", "So the answer is 2."])
        first = critic.critique(item, max_new_tokens=8)
        assert first.backend == "auto:transformers" and len(first.steps) == 2
        assert backend._server_thread is None
        batch = critic.critique_many([item, item], max_new_tokens=8)
        assert [r.backend for r in batch] == ["auto:vllm-server"] * 2
        assert critic.critique(item, max_new_tokens=8).backend == "auto:vllm-server"
    finally:
        backend.close()


def test_create_backend_builds_auto_by_name(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CRITIC_VLLM_PYTHON", str(tmp_path / "missing"))
    get_settings.cache_clear()
    backend = create_backend("auto", str(tiny_model_dir), device="cpu")
    try:
        assert isinstance(backend, AutoBackend) and not backend.vllm_installed()
    finally:
        backend.close()


@pytest.mark.skipif(os.name != "posix", reason="the fake vLLM environment is a shell script")
def test_fake_env_is_found_like_a_real_one(tmp_path: Path) -> None:
    from core.vllm_server import find_vllm_python

    python = fake_vllm_python(tmp_path)
    assert find_vllm_python(Settings(vllm_python=python)) == python


def test_the_server_does_not_outlive_a_killed_owner(tiny_model_dir: Path, tmp_path: Path) -> None:
    """kill -9 of the process that started the server (no atexit hooks run) still stops the server."""
    import signal
    import subprocess
    import time

    script = (
        "import sys\nfrom pathlib import Path\nfrom core.backends.auto_backend import AutoBackend\n"
        "from core.settings import Settings\n"
        f"backend = AutoBackend({str(tiny_model_dir)!r}, device='cpu', "
        f"settings=Settings(vllm_python=Path({str(fake_vllm_python(tmp_path))!r})))\n"
        "backend.start_server()\nassert backend.wait_for_server(60)\n"
        "print(backend._server.process.pid, flush=True)\nsys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        server_pid = int(owner.stdout.readline())  # type: ignore[union-attr]
        os.kill(server_pid, 0)  # the server runs
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(server_pid, signal.SIGKILL)
            pytest.fail("the server outlived the process that started it")
    finally:
        owner.kill()
