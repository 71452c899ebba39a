"""Run `critic ARGS` in-process as a user would: the exit code, stdout and stderr (`.output` has both)."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from cli.main import app


def critic(*args: str, stdin: str | None = None) -> Result:
    """`critic ARGS` with `stdin` as standard input; project errors come back as their exit code and message."""
    return CliRunner().invoke(app, list(args), input=stdin)
