"""Code in the sandbox cannot reach the network, this machine's files or environment, nor outlive or swamp its run."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.sandbox import SandboxLimits, check_sandbox, run_program
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def _bubblewrap_here() -> None:
    # These tests are about isolation: they must run under bubblewrap, never silently without it.
    assert check_sandbox() == "bwrap"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_no_network_even_to_a_listener_on_this_machine() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3)
    print("CONNECTED")
except OSError as exc:
    print("refused:", exc)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("RESOLVED")
except OSError as exc:
    print("no dns:", exc)
"""
    run = run_program(code)
    server.close()
    thread.join(timeout=6)
    assert "refused:" in run.stdout and "no dns:" in run.stdout, run
    assert "CONNECTED" not in run.stdout and "RESOLVED" not in run.stdout
    assert accepted == []


def test_host_files_are_neither_readable_nor_writable(tmp_path: Path, critic_home: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    critic_home.mkdir(parents=True, exist_ok=True)
    (critic_home / "critic.db").write_text("database")
    target = tmp_path / "written-by-sandbox.txt"
    readable = [str(secret), str(critic_home / "critic.db"), str(REPO_ROOT / "pyproject.toml"), "/etc/passwd"]
    code = f"""
import os
for path in {readable!r}:
    try:
        print("READ", path, open(path).read()[:20])
    except OSError as exc:
        print("cannot read", path, type(exc).__name__)
for path in [{str(target)!r}, "/usr/pwned", {str(REPO_ROOT / "pwned")!r}]:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("pwned")
        print("wrote inside the sandbox only:", path)
    except OSError as exc:
        print("cannot write", path, type(exc).__name__)
print("home", os.path.expanduser("~"), os.listdir("/"))
"""
    run = run_program(code)
    assert "READ" not in run.stdout, run.stdout
    assert run.stdout.count("cannot read") == len(readable)
    assert "cannot write /usr/pwned" in run.stdout
    assert not target.exists() and not (REPO_ROOT / "pwned").exists()
    assert not any(name in run.stdout for name in ("'root'", "'home'", "'work'", "'etc'"))


def test_the_parents_environment_is_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_API_KEY", "sk-should-never-leak")
    run = run_program("import os\nprint(sorted(os.environ.items()))")
    assert "sk-should-never-leak" not in run.stdout
    assert "CRITIC_" not in run.stdout and "HOME', '/tmp'" in run.stdout


def test_a_busy_loop_is_killed_at_the_timeout() -> None:
    run = run_program("while True:\n    pass", SandboxLimits(timeout_s=1.5))
    assert run.timed_out and run.exit_code is None
    assert "timeout" in (run.stopped or "")
    assert run.duration_s < 5


def test_a_multi_gigabyte_allocation_fails_inside_the_sandbox() -> None:
    code = "try:\n    block = bytearray(8 * 1024**3)\n    print('ALLOCATED')\nexcept MemoryError:\n    print('refused')"
    run = run_program(code, SandboxLimits(memory_mb=512))
    assert run.stdout.strip() == "refused" and run.exit_code == 0


def test_a_fork_storm_hits_the_process_limit_and_nothing_survives() -> None:
    marker = f"storm-{uuid.uuid4().hex}"
    code = textwrap.dedent(f"""
        import os, sys, time
        children = 0
        try:
            for _ in range(10_000):
                if os.fork() == 0:
                    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
                children += 1
        except OSError as exc:
            print("refused after", children, type(exc).__name__, flush=True)
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """)
    run = run_program(code, SandboxLimits(timeout_s=3, processes=16))
    assert run.timed_out
    refused = run.stdout.split()
    assert refused[:2] == ["refused", "after"] and int(refused[2]) < 16, run.stdout
    time.sleep(0.5)
    assert _processes_with(marker) == []


def test_a_daemonised_child_does_not_outlive_the_run() -> None:
    marker = f"daemon-{uuid.uuid4().hex}"
    code = textwrap.dedent(f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
            os._exit(0)
        print("parent done", flush=True)
        """)
    started = time.monotonic()
    run = run_program(code)
    assert run.stdout.strip() == "parent done" and not run.timed_out
    assert time.monotonic() - started < 8
    time.sleep(0.5)
    assert _processes_with(marker) == []


def test_output_is_bounded() -> None:
    run = run_program("import sys\nfor _ in range(100_000):\n    print('x' * 99)", SandboxLimits(output_kb=4))
    assert run.stdout_truncated and len(run.stdout) == 4096 and run.exit_code == 0
