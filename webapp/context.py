"""What every handler needs: the database URL, the settings, and one cached critic per (model, backend, mode)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.backends.base import Backend
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Shared state of one running app; handlers receive it explicitly so tests can build their own."""

    database_url: str | None = None
    settings: Settings = field(default_factory=get_settings)
    default_model: str = ""
    default_backend: str = ""
    critic_options: dict[str, Any] = field(default_factory=dict)
    _critics: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)
    _backends: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # In-process generation uses all CPU cores; two critiques at once would only slow both down.
    generation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.default_model = self.default_model or self.settings.model
        self.default_backend = self.default_backend or self.settings.backend

    def critic(self, model: str | None = None, backend: str | None = None, mode: str = "single") -> Any:
        """The core Critic for this model, backend and mode; the modes share one backend (weights load once)."""
        from core.backends import create_backend
        from core.critic import Critic, split_backend_options

        key = (model or self.default_model, backend or self.default_backend, mode)
        with self._lock:
            critic = self._critics.get(key)
            if critic is None:
                backend_options, critic_options = split_backend_options(self.critic_options)
                engine = self._backends.get(key[:2])
                if engine is None:
                    engine = self._backends[key[:2]] = create_backend(key[1], key[0], **backend_options)
                critic = self._critics[key] = Critic(engine, mode=mode, **critic_options)
            return critic

    @contextmanager
    def generating(self, backend: Backend) -> Iterator[None]:
        """Hold the generation lock unless the backend serves overlapping requests together (a vLLM server)."""
        if backend.serves_concurrently:
            yield
            return
        with self.generation_lock:
            yield

    def warm_up_in_background(self) -> threading.Thread:
        """Load the default critic in a thread (and start its server, for the auto backend) before users arrive."""

        def _load() -> None:
            try:
                self.critic().backend.prepare_for_traffic()
            except Exception:  # the first real request reports the error to the user
                log.exception("could not load the default critic model")

        thread = threading.Thread(target=_load, name="critic-warm-up", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self._lock:
            backends = list(self._backends.values())
            self._backends.clear()
            self._critics.clear()
        for backend in backends:
            backend.close()
