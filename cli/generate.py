"""`critic generate seed-critiques|mc-labels`: training data from a teacher or generator model, resumable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.main import app
from core.backends.base import Backend
from core.settings import BACKEND_NAMES

if TYPE_CHECKING:
    from training.generation_jobs import JobReport

SPEC_HELP = (
    "BACKEND[:MODEL] or MODEL: e.g. 'embedded', 'transformers:/models/qwen', 'openai:Qwen2.5-72B-Instruct' "
    "(an OpenAI-compatible server at --base-url / CRITIC_BASE_URL), 'vllm:/models/qwen'. "
    "Default: CRITIC_BACKEND with CRITIC_MODEL."
)

generate_app = typer.Typer(
    help="Training data from models: DeepCritic seed critiques and Monte Carlo step labels.", no_args_is_help=True
)
app.add_typer(generate_app, name="generate")


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

    def close(self) -> None:
        for backend in self.opened.values():
            backend.close()


@contextmanager
def open_backends(base_url: str | None) -> Iterator[Backends]:
    backends = Backends(base_url)
    try:
        yield backends
    finally:
        backends.close()


@contextmanager
def progress_bar(description: str) -> Iterator[Any]:
    """A tqdm bar on stderr; its total is set by the job once it knows how many items remain."""
    from tqdm import tqdm

    with tqdm(desc=description, unit="item", file=sys.stderr, disable=None) as bar:
        yield bar


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


INPUT_HELP = "ProcessBench-shaped items: a JSON array, one JSON object, or JSONL ('problem', 'steps', 'label')."


@generate_app.command("seed-critiques", no_args_is_help=True)
def seed_critiques(
    input: Path = typer.Option(..., "--input", "-i", help=INPUT_HELP + " Every item needs a human 'label'."),
    teacher: str | None = typer.Option(None, "--teacher", "-t", help="Teacher model. " + SPEC_HELP),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="SFT JSONL to write (appended; a rerun skips done ids). Default INPUT.seed.jsonl"
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL for openai:MODEL."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=16, help="Budget of each teacher call."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Teacher temperature (0 = greedy)."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Items per batch of teacher calls."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N labelled items."),
    store: bool = typer.Option(False, "--store/--no-store", help="Also store kept critiques as CritiqueRuns."),
    database_url: str | None = typer.Option(None, "--database-url", help="Database for --store (default settings)."),
) -> None:
    """DeepCritic seed critiques: per step an initial critique, an in-depth critique and a merged one.

    Critiques whose judgements disagree with the human label are dropped (recorded in OUTPUT.dropped.jsonl);
    the kept ones are written as prompt/completion rows in the critic's output format, ready for SFT.
    """
    from core.seed_critiques import SeedConfig
    from training.generation_jobs import run_seed_critiques

    config = SeedConfig.build(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    target = output or default_output(input, "seed")
    with open_backends(base_url) as backends, progress_bar("seed critiques") as bar:
        backend = backends.get(teacher)
        report = run_seed_critiques(
            input,
            target,
            backend,
            config,
            batch_size=batch_size,
            limit=limit,
            store=_critique_run_store(backend.name, database_url) if store else None,
            progress=bar.update,
        )
    finish(
        report,
        f"kept {report.counts['kept']}, dropped {report.counts['dropped']} (written now {report.written}, "
        f"already done {report.skipped}) -> {target}",
    )


def _critique_run_store(backend_name: str, database_url: str | None) -> Any:
    from db.critique_runs import record_critique
    from db.session import init_db, session_scope

    init_db(database_url)

    def store(seeds: Any) -> None:
        from core.types import SolutionItem

        with session_scope(database_url) as session:
            for seed in seeds:
                item = SolutionItem(
                    id=seed.id, problem=seed.problem, steps=seed.steps, first_error_step=seed.first_error_step
                )
                record_critique(session, item=item, result=seed.to_critique_result(backend_name))

    return store


@generate_app.command("mc-labels", no_args_is_help=True)
def mc_labels(
    input: Path = typer.Option(
        ..., "--input", "-i", help=INPUT_HELP + " Needs a ground-truth 'answer' (or 'final_answer_correct': true)."
    ),
    generator: str | None = typer.Option(None, "--generator", "-g", help="Model completing prefixes. " + SPEC_HELP),
    rollouts: int = typer.Option(8, "--rollouts", "-n", min=1, help="Completions sampled from each step prefix."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL to write (appended; a rerun skips done ids). Default INPUT.mc-labels.jsonl"
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL for openai:MODEL."),
    temperature: float = typer.Option(0.7, "--temperature", help="Rollout sampling temperature (> 0)."),
    max_new_tokens: int = typer.Option(384, "--max-new-tokens", min=16, help="Budget of one rollout."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed, for reproducible labels."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Items whose rollouts go to the backend together."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N items with a known answer."),
) -> None:
    """Monte Carlo step labels: from each step prefix sample N completions and check their final answers.

    The first step after which no rollout reaches the right answer becomes the first-error label, written as
    ProcessBench 'label' with 'label_source': 'monte_carlo' and the per-step success rates; an input human
    label is kept apart as 'human_label'.
    """
    from core.mc_labels import MCLabelConfig
    from training.generation_jobs import run_mc_labels

    config = MCLabelConfig.build(rollouts=rollouts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    target = output or default_output(input, "mc-labels")
    with open_backends(base_url) as backends, progress_bar("mc labels") as bar:
        report = run_mc_labels(
            input, target, backends.get(generator), config, batch_size=batch_size, limit=limit, progress=bar.update
        )
    agreement = report.summary.get("agreement_with_human_labels")
    extra = "" if agreement is None else f", agreement with human labels {agreement:.2f}"
    finish(
        report,
        f"labelled {report.counts['labelled']} ({report.counts['with_error']} with an error{extra}; written now "
        f"{report.written}, already done {report.skipped}) -> {target}",
    )
