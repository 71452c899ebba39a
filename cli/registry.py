"""`critic model list|promote|rollback|history`: the model registry from the command line (admins)."""

from __future__ import annotations

import getpass
from typing import Any

import typer

from cli.options import database_session, echo_rows

app = typer.Typer()


@app.command("list")
def list_models() -> None:
    """List model versions: status (serving = active), gate score and reason, data hash, path."""
    from db.session import session_scope
    from training.registry import list_versions

    with database_session() as session:
        versions = list_versions(session)
    if not versions:
        typer.echo("no model versions yet: the default model serves; train one with `critic train sft`")
    for version in versions:
        gate = (version.metrics or {}).get("gate") or {}
        score = f"{gate.get('metric')}={gate['candidate']:.3f}" if gate.get("candidate") is not None else "-"
        typer.echo(
            f"{version.id:>4}  {version.kind:<6} {version.status:<9} {score:<14} "
            f"data {str(version.data_hash or '-')[:12]}  "
            f"{version.name}  {version.path}"
        )
        if version.notes:
            typer.echo(f"      {version.notes}")
    with session_scope() as session:
        from db.eval_sets import versions_by_sets

        set_names, rows = versions_by_sets(session)
    if set_names:
        typer.echo("\nscores on the registered evaluation sets (F1 / error acc / correct acc / step AUROC):")
        typer.echo(format_versions_by_sets(set_names, rows))


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def format_versions_by_sets(set_names: list[str], rows: list[dict[str, Any]]) -> str:
    """One line per version, one column per set: F1/err/corr/AUROC in percent ('-' where unknown or not scored)."""
    cells = [["version", "status", *set_names]]
    for row in rows:
        scores = [row["scores"].get(name) for name in set_names]
        cells.append(
            [
                row["name"],
                row["status"],
                *(
                    "/".join(_pct(s[k]) for k in ("f1", "error_acc", "correct_acc", "step_auroc")) if s else "-"
                    for s in scores
                ),
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


@app.command("promote")
def promote(
    version_id: int = typer.Argument(..., help="Model version id (see `critic model list`)."),
    reason: str = typer.Option("promoted from the CLI", help="Why (kept in the audit trail)."),
) -> None:
    """Make a version the active (serving) model by hand, gate or not; the audit trail records who and why."""
    from training.registry import promote as promote_version

    with database_session() as session:
        version = promote_version(session, version_id=version_id, reason=reason, actor=f"cli:{getpass.getuser()}")
    typer.echo(f"model version {version.id} ({version.name}) is now active")


@app.command("rollback")
def rollback(
    kind: str = typer.Option("critic", "--kind", help="Which serving model: critic or actor."),
) -> None:
    """Reject the active version (of the critic, or the actor) and reactivate the one that served before it."""
    from core.errors import ConfigError
    from training.registry import MODEL_KINDS
    from training.registry import rollback as rollback_version

    if kind not in MODEL_KINDS:
        raise ConfigError(f"--kind {kind!r}: choose {' or '.join(MODEL_KINDS)}")
    with database_session() as session:
        previous = rollback_version(
            session, reason="rolled back from the CLI", actor=f"cli:{getpass.getuser()}", kind=kind
        )
    if previous is None:
        typer.echo("rolled back: no earlier version, the default model serves again")
    else:
        typer.echo(f"rolled back: model version {previous.id} ({previous.name}) is active again")


@app.command("history")
def history(version_id: int | None = typer.Option(None, "--version", help="Only this version's events.")) -> None:
    """The registry's audit trail: promotions (by hand or by the gate), gate decisions, rollbacks; newest first."""
    from training.registry import model_events

    with database_session() as session:
        events = model_events(session, version_id=version_id)
    echo_rows(events, _event_lines, "no registry events yet")


def _event_lines(e: Any) -> str:
    before = f" (serving before: {e.previous_serving_id})" if e.previous_serving_id else ""
    when = f"{e.created_at:%Y-%m-%d %H:%M:%S}"
    return f"{when}  v{e.model_version_id}  {e.action:<12} by {e.actor}{before}\n      {e.reason}"
