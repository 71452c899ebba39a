"""`critic generate seed-critiques|ctrl-critiques|mc-labels`: training data from a teacher or generator, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.options import (
    SPEC_HELP,
    BaseUrl,
    Seed,
    default_output,
    finish,
    input_option,
    limit_option,
    open_backends,
)

app = typer.Typer(
    help="Training data from models: DeepCritic seed critiques, CTRL critiques of code grounded in execution, and "
    "Monte Carlo step labels.",
    no_args_is_help=True,
)


@app.command("seed-critiques", no_args_is_help=True)
def seed_critiques(
    input: Path = input_option(" Every item needs a human 'label'."),
    teacher: str | None = typer.Option(None, "--teacher", "-t", help="Teacher model. " + SPEC_HELP),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="SFT JSONL to write (appended; a rerun skips done ids). Default INPUT.seed.jsonl"
    ),
    base_url: BaseUrl = None,
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=16, help="Budget of each teacher call."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Teacher temperature (0 = greedy)."),
    seed: Seed = None,
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Items per batch of teacher calls."),
    limit: int | None = limit_option("Only the first N labelled items."),
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
    with open_backends(base_url, "seed critiques") as (backends, bar):
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


@app.command("ctrl-critiques", no_args_is_help=True)
def ctrl_critiques(
    input: Path = typer.Option(
        ..., "--input", "-i", help="JSONL/JSON of code items: problem, code, tests (test_list or test + entry_point)."
    ),
    teacher: str | None = typer.Option(None, "--teacher", "-t", help="Teacher model. " + SPEC_HELP),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="SFT JSONL to write (appended; a rerun skips done ids). Default INPUT.ctrl.jsonl"
    ),
    base_url: BaseUrl = None,
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=16, help="Budget of each critique."),
    profile: str = typer.Option(
        "structure", "--profile", help="Grammar profile: structure (paragraphs, strong teachers) or tight."
    ),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Teacher temperature (0 = greedy)."),
    seed: Seed = None,
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Items per batch of teacher calls."),
    limit: int | None = limit_option("Only the first N code items."),
) -> None:
    """CTRL's critique synthesis: each solution's tests run in the sandbox, the teacher critiques it with the execution
    feedback, and a critique is kept for SFT when its verdict matches the tests (OUTPUT.dropped.jsonl has the rest)."""
    from core.code.critique import CodeCritiqueConfig
    from training.generation_jobs import run_ctrl_critiques

    config = CodeCritiqueConfig.build(
        max_new_tokens=max_new_tokens, profile=profile, temperature=temperature, seed=seed
    )
    target = output or default_output(input, "ctrl")
    with open_backends(base_url, "ctrl critiques") as (backends, bar):
        report = run_ctrl_critiques(
            input, target, backends.get(teacher), config, batch_size=batch_size, limit=limit, progress=bar.update
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


@app.command("mc-labels", no_args_is_help=True)
def mc_labels(
    input: Path = input_option(" Needs a ground-truth 'answer' (or 'final_answer_correct': true)."),
    generator: str | None = typer.Option(None, "--generator", "-g", help="Model completing prefixes. " + SPEC_HELP),
    rollouts: int = typer.Option(8, "--rollouts", "-n", min=1, help="Completions sampled from each step prefix."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL to write (appended; a rerun skips done ids). Default INPUT.mc-labels.jsonl"
    ),
    base_url: BaseUrl = None,
    temperature: float = typer.Option(0.7, "--temperature", help="Rollout sampling temperature (> 0)."),
    max_new_tokens: int = typer.Option(384, "--max-new-tokens", min=16, help="Budget of one rollout."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed, for reproducible labels."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Items whose rollouts go to the backend together."),
    limit: int | None = limit_option("Only the first N items with a known answer."),
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
    with open_backends(base_url, "mc labels") as (backends, bar):
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
