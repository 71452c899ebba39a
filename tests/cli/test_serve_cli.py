"""`critic serve` and `critic user`: options, first admin account, user creation, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["critic", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_serve_help_lists_every_option(monkeypatch, capsys) -> None:
    code, out = run_cli(monkeypatch, capsys, "serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--model", "--backend", "--database-url", "--no-worker"):
        assert option in out


def test_user_add_creates_a_login_and_refuses_duplicates_and_bad_roles(monkeypatch, capsys, critic_home) -> None:
    from webapp.auth import check_login

    code, out = run_cli(monkeypatch, capsys, "user", "add", "rita", "--role", "reviewer", "--password", "s3cret")
    assert code == 0 and "rita" in out and "reviewer" in out
    assert check_login(None, "rita", "s3cret").role == "reviewer"
    code, out = run_cli(monkeypatch, capsys, "user", "add", "rita", "--role", "reviewer", "--password", "x")
    assert code == 4 and "already exists" in out
    code, out = run_cli(monkeypatch, capsys, "user", "add", "sam", "--role", "wizard", "--password", "x")
    assert code == 2 and "wizard" in out
    code, out = run_cli(monkeypatch, capsys, "user", "list")
    assert code == 0 and "rita\treviewer" in out


def test_serve_rejects_an_unknown_backend(monkeypatch, capsys) -> None:
    code, out = run_cli(monkeypatch, capsys, "serve", "--backend", "magic", "--no-worker")
    assert code == 2 and "magic" in out


@pytest.mark.slow
def test_serve_starts_a_worker_never_prints_a_chosen_admin_password_and_accepts_logins(critic_home: Path) -> None:
    from gradio_client import Client

    from core.vllm_server import free_port

    port = free_port()
    env = {**os.environ, "CRITIC_ADMIN_PASSWORD": "first-admin-pw"}
    critic = Path(sys.executable).with_name("critic")
    proc = subprocess.Popen(
        [str(critic), "serve", "--port", str(port), "--no-warm-up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            if "Critic Studio on" in line:
                break
        assert any("password from CRITIC_ADMIN_PASSWORD" in line for line in lines), lines
        assert any("Training worker started" in line for line in lines), lines
        deadline = time.monotonic() + 60
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", auth=("admin", "first-admin-pw"), verbose=False)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert "/critique" in client.view_api(return_format="dict")["named_endpoints"]
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
        lines.append(rest or "")
    assert not any("first-admin-pw" in line for line in lines), lines
