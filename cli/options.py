"""Options and helpers shared by commands: the database session, backends by spec, progress and the summary line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from core.backends.base import Backend
from core.settings import BACKEND_CHOICES, BACKEND_NAMES

if TYPE_CHECKING:
    from core.refine import CritiqueFn
    from training.generation_jobs import JobReport

SPEC_HELP = (
    "BACKEND[:MODEL] or MODEL: e.g. 'embedded', 'transformers:/models/qwen', 'openai:Qwen2.5-72B-Instruct' "
    "(an OpenAI-compatible server at --base-url / CRITIC_BASE_URL), 'vllm:/models/qwen'. "
    "Default: CRITIC_BACKEND with CRITIC_MODEL."
)
Row = TypeVar("Row")
BACKEND_HELP = f"Generation backend: {BACKEND_CHOICES}. Default: CRITIC_BACKEND (auto)."
INPUT_HELP = "ProcessBench-shaped items: a JSON array, one JSON object, or JSONL ('problem', 'steps', 'label')."

BaseUrl = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL for openai:MODEL.")]
Critic = Annotated[str | None, typer.Option("--critic", "-c", help="Critic model. " + SPEC_HELP)]
CriticMode = Annotated[str, typer.Option("--critic-mode", help="Critic mode: single or deliberate.")]
MaxNewTokens = Annotated[int, typer.Option("--max-new-tokens", min=16, help="Budget of each model call.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]


def limit_option(help: str) -> Any:
    """`--limit N`: only the first N items (the help says which)."""
    return typer.Option(None, "--limit", min=1, help=help)


@contextmanager
def database_session() -> Iterator[Any]:
    """One transaction on the database, created or upgraded to the newest schema first."""
    from db.session import init_db, session_scope

    init_db()
    with session_scope() as session:
        yield session


def input_option(more_help: str = "") -> Any:
    """The required `--input FILE` of ProcessBench-shaped items; `more_help` says which fields the command needs."""
    return typer.Option(..., "--input", "-i", help=INPUT_HELP + more_help)


def echo_rows(rows: Sequence[Row], row_text: Callable[[Row], str], empty: str) -> None:
    """Print each row's text, or `empty` when there are no rows."""
    if not rows:
        typer.echo(empty)
    for row in rows:
        typer.echo(row_text(row))


def parse_backend_spec(spec: str | None) -> tuple[str, str]:
    """(backend name, model) from 'BACKEND[:MODEL]' or 'MODEL'; the missing parts come from Settings."""
    from core.settings import get_settings

    settings = get_settings()
    if not spec:
        return settings.backend, settings.model
    head, sep, tail = spec.partition(":")
    if head in BACKEND_NAMES:
        return head, (tail if sep and tail else settings.model)
    return settings.backend, spec


class _DeferredBackend(Backend):
    """Builds the real backend on first use, so a resumed job with nothing left to do loads no model."""

    def __init__(self, name: str, model: str, options: dict[str, Any]) -> None:
        super().__init__(model)
        self.name, self._options = name, options
        self._real: Backend | None = None

    def _backend(self) -> Backend:
        if self._real is None:
            from core.backends import create_backend

            self._real = create_backend(self.name, self.model_name, **self._options)
        return self._real

    def _generate(self, prompts: Any, params: Any, constraints: Any) -> Any:
        return self._backend().generate(prompts, params)  # no constraints: this wrapper does not take them

    def stream(self, prompt: Any, params: Any) -> Any:
        return self._backend().stream(prompt, params)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


class Backends:
    """Opens backends by spec once each, so a generator and a critic on the same model share its weights."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url
        self.opened: dict[tuple[str, str], _DeferredBackend] = {}

    def get(self, spec: str | None) -> Backend:
        from core.errors import ConfigError

        name, model = parse_backend_spec(spec)
        if (name, model) not in self.opened:
            options: dict[str, Any] = {}
            if self.base_url:
                if name != "openai":
                    raise ConfigError(f"--base-url is for the openai backend, not {name!r} ({spec!r})")
                options["base_url"] = self.base_url
            self.opened[(name, model)] = _DeferredBackend(name, model, options)
        return self.opened[(name, model)]

    def critic(self, spec: str | None, mode: str, samples: int, max_new_tokens: int) -> CritiqueFn:
        """The critic's batch method, on a backend shared with the generator when both name the same model."""
        from core.critic import Critic, CriticConfig
        from core.errors import ConfigError

        if mode not in ("single", "deliberate"):
            raise ConfigError(f"--critic-mode {mode!r}: choose single or deliberate")
        config = CriticConfig.build(mode=mode, samples=samples, max_new_tokens=max_new_tokens)
        return Critic(self.get(spec), config).critique_many

    def close(self) -> None:
        for backend in self.opened.values():
            backend.close()


@contextmanager
def open_backends(base_url: str | None, description: str) -> Iterator[tuple[Backends, Any]]:
    """Backends opened by spec (closed at the end) and a tqdm bar on stderr; the job sets the bar's total."""
    from tqdm import tqdm

    backends = Backends(base_url)
    try:
        with tqdm(desc=description, unit="item", file=sys.stderr, disable=None) as bar:
            yield backends, bar
    finally:
        backends.close()


def finish(report: JobReport, line: str) -> None:
    """Print per-item errors and the summary line; exit non-zero when any input item was rejected."""
    from core.errors import BadInputError

    for error in report.errors:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    typer.echo(line)
    if report.errors:
        typer.secho(f"{len(report.errors)} item(s) rejected; the others were processed", err=True, fg=typer.colors.RED)
        raise typer.Exit(BadInputError.exit_code)


def default_output(source: Path, suffix: str) -> Path:
    return source.with_name(f"{source.stem}.{suffix}.jsonl")


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def run_critic_job(
    job: Callable[..., JobReport],
    description: str,
    flags: Mapping[str, Any],
    config: Any,
    target: Path,
    *,
    with_critic: bool = True,
    **options: Any,
) -> JobReport:
    """Run a generator + critic job (refine, rank) with a progress bar; the backends are closed afterwards.

    `flags` are the command's option values: input, generator, critic, critic_mode, critic_samples,
    max_new_tokens, base_url, batch_size and limit.
    """
    with open_backends(flags["base_url"], description) as (backends, bar):
        critique = None
        if with_critic:
            critique = backends.critic(
                flags["critic"], flags["critic_mode"], flags["critic_samples"], flags["max_new_tokens"]
            )
        return job(
            flags["input"],
            target,
            backends.get(flags["generator"]),
            critique,
            config,
            batch_size=flags["batch_size"],
            limit=flags["limit"],
            progress=bar.update,
            **options,
        )
