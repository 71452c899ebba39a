"""Benchmark the sandbox: overhead of one sandboxed run against a bare interpreter start, and runs/s in parallel.

    .venv/bin/python bench/sandbox.py [--runs N] [--cli-runs M] [--workers W]

Side by side, each measured from the same state (no warm process kept between runs; every run starts a fresh
interpreter):
  bare        `python -I -c pass`, the sandbox's interpreter started directly (the floor)
  program     core.sandbox.run_program("pass"): bwrap with its namespaces, the harness, limits
  tests       core.sandbox.run_tests on a 3-assert MBPP task (what a code critique runs)
  cli         `critic sandbox run --code F --tests T` as a user types it (adds the CLI's own start-up)
Prints median and p95 milliseconds per run, the overhead ratio of the sandbox over the bare start, and runs/s
with W runs at once (the machine's cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.sandbox import TestSpec, check_sandbox, run_program, run_tests  # noqa: E402
from core.sandbox.run import sandbox_python  # noqa: E402
from core.settings import get_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CODE = "def add(a, b):\n    return a + b\n"
SPEC = TestSpec(test_list=["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0"])


def _timed(run: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _throughput(run: Callable[[], object], runs: int, workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: run(), range(runs)))
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="Runs per measurement.")
    parser.add_argument("--cli-runs", type=int, default=10, help="Runs of the full `critic sandbox run` command.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Runs at once for runs/s.")
    args = parser.parse_args()

    settings = get_settings()
    isolation = check_sandbox(settings)
    python = str(sandbox_python(settings))
    print(f"isolation: {isolation}; interpreter: {python}; cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}")

    def bare() -> None:
        subprocess.run([python, "-I", "-c", "pass"], check=True)

    with tempfile.TemporaryDirectory() as folder:
        code, tests = Path(folder) / "solution.py", Path(folder) / "tests.py"
        code.write_text(CODE)
        tests.write_text("\n".join(SPEC.test_list) + "\n")
        cli_line = [sys.executable, "-c", "from cli.main import main; main()", "sandbox", "run"]
        cli_line += ["--code", str(code), "--tests", str(tests)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}

        def cli() -> None:
            subprocess.run(cli_line, check=True, capture_output=True, env=env)

        sides: dict[str, tuple[Callable[[], object], int]] = {
            "bare": (bare, args.runs),
            "program": (lambda: run_program("pass"), args.runs),
            "tests": (lambda: run_tests(CODE, SPEC), args.runs),
            "cli": (cli, args.cli_runs),
        }
        rows = {}
        for name, (run, runs) in sides.items():
            run()  # one warm-up: page cache, not a kept process
            times = _timed(run, runs)
            per_second = _throughput(run, runs, args.workers) if name != "cli" else None
            rows[name] = (statistics.median(times), _p95(times), per_second, runs)

    floor = rows["bare"][0]
    print(f"{'':8} {'median ms':>10} {'p95 ms':>8} {'x bare':>7} {f'runs/s ({args.workers} at once)':>22} {'runs':>5}")
    for name, (median, p95, per_second, runs) in rows.items():
        rate = f"{per_second:.1f}" if per_second is not None else "-"
        print(f"{name:8} {median:10.1f} {p95:8.1f} {median / floor:7.1f} {rate:>22} {runs:>5}")


if __name__ == "__main__":
    main()
