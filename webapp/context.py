"""What every handler needs: the database URL, the settings, and one cached critic per (model, backend, mode)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Generation uses all CPU cores; two critiques at once would only slow both down.
    generation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.default_model = self.default_model or self.settings.model
        self.default_backend = self.default_backend or self.settings.backend

    def critic(self, model: str | None = None, backend: str | None = None, mode: str = "single") -> Any:
        """The core Critic for this model and backend, built once (loading weights takes seconds)."""
        from core.critic import Critic

        key = (model or self.default_model, backend or self.default_backend, mode)
        with self._lock:
            critic = self._critics.get(key)
            if critic is None:
                critic = Critic.create(model=key[0], backend=key[1], mode=key[2], **self.critic_options)
                self._critics[key] = critic
            return critic

    def warm_up_in_background(self) -> threading.Thread:
        """Load the default critic in a thread so the first critique does not wait for the weights."""

        def _load() -> None:
            try:
                self.critic()
            except Exception:  # the first real request reports the error to the user
                log.exception("could not load the default critic model")

        thread = threading.Thread(target=_load, name="critic-warm-up", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self._lock:
            critics = list(self._critics.values())
            self._critics.clear()
        for critic in critics:
            close = getattr(critic, "close", None)
            if close is not None:
                close()
