"""`critic serve` and `critic user`: options, first admin account, user creation, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.runner import critic


def test_serve_help_lists_every_option() -> None:
    result = critic("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--model", "--backend", "--database-url", "--no-worker"):
        assert option in result.output


def test_user_add_creates_a_login_and_refuses_duplicates_and_bad_roles(critic_home) -> None:
    from webapp.auth import check_login

    result = critic("user", "add", "rita", "--role", "reviewer", "--password", "s3cret")
    assert result.exit_code == 0 and "rita" in result.output and "reviewer" in result.output
    assert check_login(None, "rita", "s3cret").role == "reviewer"
    result = critic("user", "add", "rita", "--role", "reviewer", "--password", "x")
    assert result.exit_code == 4 and "already exists" in result.output
    result = critic("user", "add", "sam", "--role", "wizard", "--password", "x")
    assert result.exit_code == 2 and "wizard" in result.output
    result = critic("user", "list")
    assert result.exit_code == 0 and "rita\treviewer" in result.output


def test_serve_rejects_an_unknown_backend() -> None:
    result = critic("serve", "--backend", "magic", "--no-worker")
    assert result.exit_code == 2 and "magic" in result.output


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
