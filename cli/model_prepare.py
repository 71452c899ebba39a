"""`critic model prepare`: convert or locate a critic model ahead of time (used by the Docker build)."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("prepare")
def prepare(
    model: str = typer.Option("embedded", "--model", "-m", help="embedded, a local checkpoint or .gguf, or a hub id."),
) -> None:
    """Convert the model once (GGUF -> safetensors) and print where it lives, so later starts load in seconds."""
    from core.models import resolve_model

    typer.echo(str(resolve_model(model)))
