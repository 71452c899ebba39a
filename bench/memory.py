"""Memory and wait of the app as people start it: RSS of `critic serve` (app + vLLM engine) and the first critique.

Starts `critic serve` (the README's first command: embedded model, auto backend, a worker beside it) on a fresh
CRITIC_HOME and prints the resident memory of the whole process tree (the app and every child: the vLLM server
and its engine processes, a training job) summed per process:

1. idle after start (the app answers, the engine is still starting);
2. right after the first critique of a 3-step solution, submitted over HTTP like a browser;
3. idle once the vLLM server answers (the in-process model that bridged its start is released);
4. the peak while a small SFT job (template targets, a few steps, no evaluation) runs from the queue;

and the wall time from process start to the first critique's result. Targets (issue #19): app + engine < 3 GB,
first critique < 30 s on 2 cores. `--models-dir` shares converted models between runs (warm); without it the
embedded model is converted inside the measured time (cold). The OS page cache and vLLM's compile cache
(~/.cache/vllm) are whatever earlier runs left: the output says which state each had.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))

from bench.webapp import _client, _HttpUser, start_server  # noqa: E402 - after the path fix above

PROBLEM = "A shop sells pens at 3 dollars each. Sam buys 4 pens and pays with a 20 dollar bill. How much change?"
SOLUTION = "4 pens cost 4 * 3 = 12 dollars.\nThe change is 20 - 12 = 9 dollars.\nSo Sam gets 9 dollars back."
VLLM_CACHE = Path.home() / ".cache" / "vllm"


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        return _proc_tree_rss(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def _proc_tree_rss(pid: int) -> int:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(current, []))
    return total


class PeakSampler:
    """Samples a process tree's RSS in a thread; `peak` is the largest seen since start()."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _start(home: Path, port: int, models_dir: Path | None) -> tuple[subprocess.Popen[str], float]:
    env = {k: v for k, v in os.environ.items() if k != "CRITIC_DATABASE_URL"}
    if models_dir is not None:
        env["CRITIC_MODELS_DIR"] = str(models_dir)
    started = time.perf_counter()
    proc = start_server(home, port, env=env)
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return proc, started


def _wait_for_login(url: str, timeout_s: float = 300) -> _HttpUser:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return _HttpUser(url, "admin", "bench-admin")
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_for_engine(home: Path, timeout_s: float) -> bool:
    log = home / "logs" / "auto-vllm-server.log"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and "Application startup complete" in log.read_text(errors="replace"):
            return True
        time.sleep(1)
    return False


def _train(home: Path, pid: int, steps: int) -> tuple[int, str, float]:
    """Queue a small SFT job on annotations of 3-step solutions; (peak tree RSS, final status, seconds)."""
    os.environ["CRITIC_HOME"] = str(home)
    from core.settings import get_settings

    get_settings.cache_clear()
    from db.session import session_scope
    from db.users import create_user
    from training import queue
    from training.config import load_config

    with session_scope() as session:
        create_user(session, username="bench-annotator", password="bench-pw", role="annotator")
    url = f"http://127.0.0.1:{os.environ['BENCH_PORT']}"
    user, critic = _HttpUser(url, "bench-annotator", "bench-pw"), _client(url, "admin", "bench-admin")
    from sqlalchemy import select

    from db.models import Item

    for i in range(6):  # each critique stores its solution as an item; the annotator submits labels for it
        critic.predict(PROBLEM.replace("4 pens", f"{i + 4} pens"), SOLUTION, api_name="/critique")
    with session_scope() as session:
        item_ids = list(session.scalars(select(Item.id)))
    for item_id in item_ids:
        user.call("save_annotation", item_id, [1, -1, None], "", None, None, None, None, "", True)
    config = load_config("sft", None, {"max_steps": steps, "evaluate": False})
    with session_scope() as session:
        job_id = queue.enqueue_job(session, config=config).id
    started = time.perf_counter()
    with PeakSampler(pid) as sampler, session_scope() as session:
        while (status := queue.get_job(session, job_id=job_id).status) in ("queued", "running"):
            time.sleep(1)
    return sampler.peak, status, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--models-dir", type=Path, help="converted models to reuse (warm); default: convert (cold)")
    parser.add_argument("--engine-timeout", type=float, default=600, help="seconds to wait for the vLLM server")
    parser.add_argument("--train-steps", type=int, default=5, help="SFT steps of the training phase (0: skip it)")
    args = parser.parse_args(argv)
    os.environ["BENCH_PORT"] = str(args.port)
    url = f"http://127.0.0.1:{args.port}"
    gib = 2**30
    models = "warm (--models-dir)" if args.models_dir else "cold (converted in the run)"
    compile_cache = "warm" if VLLM_CACHE.exists() and any(VLLM_CACHE.iterdir()) else "cold"
    print(f"caches: converted model {models}; vLLM compile cache {compile_cache} ({VLLM_CACHE}); OS page cache as is")
    with tempfile.TemporaryDirectory(prefix="critic-bench-memory-") as tmp:
        home = Path(tmp)
        proc, started = _start(home, args.port, args.models_dir)
        try:
            _wait_for_login(url)
            time.sleep(2)
            print(f"1. idle after start ({time.perf_counter() - started:.1f} s): {tree_rss(proc.pid) / gib:.2f} GiB")
            result = _client(url, "admin", "bench-admin").predict(PROBLEM, SOLUTION, api_name="/critique")
            first_s = time.perf_counter() - started
            print(
                f"2. first critique of a 3-step solution: {first_s:.1f} s from process start "
                f"(backend {result['backend']}, first error {result['first_error_step']}); "
                f"RSS {tree_rss(proc.pid) / gib:.2f} GiB"
            )
            engine = _wait_for_engine(home, args.engine_timeout)
            time.sleep(3)
            state = "answering" if engine else f"not answering after {args.engine_timeout:g} s"
            print(f"3. idle, vLLM server {state} ({time.perf_counter() - started:.0f} s): "
                  f"{tree_rss(proc.pid) / gib:.2f} GiB")  # fmt: skip
            if args.train_steps:
                peak, status, seconds = _train(home, proc.pid, args.train_steps)
                print(f"4. while a {args.train_steps}-step SFT job runs ({status}, {seconds:.0f} s): "
                      f"peak {peak / gib:.2f} GiB")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
