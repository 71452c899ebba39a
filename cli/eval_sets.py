"""`critic eval-set add|list|score`: register evaluation sets (never trained on) and score models on them."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.options import database_session, echo_rows

app = typer.Typer(
    help="Evaluation sets: fixed labelled items every model version is scored on; their problems are left out of "
    "every training snapshot.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A name for the set (unique)."),
    benchmark: str | None = typer.Option(
        None,
        "--from",
        help="ProcessBench-format FILE, processbench:gsm8k,math, prm800k:FILE (a PRM800K slice with --limit) ...",
    ),
    campaign: str | None = typer.Option(None, help="Use the gold items of this campaign instead."),
    limit: int | None = typer.Option(None, min=1, help="Keep N items (per subset), spread evenly over the source."),
    description: str = typer.Option("", help="What the set is for."),
    kind: str = typer.Option(
        "critic",
        "--kind",
        help="critic: labelled solutions the critic is gated on; actor: problems with answers the actor is gated on "
        "(`critic generate problems`).",
    ),
) -> None:
    """Register an evaluation set; later training jobs drop every solution of its problems and gate on it."""
    from db.eval_sets import register_eval_set

    with database_session() as session:
        eval_set = register_eval_set(
            session,
            name=name,
            benchmark=benchmark,
            campaign=campaign,
            limit=limit,
            description=description,
            kind=kind,
        )
        typer.echo(
            f"registered evaluation set {eval_set.id} {eval_set.name!r}: {eval_set.n_items} items, "
            f"{len(eval_set.problem_keys)} problems, from {eval_set.source}"
        )


@app.command("list")
def list_sets() -> None:
    """List the registered evaluation sets."""
    from db.eval_sets import list_eval_sets

    with database_session() as session:
        echo_rows(
            list_eval_sets(session, None),
            lambda s: (
                f"{s.id:>4}  {s.name:<24} {s.kind:<7} {s.n_items:>6} items  {len(s.problem_keys):>6} problems  "
                f"{s.source}"
            ),
            "no evaluation sets yet: register one with `critic eval-set add NAME --from FILE`",
        )


@app.command("score")
def score(
    name: str = typer.Argument(..., help="Evaluation set name."),
    version_id: int | None = typer.Option(None, "--version", help="Model version id (see `critic model list`)."),
    model: str | None = typer.Option(None, help="A model path or 'embedded' instead of a version (default model)."),
    max_new_tokens: int = typer.Option(1024, min=1, help="Generation budget per critique (the gate's default)."),
    output: Path | None = typer.Option(None, help="Results directory (default under CRITIC_HOME/eval-sets)."),
    backend: str = typer.Option(
        "transformers", help="Engine: 'transformers' (the gate's default) or 'auto' (a vLLM server when installed)."
    ),
) -> None:
    """Score a model version (or a model) on a set: the result fills the registry's versions x sets table."""
    from core.models import resolve_model
    from core.settings import get_settings
    from training.evaluation import report_from_records
    from training.gate import evaluate_on_set, registered_set
    from training.registry import get_version

    with database_session() as session:
        gate_set = registered_set(session, name=name)
        if version_id is not None:
            path, label = get_version(session, version_id=version_id).path, f"v{version_id}"
        else:
            path = str(resolve_model(model or get_settings().model))
            label = Path(path).name
    out = output or get_settings().home / "eval-sets" / name / f"{label}-t{max_new_tokens}"
    records = evaluate_on_set(
        path, gate_set, output=out, max_new_tokens=max_new_tokens, model_version_id=version_id, backend=backend
    )
    scores = report_from_records(list(records.values())).subsets[gate_set.name]
    f1 = "-" if scores.f1 is None else f"{scores.f1:.3f}"
    typer.echo(f"{name}: {len(records)} items, F1 {f1}, unparsed {scores.unparseable}; results in {out}")
