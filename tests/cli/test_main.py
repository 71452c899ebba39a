"""The `critic` entry point turns outcomes into exit codes a shell script can rely on."""

from __future__ import annotations

import os
import subprocess
import sys


def _critic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=120)


def test_version_exits_zero() -> None:
    done = _critic("--version")
    assert done.returncode == 0 and done.stdout.startswith("critic-studio")


def test_a_command_that_exits_with_a_code_keeps_it(tmp_path) -> None:
    # `critic db check` on a database that is behind the models exits 1 through typer.Exit(1).
    done = _critic("db", "check", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert done.returncode != 0, done.stdout + done.stderr


def test_bad_input_is_one_line_on_stderr_with_its_exit_code(tmp_path) -> None:
    done = _critic("critique", "--input", str(tmp_path / "missing.json"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_usage_errors_are_a_message_not_a_traceback() -> None:
    done = _critic("critique", "--bogus")
    assert done.returncode == 2
    assert "No such option" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_setting_in_the_environment_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("CRITIC_BACKEND", "bogus")
    done = _critic("critique", "--problem", "1+1?", "--solution-file", "/dev/null")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "CRITIC_BACKEND='bogus'" in done.stderr and "'auto', 'transformers'" in done.stderr


def test_user_add_help_names_every_role() -> None:
    from db.models import ROLES

    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "user", "add", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0 and all(role in done.stdout for role in ROLES), done.stdout
