"""What every handler needs: the database URL, the settings, the serving model, and one cached critic per
(model, backend, mode)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, get_args

from core.backends.base import Backend
from core.errors import ConfigError, CriticError, PermissionDeniedError
from core.settings import BACKEND_CHOICES, BACKEND_NAMES, Settings, get_settings
from core.types import Mode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingModel:
    """What the app critiques with now: a model name or path, and the registry version it is (None: the default)."""

    model: str
    version_id: int | None = None
    version_name: str | None = None


class JobSlot:
    """One running critique of a user, counted against their role's limit until released (once, from any thread)."""

    def __init__(self, ctx: AppContext, user_id: int) -> None:
        self._ctx, self._user_id, self._released = ctx, user_id, False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._ctx._end_job(self._user_id)

    def __enter__(self) -> JobSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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
    _serving: ServingModel | None = field(default=None, repr=False)
    _jobs: dict[int, int] = field(default_factory=dict, repr=False)  # user id -> critiques running now
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # In-process generation uses all CPU cores; two critiques at once would only slow both down.
    generation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.default_model = self.default_model or self.settings.model
        self.default_backend = self.default_backend or self.settings.backend

    def critic(self, model: str | None = None, backend: str | None = None, mode: str = "single") -> Any:
        """The core Critic for this model, backend and mode; the modes share one backend (weights load once).

        Only offered models load (see `offered_model`); at most `web_model_cache` models stay loaded, the least
        recently used one is closed when another is needed.
        """
        from core.backends import create_backend
        from core.critic import Critic, split_backend_options

        key = (self.offered_model(model or self.default_model), backend or self.default_backend, mode)
        evicted: list[Any] = []
        try:
            with self._lock:
                critic = self._critics.get(key)
                if critic is None:
                    # Validated before anything is unloaded: a bad request must not cost a loaded model.
                    if mode not in get_args(Mode):
                        raise ConfigError(f"unknown mode {mode!r}: choose {' or '.join(get_args(Mode))}")
                    backend_options, critic_options = split_backend_options(self.critic_options)
                    engine = self._backends.get(key[:2])
                    if engine is None:
                        if key[1] not in BACKEND_NAMES:
                            raise ConfigError(f"unknown backend {key[1]!r}: choose {BACKEND_CHOICES}")
                        evicted = self._make_room()
                        engine = self._backends[key[:2]] = create_backend(key[1], key[0], **backend_options)
                    critic = self._critics[key] = Critic(engine, mode=mode, **critic_options)
                self._backends[key[:2]] = self._backends.pop(key[:2], critic.backend)  # most recently used last
        finally:  # what was unloaded is closed even when the new engine failed to load
            self._close(evicted)
        return critic

    def start_job(self, user_id: int, *, limit: int, role: str) -> JobSlot:
        """Count one more critique running for this user, or refuse it when they already run `limit` at once."""
        with self._lock:
            running = self._jobs.get(user_id, 0)
            if running >= limit:
                raise PermissionDeniedError(
                    f"you already run {running} critique(s), the most a {role} may run at once "
                    f"({role}.max_jobs in CRITIC_ROLE_LIMITS): wait until one finishes"
                )
            self._jobs[user_id] = running + 1
        return JobSlot(self, user_id)

    def _end_job(self, user_id: int) -> None:
        with self._lock:
            running = self._jobs.get(user_id, 0) - 1
            if running > 0:
                self._jobs[user_id] = running
            else:
                self._jobs.pop(user_id, None)

    def _close(self, backends: list[Any]) -> None:
        for engine in backends:
            with self.generation_lock:  # not in the middle of someone's in-process generation
                engine.close()

    def _make_room(self) -> list[Any]:
        """Forget the least recently used backends until one more fits the cache (caller holds the lock)."""
        evicted = []
        while len(self._backends) >= self.settings.web_model_cache:
            old_key = next(iter(self._backends))
            evicted.append(self._backends.pop(old_key))
            for critic_key in [k for k in self._critics if k[:2] == old_key]:
                del self._critics[critic_key]
        return evicted

    def _forget(self, model: str) -> list[Any]:
        """Drop every backend and critic of `model` from the caches; returns the backends to close (caller holds
        the lock)."""
        evicted = [self._backends.pop(key) for key in [k for k in self._backends if k[0] == model]]
        for critic_key in [k for k in self._critics if k[0] == model]:
            del self._critics[critic_key]
        return evicted

    def serving(self) -> ServingModel:
        """The model critiques use now: the registry's serving version, else the default model.

        Read fresh on each call, so promotions and rollbacks apply without a restart. When it differs from the one
        seen last, the app switches engines: the previous model's backends close (its vLLM server stops) before the
        new model warms up, so one model serves and one engine runs.
        """
        from db.session import session_scope
        from training.registry import active_model

        with session_scope(self.database_url) as session:
            version = active_model(session)
            serving = (
                ServingModel(version.path, version.id, version.name)
                if version is not None
                else ServingModel(self.default_model)
            )
        with self._lock:
            previous, self._serving = self._serving, serving
            evicted = self._forget(previous.model) if previous and previous.model != serving.model else []
        if previous is not None and previous.model != serving.model:
            log.warning(
                "serving model changed: %s -> %s; stopping the old engine and starting one for the new model",
                previous.version_name or previous.model,
                serving.version_name or serving.model,
            )
            self._close(evicted)
            self.warm_up_in_background()
        return serving

    def offered_model(self, model: str) -> str:
        """The model to load for a name a user gave: the default, a configured name (CRITIC_WEB_MODELS), or a
        registry version (by name or path). Anything else is refused without touching the file system, so the
        answer tells nothing about which paths exist."""
        if model in {self.default_model, self.settings.model, *self.settings.web_model_list}:
            return model
        from db.model_versions import registered_model_path
        from db.session import session_scope

        with session_scope(self.database_url) as session:
            path = registered_model_path(session, name_or_path=model)
        if path is None:
            raise PermissionDeniedError(
                f"model {model!r} is not offered here: pick the default, a registry version, or a name an admin "
                "listed in CRITIC_WEB_MODELS"
            )
        return path

    @contextmanager
    def generating(self, backend: Backend) -> Iterator[None]:
        """Hold the generation lock unless the backend serves overlapping requests together (a vLLM server)."""
        if backend.serves_concurrently:
            yield
            return
        with self.generation_lock:
            yield

    def warm_up_in_background(self) -> threading.Thread:
        """Load the serving model's critic in a thread (and start its server, for the auto backend) before users
        arrive."""

        def _load() -> None:
            try:
                self.critic(self.serving().model).backend.prepare_for_traffic()
            except CriticError as exc:  # e.g. no model there yet: the first real request tells the user
                log.warning("could not load the default critic model: %s", exc)
            except Exception:
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
