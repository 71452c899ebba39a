"""The training worker: claims queued jobs, runs each in a subprocess, heartbeats, cancels, recovers dead jobs."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import get_settings

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    """How a worker polls, beats and stops."""

    poll_interval_s: float = 2.0
    """Seconds before the first look again at an empty queue."""
    max_poll_interval_s: float = 30.0
    """While the queue stays empty the wait doubles up to this; a job queued in this process wakes it at once."""
    heartbeat_timeout_s: float | None = None
    """A running job silent this long is requeued/failed (default: CRITIC_HEARTBEAT_TIMEOUT_S)."""
    cancel_check_s: float = 0.5
    """Seconds between checks of a running job's cancel flag."""
    kill_grace_s: float = 3.0
    """After SIGTERM, seconds before SIGKILL when stopping a job."""
    max_jobs: int | None = None
    """Stop after this many jobs (None = run until stopped)."""
    exit_when_idle: bool = False
    """Return as soon as the queue is empty (tests, `critic worker --once`)."""
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    database_url: str | None = None
    """Database of the queue (default: the configured one); job processes get it as CRITIC_DATABASE_URL."""

    @property
    def timeout_s(self) -> float:
        return self.heartbeat_timeout_s or get_settings().heartbeat_timeout_s

    @property
    def heartbeat_interval_s(self) -> float:
        return max(min(self.timeout_s / 4, 10.0), 0.2)


def job_command(job_id: int, *, worker_id: str, attempt: int, accelerate_config: str | None) -> list[str]:
    """The command that runs one job: plain Python, or `accelerate launch --config_file F` for multi-GPU."""
    tail = ["training.job", str(job_id), "--worker-id", worker_id, "--attempt", str(attempt), "--watch-stdin"]
    if accelerate_config:
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", accelerate_config, "--module"]
        return [*launch, *tail]
    return [sys.executable, "-m", *tail]


def _stop_process_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    # The job runs in its own process group, so accelerate's per-GPU children are stopped with it.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    failed = [line for line in text if line.startswith("JOB FAILED:")]
    if failed:
        return failed[-1].removeprefix("JOB FAILED:").strip()
    return "\n".join(text[-lines:])


