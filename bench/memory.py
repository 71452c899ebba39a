"""Memory and wait of the app as people start it: memory of `critic serve` (app + vLLM engine) and the first critique.

Starts `critic serve` (the README's first command: embedded model, auto backend, a worker beside it) on a fresh
CRITIC_HOME and prints the memory of the whole process tree (the app and every child: the vLLM server and its
engine processes, a training job): PSS summed (shared pages split among their sharers: what the tree holds) and,
for comparison, RSS summed per process (shared libraries counted once per process):

1. idle after start;
2. right after the first critique of a 3-step solution, submitted over HTTP like a browser;
3. idle after that critique;
4. the peak while a small SFT job (template targets, a few steps, no evaluation) runs from the queue;

and the wall time from process start to the first critique's result; for two engine set-ups: the default (on a CPU
single critiques stay in process and vLLM starts for the first batch) and `server` (the vLLM server answers every
critique, as after a batch; the in-process model that bridged its start is released). Targets (issue #19): app +
engine < 3 GB, first critique < 30 s on 2 cores. `--models-dir` shares converted models between runs (warm);
without it the embedded model is converted inside the measured time (cold). The OS page cache and vLLM's compile cache
(~/.cache/vllm) are whatever earlier runs left: the output says which state each had.
"""

from __future__ import annotations

import argparse
import json
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


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS summed, PSS summed) in bytes over a process and all its descendants, from /proc.

    RSS counts a page shared by several processes (torch's libraries, the model file mapped by vLLM's processes)
    once per process; PSS splits each shared page among its sharers, so its sum is the memory the tree really holds.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    rss = pss = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("Rss", "Pss"):
                    kib = int(value.split()[0]) * 1024
                    rss, pss = (rss + kib, pss) if name == "Rss" else (rss, pss + kib)
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(current, []))
    return rss, pss


def shown(pid: int) -> str:
    rss, pss = tree_memory(pid)
    return f"PSS {pss / 2**30:.2f} GiB (RSS summed {rss / 2**30:.2f} GiB)"


class PeakSampler:
    """Samples a process tree's PSS in a thread; `peak` is the largest seen since start()."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_memory(self.pid)[1])
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _start(
    home: Path, port: int, models_dir: Path | None, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[str], float]:
    env = {k: v for k, v in {**os.environ, **extra_env}.items() if k != "CRITIC_DATABASE_URL"}
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


def _train(home: Path, pid: int, steps: int) -> tuple[int, str, float]:
    """Queue a small SFT job on annotations of 3-step solutions; (peak tree PSS, final status, seconds)."""
    os.environ["CRITIC_HOME"] = str(home)
    from core.settings import get_settings

    get_settings.cache_clear()
    # Labelled 3-step solutions imported as a user imports a PRM800K file (first error at step 2).
    from core.prm800k import to_prm800k
    from core.steps import split_steps
    from core.types import SolutionItem
    from db.importer import import_file
    from db.session import session_scope
    from training import queue
    from training.config import load_config

    labels = home / "labels.jsonl"
    with labels.open("w", encoding="utf-8") as handle:
        for i in range(6):
            item = SolutionItem(problem=PROBLEM.replace("4 pens", f"{i + 4} pens"), steps=split_steps(SOLUTION))
            handle.write(json.dumps(to_prm800k(item, [1, -1], finish_reason=None, labeler="bench")) + "\n")
    import_file(labels, fmt="prm800k")
    config = load_config("sft", None, {"max_steps": steps, "evaluate": False})
    with session_scope() as session:
        job_id = queue.enqueue_job(session, config=config).id
    started = time.perf_counter()
    with PeakSampler(pid) as sampler, session_scope() as session:
        while (status := queue.get_job(session, job_id=job_id).status) in ("queued", "running"):
            time.sleep(1)
    return sampler.peak, status, time.perf_counter() - started


# The app as it starts by default (on a CPU single critiques stay in process; vLLM waits for the first batch), and
# with the vLLM server answering every critique (what a batch, e.g. a class upload, switches it to).
ENGINES = {
    "default": {},
    "server": {"CRITIC_AUTO_SERVER_MIN_BATCH": "1"},
}


def measure(engine: str, args: argparse.Namespace) -> None:
    """Start the app with this engine set-up on a fresh home and print its memory at each phase."""
    url = f"http://127.0.0.1:{args.port}"
    print(f"== engine set-up: {engine} {ENGINES[engine] or '(every default)'}")
    with tempfile.TemporaryDirectory(prefix="critic-bench-memory-") as tmp:
        home = Path(tmp)
        proc, started = _start(home, args.port, args.models_dir, ENGINES[engine])
        try:
            _wait_for_login(url)
            time.sleep(2)
            print(f"1. idle after start ({time.perf_counter() - started:.1f} s): {shown(proc.pid)}")
            result = _client(url, "admin", "bench-admin").predict(PROBLEM, SOLUTION, api_name="/critique")
            first_s = time.perf_counter() - started
            print(
                f"2. first critique of a 3-step solution: {first_s:.1f} s from process start "
                f"(backend {result['backend']}, first error {result['first_error_step']}); "
                f"{shown(proc.pid)}"
            )
            time.sleep(3)
            print(f"3. idle after it ({time.perf_counter() - started:.0f} s): {shown(proc.pid)}")
            if args.train_steps:
                peak, status, seconds = _train(home, proc.pid, args.train_steps)
                print(f"4. while a {args.train_steps}-step SFT job runs ({status}, {seconds:.0f} s): "
                      f"peak PSS {peak / 2**30:.2f} GiB")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--models-dir", type=Path, help="converted models to reuse (warm); default: convert (cold)")
    parser.add_argument("--engines", default="default,server", help="engine set-ups to measure, in order")
    parser.add_argument("--train-steps", type=int, default=5, help="SFT steps of the training phase (0: skip it)")
    args = parser.parse_args(argv)
    os.environ["BENCH_PORT"] = str(args.port)
    models = "warm (--models-dir)" if args.models_dir else "cold (converted in the run)"
    compile_cache = "warm" if VLLM_CACHE.exists() and any(VLLM_CACHE.iterdir()) else "cold"
    print(f"caches: converted model {models}; vLLM compile cache {compile_cache} ({VLLM_CACHE}); OS page cache as is")
    for engine in (e.strip() for e in args.engines.split(",") if e.strip()):
        if engine not in ENGINES:
            raise SystemExit(f"--engines takes {', '.join(ENGINES)}, not {engine!r}")
        measure(engine, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
