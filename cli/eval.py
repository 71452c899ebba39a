"""`critic eval`: evaluate a critic on a benchmark (resumable), `critic eval compare A B`, `critic eval runs`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from cli.options import BACKEND_HELP, database_session, echo_rows

app = typer.Typer(
    help="Evaluate critics on ProcessBench-style benchmarks (error accuracy, correct accuracy, F1) and compare runs. "
    "Without a subcommand, runs an evaluation.",
    invoke_without_command=True,
)


def _default_output(
    benchmark: str, critic: str, combine: str, model: str | None, samples: int, all_steps: bool = False
) -> Path:
    from core.settings import get_settings

    parts = [benchmark, critic]
    if critic == "combined":
        parts.append(combine)
    if critic != "symbolic":
        parts += [model or get_settings().model, f"k{samples}"]
        if all_steps:
            parts.append("all-steps")
    slug = re.sub(r"[^A-Za-z0-9.,_-]+", "_", "-".join(parts)).strip("_")[:150]
    return get_settings().home / "evals" / slug


@app.callback()
def evaluate(
    ctx: typer.Context,
    benchmark: str = typer.Option(
        "processbench",
        "--benchmark",
        "-B",
        help="processbench | processbench:gsm8k,math | mr-gsm8k[:FILE] | prm800k:FILE | FILE (ProcessBench schema) | "
        "code[:FILE] (code items with tests and a correct/incorrect label; default: the project's tasks).",
    ),
    critic: str = typer.Option(
        "combined",
        "--critic",
        "-c",
        help="combined (the model, with steps the sympy checker proves wrong judged wrong), llm (the model alone) "
        "or symbolic (the checker alone, no model).",
    ),
    combine: str = typer.Option(
        "override",
        "--combine",
        help="For --critic combined: override (the checker's proven errors win when earlier), prompt (its findings "
        "go into the model's prompt) or both.",
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Critic model. Default: CRITIC_MODEL."),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (--backend openai)."),
    mode: str = typer.Option("single", "--mode", help="single or deliberate (three calls per step)."),
    samples: int = typer.Option(1, "--samples", "-k", min=1, help="Samples per item; K > 1 reports Maj@K."),
    temperature: float | None = typer.Option(None, "--temperature", help="Default: 0 for K=1, 0.7 for K>1."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", min=1, help="Generation budget per sample."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed."),
    all_steps: bool = typer.Option(
        False,
        "--all-steps",
        help="The critic judges every step (it does not stop at the first -1), so step AUROC of the model and of "
        "the combined critic is measured on all labelled steps of the same items.",
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="N items per subset, spread evenly."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Items per backend call (saved after each)."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Directory for predictions.jsonl + summary.json. Rerunning with the same directory resumes. "
        "Default: CRITIC_HOME/evals/<benchmark>-<critic>-<model>-k<K>.",
    ),
    no_db: bool = typer.Option(False, "--no-db", help="Do not record the run in the database."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    revise_rounds: int = typer.Option(
        0,
        "--revise-rounds",
        min=0,
        max=10,
        help="--benchmark code: also revise the wrong solutions with the critique up to N rounds and report pass@1 "
        "before and after each, beside the self-revision baseline.",
    ),
) -> None:
    """Evaluate a critic and print per-subset error accuracy, correct accuracy and F1, then F1 with lenient and
    strict parsing (the format's own rules: an off-format critique counts as wrong) side by side."""
    if ctx.invoked_subcommand is not None:
        return
    if benchmark == "code" or benchmark.startswith("code:"):
        _evaluate_code(ctx.params, output or _default_output(benchmark, "code", combine, model, 1))
        return
    from training.evaluation import EvalConfig, format_outcome, run_eval

    # The options are named after EvalConfig's fields; the others say how to run, not what to evaluate.
    fields = {k: v for k, v in ctx.params.items() if k not in ("output", "no_db", "quiet", "revise_rounds")}
    config = EvalConfig.build(
        **fields,
        output=output or _default_output(benchmark, critic, combine, model, samples, all_steps),
        record=not no_db,
    )
    outcome = run_eval(config, show_progress=not quiet)
    typer.echo(format_outcome(outcome, config))


def _evaluate_code(params: dict[str, Any], output: Path) -> None:
    """`critic eval --benchmark code[:FILE]`: execution-grounded critiques of code items, scored against labels."""
    from core.critic import Critic
    from training.code_evaluation import CodeEvalConfig, format_code_outcome, run_code_eval

    config = CodeEvalConfig.build(
        **{k: params[k] for k in ("benchmark", "model", "backend", "base_url", "max_new_tokens", "limit")},
        revise_rounds=params["revise_rounds"],
        output=output,
    )
    items = config.items()  # bad items are refused before a model loads
    critic = Critic.create(model=config.model, backend=config.backend, **_server(config.base_url))
    try:
        outcome = run_code_eval(config, critic.backend, items)
    finally:
        critic.close()
    typer.echo(format_code_outcome(outcome, config, critic.model_name))


def _server(base_url: str | None) -> dict[str, Any]:
    return {"base_url": base_url} if base_url else {}


@app.command()
def compare(
    dir_a: Path = typer.Argument(..., help="Output directory of the first (baseline) run."),
    dir_b: Path = typer.Argument(..., help="Output directory of the second run."),
    max_items: int = typer.Option(40, "--max-items", min=0, help="Changed items to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Show the difference between two eval runs per subset, and which items changed (fixed / broken)."""
    from training.evaluation import compare_runs, format_comparison

    comparison = compare_runs(dir_a, dir_b)
    if as_json:
        payload = {
            "a": comparison.report_a.to_dict(),
            "b": comparison.report_b.to_dict(),
            "changed": comparison.changed,
            "only_a": comparison.only_a,
            "only_b": comparison.only_b,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(f"A: {dir_a}\nB: {dir_b}\n")
    typer.echo(format_comparison(comparison, max_items=max_items))


@app.command("runs")
def list_runs(
    dataset: str | None = typer.Option(None, "--benchmark", "-B", help="Only runs on this benchmark spec."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Newest N runs."),
) -> None:
    """List recorded evaluation runs (newest first) with their average F1."""
    from db.evals import list_eval_runs

    with database_session() as session:
        echo_rows(list_eval_runs(session, dataset=dataset, limit=limit), _run_line, "no evaluation runs recorded")


def _run_line(run: Any) -> str:
    from db.evals import eval_run_f1

    f1 = eval_run_f1(run)
    critic = (run.config or {}).get("critic", "?")
    return (
        f"#{run.id}  {run.status:<8} {run.dataset:<24} {critic:<9} {run.model:<30} "
        f"F1 {'-' if f1 is None else f'{100 * f1:.1f}'}  n={run.n_items}  {run.predictions_path}"
    )
