"""The `critic` entry point: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from core.errors import CriticError

app = typer.Typer(
    name="critic",
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


# Command groups shared by several modules are created here so each module can add to them.
model_app = typer.Typer(help="Critic models: serve with vLLM, list, promote, roll back.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _register_commands() -> None:
    # Each module adds its commands to `app`; heavy libraries are imported inside the commands.
    from cli import critique as _critique  # noqa: F401
    from cli import data as _data  # noqa: F401
    from cli import db_cmd as _db_cmd  # noqa: F401
    from cli import eval as _eval  # noqa: F401
    from cli import eval_sets as _eval_sets  # noqa: F401
    from cli import generate as _generate  # noqa: F401
    from cli import model_prepare as _model_prepare  # noqa: F401
    from cli import model_serve as _model_serve  # noqa: F401
    from cli import rank as _rank  # noqa: F401
    from cli import refine as _refine  # noqa: F401
    from cli import registry as _registry  # noqa: F401
    from cli import serve as _serve  # noqa: F401
    from cli import train as _train  # noqa: F401
    from cli import user as _user  # noqa: F401
    from cli import worker as _worker  # noqa: F401


def main() -> None:
    """Run the CLI, turning project errors into a one-line message and an exit code."""
    _register_commands()
    try:
        # Standalone mode: click itself prints usage errors and exits with their codes (and typer.Exit's).
        app()
    except CriticError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    # Run through the imported module so commands register on the same `app` (not on a copy in __main__).
    from cli.main import main as _main

    _main()