class Worker:
    """Processes training jobs one at a time until stopped."""

    def __init__(self, options: WorkerOptions | None = None) -> None:
        from db.session import get_sessionmaker, init_db

        self.options = options or WorkerOptions()
        init_db(self.options.database_url)
        self._session = get_sessionmaker(self.options.database_url)()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by a job queued in this process, or by stop()
        self.current_job: int | None = None

    @property
    def worker_id(self) -> str:
        return self.options.worker_id

    def stop(self) -> None:
        """Ask the loop to stop; a running job is stopped and put back in the queue."""
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Loop: recover stale jobs, claim one, run it. Returns the number of jobs run."""
        from training.queue import claim_next_job, listen_for_jobs, reap_stale_jobs

        done = 0
        log.info("worker %s started (heartbeat timeout %ss)", self.worker_id, self.options.timeout_s)
        # An idle app should cost next to nothing: the empty queue is looked at less and less often.
        wait_s = self.options.poll_interval_s
        longest_s = max(self.options.max_poll_interval_s, self.options.poll_interval_s, 0.0)
        listen_for_jobs(self._wake)
        try:
            while not self._stop.is_set():
                for job_id, status in reap_stale_jobs(self._session, timeout_s=self.options.timeout_s):
                    log.warning("job %s had a silent worker: now %s", job_id, status)
                self._wake.clear()  # a job queued from here on is found by the claim below or wakes the wait
                job = claim_next_job(self._session, worker_id=self.worker_id)
                if job is None:
                    if self.options.exit_when_idle:
                        break
                    self._wake.wait(min(wait_s, self.options.timeout_s))
                    wait_s = min(wait_s * 2, longest_s)
                    continue
                wait_s = self.options.poll_interval_s
                self.run_job(job.id, job.attempts, job.config.get("accelerate_config"))
                done += 1
                if self.options.max_jobs is not None and done >= self.options.max_jobs:
                    break
        finally:
            listen_for_jobs(self._wake, listening=False)
        return done

    def run_job(self, job_id: int, attempt: int, accelerate_config: str | None = None) -> str:
        """Run a claimed job in a subprocess until it ends, is cancelled, or this worker loses it; returns status."""
        from training.queue import add_log, finish_job, heartbeat, is_cancel_requested, release_job, update_job_fields

        settings = get_settings()
        job_dir = settings.jobs_dir / str(job_id)
        job_dir.mkdir(parents=True, exist_ok=True)
        log_path = job_dir / f"attempt-{attempt}.log"
        update_job_fields(self._session, job_id=job_id, log_path=str(log_path), output_path=str(job_dir))
        cmd = job_command(job_id, worker_id=self.worker_id, attempt=attempt, accelerate_config=accelerate_config)
        self.current_job = job_id
        with open(log_path, "ab") as log_file:
            env = dict(os.environ)
            if self.options.database_url:
                env["CRITIC_DATABASE_URL"] = self.options.database_url
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        add_log(self._session, job_id=job_id, message=f"started process {proc.pid} (attempt {attempt})")
        finish = lambda status, error=None: finish_job(  # noqa: E731
            self._session, job_id=job_id, worker_id=self.worker_id, attempt=attempt, status=status, error=error
        )
        last_beat = 0.0
        try:
            while True:
                rc = proc.poll()
                if rc is not None:
                    break
                now = time.monotonic()
                if now - last_beat >= self.options.heartbeat_interval_s:
                    reply = heartbeat(self._session, job_id=job_id, worker_id=self.worker_id, attempt=attempt)
                    last_beat = now
                    if not reply.owned:
                        _stop_process_group(proc, self.options.kill_grace_s)
                        add_log(self._session, job_id=job_id, message=f"worker {self.worker_id} lost the job; stopped")
                        return "lost"
                if is_cancel_requested(self._session, job_id=job_id):
                    _stop_process_group(proc, self.options.kill_grace_s)
                    finish("cancelled", "cancelled on request")
                    return "cancelled"
                if self._stop.is_set():
                    _stop_process_group(proc, self.options.kill_grace_s)
                    release_job(self._session, job_id=job_id, worker_id=self.worker_id, attempt=attempt)
                    return "queued"
                self._stop.wait(self.options.cancel_check_s)
        finally:
            self.current_job = None
            if proc.stdin is not None:
                proc.stdin.close()
        from training.job import EXIT_CANCELLED

        if rc == 0:
            finish("succeeded")
            return "succeeded"
        if rc == EXIT_CANCELLED:
            finish("cancelled", "cancelled on request")
            return "cancelled"
        finish("failed", f"exit code {rc}: {_tail(log_path)}"[:4000])
        return "failed"


@dataclass
class BackgroundWorker:
    """A worker running in a daemon thread of another process (`critic serve`)."""

    worker: Worker
    thread: threading.Thread

    def stop(self, timeout: float | None = 10.0) -> None:
        self.worker.stop()
        self.thread.join(timeout)


def run_worker_in_background(
    options: WorkerOptions | None = None,
    *,
    database_url: str | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> BackgroundWorker:
    """Start a worker thread next to the app so the single-machine setup trains without another command."""
    options = options or WorkerOptions()
    if database_url is not None:
        options.database_url = database_url
    worker = Worker(options)

    def loop() -> None:
        try:
            worker.run()
        except BaseException as exc:  # keep the app alive; report and stop the worker thread
            log.exception("background training worker stopped")
            if on_error is not None:
                on_error(exc)

    thread = threading.Thread(target=loop, name="training-worker", daemon=True)
    thread.start()
    return BackgroundWorker(worker=worker, thread=thread)
