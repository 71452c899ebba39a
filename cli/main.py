"""The `critic` entry point: one Typer app composed of the command modules' apps; project errors become exit codes."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from cli import (
    critique,
    data,
    db_cmd,
    eval,
    eval_sets,
    generate,
    model_prepare,
    model_serve,
    problems,
    rank,
    refine,
    registry,
    sandbox,
    serve,
    solve,
    train,
    user,
    webhook,
    worker,
)
from core.errors import CriticError


class CriticGroup(TyperGroup):
    """The root command: a project error from any command is printed as one line and exits with its code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CriticError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(exc.exit_code) from exc


app = typer.Typer(
    name="critic",
    cls=CriticGroup,
    help="Critic Studio: step-level critique of math solutions, annotation, evaluation and retraining.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"critic-studio {version('critic-studio')}")
        except PackageNotFoundError:
            typer.echo("critic-studio (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Critic Studio: step-level critique of math solutions, annotation, evaluation and retraining."""


model_app = typer.Typer(help="Critic models: serve with vLLM, list, promote, roll back.", no_args_is_help=True)
for commands in (model_prepare.app, model_serve.app, registry.app):
    model_app.add_typer(commands)
eval.app.add_typer(refine.eval_app)
generate.app.add_typer(problems.app)

for commands in (critique.app, data.app, refine.app, rank.app, serve.app, solve.app, worker.app):
    app.add_typer(commands)
app.add_typer(model_app, name="model")
app.add_typer(db_cmd.app, name="db")
app.add_typer(eval.app, name="eval")
app.add_typer(eval_sets.app, name="eval-set")
app.add_typer(generate.app, name="generate")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(train.app, name="train")
app.add_typer(user.app, name="user")
app.add_typer(webhook.app, name="webhook")


def main() -> None:
    """Run the `critic` command."""
    app()


if __name__ == "__main__":
    main()
