"""Generation backends behind one interface; `create_backend` picks one by name."""

from __future__ import annotations

from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.errors import ConfigError
from core.settings import BACKEND_CHOICES

__all__ = ["Backend", "Generation", "GenerationParams", "Messages", "create_backend"]


def create_backend(name: str, model: str, **options: object) -> Backend:
    """Build a backend by name; heavy libraries are imported only for the one chosen."""
    if name == "auto":
        from core.backends.auto_backend import AutoBackend

        return AutoBackend(model, **options)  # type: ignore[arg-type]
    if name == "transformers":
        from core.backends.transformers_backend import TransformersBackend

        return TransformersBackend(model, **options)  # type: ignore[arg-type]
    if name == "openai":
        from core.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(model, **options)  # type: ignore[arg-type]
    if name == "vllm":
        from core.backends.vllm_backend import VLLMBackend

        return VLLMBackend(model, **options)  # type: ignore[arg-type]
    raise ConfigError(f"unknown backend {name!r}: choose {BACKEND_CHOICES}")
