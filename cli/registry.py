"""`critic model list|promote|rollback`: the model registry from the command line (admins)."""

from __future__ import annotations

import typer

from cli.main import model_app


@model_app.command("list")
def list_models() -> None:
    """List model versions: status (serving = active), gate score and reason, data hash, path."""
    from db.session import init_db, session_scope
    from training.registry import list_versions

    init_db()
    with session_scope() as session:
        versions = list_versions(session)
    if not versions:
        typer.echo("no model versions yet: the default model serves; train one with `critic train sft`")
        return
    for version in versions:
        gate = (version.metrics or {}).get("gate") or {}
        score = f"{gate.get('metric')}={gate['candidate']:.3f}" if gate.get("candidate") is not None else "-"
        typer.echo(
            f"{version.id:>4}  {version.status:<9} {score:<14} data {str(version.data_hash or '-')[:12]}  "
            f"{version.name}  {version.path}"
        )
        if version.notes:
            typer.echo(f"      {version.notes}")


@model_app.command("promote")
def promote(version_id: int = typer.Argument(..., help="Model version id (see `critic model list`).")) -> None:
    """Make a version the active (serving) model; the app switches without a restart."""
    from db.session import init_db, session_scope
    from training.registry import promote as promote_version

    init_db()
    with session_scope() as session:
        version = promote_version(session, version_id=version_id, reason="promoted from the CLI")
    typer.echo(f"model version {version.id} ({version.name}) is now active")


@model_app.command("rollback")
def rollback() -> None:
    """Reject the active version and reactivate the one that served before it."""
    from db.session import init_db, session_scope
    from training.registry import rollback as rollback_version

    init_db()
    with session_scope() as session:
        previous = rollback_version(session, reason="rolled back from the CLI")
    if previous is None:
        typer.echo("rolled back: no earlier version, the default model serves again")
    else:
        typer.echo(f"rolled back: model version {previous.id} ({previous.name}) is active again")
