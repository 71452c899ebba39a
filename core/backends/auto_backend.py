"""The default `auto` backend: a local vLLM server owned by this process when vLLM is installed, else transformers."""

from __future__ import annotations

import atexit
import logging
import shlex
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.grammar import Constraint
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

SERVER_ENGINE = "vllm-server"
LOCAL_ENGINE = "transformers"


class AutoBackend(Backend):
    """Picks the fastest engine this machine has for each call, behind the one Backend interface.

    vLLM (continuous batching, paged KV cache) generates several times more tokens per second than
    transformers' `generate` once more than one critique is in flight, and about as fast for a single one.
    So when a vLLM environment is installed (scripts/vllm_env.sh, CRITIC_VLLM_PYTHON), this backend starts
    vLLM's OpenAI-compatible server on a free loopback port and sends requests to it; the server is a child
    process that `close()` stops. Starting it takes a minute or two on a CPU, so:

    - a call with at least `min_server_batch` generations starts the server (if needed) and waits for it:
      such a batch finishes sooner on vLLM even counting the start;
    - smaller calls go to the server when it is already up, and to in-process transformers otherwise
      (a single critique does not wait for a server);
    - long-lived processes (the web app) call `prepare_for_traffic()` at launch so the server is warm
      by the time users arrive; once it answers, the in-process model (if a call loaded it meanwhile) is
      released, so one engine holds the weights;
    - without a vLLM environment, or when the server fails to start, everything runs on transformers and
      the reason is logged once.
    """

    name = "auto"
    supports_constraints = True  # both engines take the grammar: the vLLM server and in-process transformers

    def __init__(
        self,
        model_name: str,
        *,
        min_server_batch: int | None = None,
        startup_timeout_s: float | None = None,
        server_args: Sequence[str] = (),
        device: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(model_name)
        self.settings = settings or get_settings()
        self.min_server_batch = min_server_batch or self.settings.auto_server_min_batch
        self.startup_timeout_s = startup_timeout_s or self.settings.auto_server_startup_timeout_s
        self.server_args = list(server_args) or shlex.split(self.settings.auto_server_args)
        self.device = device
        self._local: Backend | None = None
        self._tokenizer: Any = None
        self._server: Any = None  # core.vllm_server.VLLMServer once started
        self._served: Backend | None = None
        self._server_thread: threading.Thread | None = None
        self._server_done = threading.Event()
        self.server_error: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._closing = threading.Event()  # releases the server thread (see _run_server)

    @property
    def engine(self) -> str:
        """Which engine answers a call made now: 'vllm-server' or 'transformers'."""
        return SERVER_ENGINE if self._served is not None else LOCAL_ENGINE

    @property
    def serves_concurrently(self) -> bool:
        return self._served is not None

    def prepare_for_traffic(self) -> None:
        """Get ready for users. On a GPU the vLLM server starts now. On a CPU the in-process model loads now and the
        server waits for the first batch (`min_server_batch` generations in one call): one critique at a time is
        about as fast in process, vLLM's start-up takes every core for minutes, and a small model then needs one
        engine instead of an app plus a server (bench/memory.py measures both)."""
        from core.backends.cpu import gpu_available

        if gpu_available() or not self.vllm_installed():
            self.start_server()
            return
        self._transformers()

    def vllm_installed(self) -> bool:
        """Whether a vLLM environment is there to start a server from (a quick file check)."""
        return self.settings.vllm_python.exists()

    def start_server(self) -> bool:
        """Start the vLLM server in the background (once); False when there is no vLLM environment."""
        with self._lock:
            if self._server_thread is not None:
                return True
            if self._closed or not self.vllm_installed():
                self.server_error = self.server_error or f"no vLLM environment at {self.settings.vllm_python}"
                self._server_done.set()
                return False
            self._server_thread = threading.Thread(target=self._run_server, name="auto-vllm-server", daemon=True)
            self._server_thread.start()
            # The server is a separate process group: a command that never calls close() must not leave it behind.
            atexit.register(self.close)
            return True

    def _run_server(self) -> None:
        from core.backends.cpu import vllm_honours_seeds
        from core.backends.openai_backend import OpenAIBackend
        from core.vllm_server import free_port, start_vllm_server

        try:
            server = start_vllm_server(
                self.model_name,
                port=free_port(),
                settings=self.settings,
                extra_args=self.server_args,
                log_file=self.settings.home / "logs" / "auto-vllm-server.log",
                # The server gets SIGTERM when this thread ends, so this thread lives until close() or process exit.
                die_with_parent=True,
            )
            with self._lock:
                self._server = server
            if self._closed:
                server.stop()
                return
            server.wait_until_serving(self.startup_timeout_s)
            served = OpenAIBackend(
                server.served_name,
                base_url=server.base_url,
                request_seeds=vllm_honours_seeds(),
                timeout_s=max(self.settings.request_timeout_s, 600.0),
                settings=self.settings,
            )
            with self._lock:
                if self._closed:
                    server.stop()
                    return
                self._served = served
                # The in-process model only bridged the server's start: dropping it keeps one copy of the weights.
                # Not closed: a generation still running on it holds its own reference and finishes.
                self._local = None
            log.info("auto backend: vLLM server for %s is answering at %s", self.model_name, server.base_url)
        except Exception as exc:  # any failure leaves the transformers engine in charge
            self.server_error = str(exc)
            log.warning("auto backend: no vLLM server (%s); generating with transformers", exc)
            if self._server is not None:
                self._server.stop()
            return
        finally:
            self._server_done.set()
        self._closing.wait()

    def wait_for_server(self, timeout_s: float | None = None) -> bool:
        """Block until the server answers or has failed; True when it answers."""
        self._server_done.wait(timeout_s if timeout_s is not None else self.startup_timeout_s + 30)
        return self._served is not None

    def _transformers(self) -> Backend:
        with self._lock:
            if self._local is None:
                from core.backends.transformers_backend import TransformersBackend

                self._local = TransformersBackend(self.model_name, device=self.device, settings=self.settings)
            return self._local

    def _engine_for(self, generations: int) -> Backend:
        if self._served is None and generations >= self.min_server_batch and self.start_server():
            self.wait_for_server()
        engine = self._served if self._served is not None else self._transformers()
        # Results record the backend by name: say which engine this one was.
        self.name = f"auto:{self.engine}"
        return engine

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        return self._engine_for(len(prompts) * params.n).generate(prompts, params, constraints)

    def stream(
        self, prompt: Messages, params: GenerationParams, constraint: Constraint | None = None
    ) -> Iterator[str | Generation]:
        yield from self._engine_for(1).stream(prompt, params, constraint)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` with the model's tokenizer (used to count streamed tokens, whichever engine streams)."""
        with self._lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                from core.models import resolve_model

                self._tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(self.model_name, self.settings)))
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        atexit.unregister(self.close)
        self._closing.set()
        with self._lock:
            self._closed = True
            server, served, local = self._server, self._served, self._local
            self._served = None
        for backend in (served, local):
            if backend is not None:
                backend.close()
        if server is not None:
            server.stop()
