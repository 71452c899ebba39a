"""`critic sandbox run`: run a Python file (and its tests) under bubblewrap and print the outcome as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from core.errors import BadInputError

app = typer.Typer(help="Run untrusted code under bubblewrap, as critiques of code items do.", no_args_is_help=True)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInputError(f"{what} file {path} does not exist") from exc
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{what} file {path} is not a UTF-8 text file") from exc


@app.command("run", no_args_is_help=True)
def run_command(
    code: Path = typer.Option(..., "--code", "-c", help="Python file to run."),
    tests: Path | None = typer.Option(
        None,
        "--tests",
        "-t",
        help="Tests: a Python file of assert lines (other statements are setup), a HumanEval file defining "
        "check(candidate) (with --entry-point), or a JSON object with test_list/test_setup_code or test/entry_point.",
    ),
    entry_point: str | None = typer.Option(None, "--entry-point", help="HumanEval: the function check() tests."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, max=600, help="Wall-clock seconds for the whole run."),
    memory_mb: int = typer.Option(1024, "--memory-mb", min=64, help="Address space per process, in MiB."),
) -> None:
    """Run CODE in the sandbox: without --tests as a program, with --tests against each test.

    Prints one JSON object: passed, failed, errors, total and each test's outcome (with --tests), timed_out,
    duration_s, exit_code, stdout and stderr (truncated, with *_truncated flags), stopped (why the run was
    stopped, if it was), isolation (bwrap, or none under CRITIC_SANDBOX=unsafe-local). Exits 0 when the program
    exited 0 / every test passed, 1 otherwise.
    """
    from core.sandbox import SandboxLimits, TestSpec, run_program, run_tests

    limits = SandboxLimits.build(timeout_s=timeout, memory_mb=memory_mb)
    source = _read(code, "code")
    if tests is None:
        result = run_program(source, limits)
        ok = result.exit_code == 0
    else:
        text = _read(tests, "tests")
        if tests.suffix == ".json":
            try:
                spec = TestSpec.build(**{"entry_point": entry_point, **json.loads(text)})
            except (ValueError, TypeError) as exc:
                raise BadInputError(f"tests file {tests} is not a JSON object of tests: {exc}") from exc
        else:
            spec = TestSpec.from_python(text, entry_point)
        result = run_tests(source, spec, limits)
        ok = result.all_passed
    typer.echo(result.model_dump_json())
    if not ok:
        raise typer.Exit(1)
