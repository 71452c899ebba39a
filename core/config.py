"""The base of every validated config: one way to build it, one error message, and the shared sampling fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.backends.base import GenerationParams
from core.errors import ConfigError

MaxNewTokens = Annotated[int, Field(gt=0, le=32768, description="Token budget of one model call.")]
GenerationBudget = Annotated[MaxNewTokens, Field(ge=16)]
"""A budget for generated text (solutions, revisions, teacher critiques): below 16 tokens nothing useful fits."""
Temperature = Annotated[float, Field(ge=0.0, le=2.0, description="Sampling temperature (0 = greedy).")]
SamplingTemperature = Annotated[
    Temperature, Field(gt=0.0, description="Sampling temperature (must be > 0: the samples must differ).")
]
TopP = Annotated[float, Field(gt=0.0, le=1.0, description="Nucleus sampling mass (only used when temperature > 0).")]
Seed = Annotated[int | None, Field(description="Sampling seed, for reproducible samples.")]


def describe_validation_error(
    error: ValidationError,
    known_fields: Iterable[str] = (),
    field_name: Callable[[str], str] | None = None,
) -> str:
    """'field: what is wrong (got VALUE)' per problem, joined by '; '; an unknown field lists the known ones."""
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        field = field_name(location) if field_name else location or "config"
        message = item["msg"].removeprefix("Value error, ")
        known = sorted(known_fields)
        if item["type"] == "extra_forbidden" and known:
            message = f"unknown field; known fields: {', '.join(known)}"
        elif "input" in item and item["loc"]:
            message = f"{message} (got {item['input']!r})"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)


class ConfigModel(BaseModel):
    """A config validated when built: `build` turns any bad value into a ConfigError naming the field and the fix."""

    model_config = ConfigDict(extra="forbid")

    config_name: ClassVar[str] = "config"
    """What the config configures, as the error message names it ('invalid <config_name>: ...')."""
    keep_none: ClassVar[frozenset[str] | None] = None
    """Fields `build` passes on when None; the others fall back to their defaults. None: every value passes."""

    @classmethod
    def build(cls, **values: Any) -> Self:
        """Validate values into a config, raising ConfigError that names each bad field and what is allowed."""
        if cls.keep_none is not None:
            values = {k: v for k, v in values.items() if v is not None or k in cls.keep_none}
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"invalid {cls.config_name}: {describe_validation_error(exc, cls.model_fields)}") from exc


class SamplingConfig(ConfigModel):
    """Sampling settings every generating config shares; subclasses add their own fields and tighten bounds."""

    max_new_tokens: GenerationBudget = 512
    temperature: Temperature = 0.0
    top_p: TopP = 1.0
    seed: Seed = None

    def params(self, n: int = 1) -> GenerationParams:
        """Backend sampling parameters for `n` samples per prompt."""
        return GenerationParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p, n=n, seed=self.seed
        )
