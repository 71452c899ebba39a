"""Benchmark: 20 concurrent annotation writers (threads + processes) on SQLite and PostgreSQL; import memory.

    .venv/bin/python bench/annotations.py                         # SQLite (+ PostgreSQL if CRITIC_TEST_POSTGRES_URL)
    .venv/bin/python bench/annotations.py --pause-ms 0            # saturated load only
    .venv/bin/python bench/annotations.py --pause-ms 0 --repeat 10  # every run and the median of 10
    .venv/bin/python bench/annotations.py --import-lines 1000000  # also: peak RSS of a PRM800K import

Prints p50/p99 save latency and saves/s per backend (same load, same run), and the import's peak RSS.
Two loads: "saturated" writers save again the moment a save returns (what the p99 target is judged on);
"paced" writers pause between saves (--pause-ms, drawn from 0.5x-1.5x), as people reading a solution do.
The `loadavg` column is the machine's 1-minute load average when the row started (other jobs share the CPUs).
p99_ms covers every save; p99_warm_ms leaves out each writer's first 3 saves, which pay a freshly started
process's one-time costs (a long-running server pays them once); p99_processes_ms / p99_threads_ms split the
writers in processes from those in threads of this process (which share its interpreter lock).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_saves(url: str, *, writers: int, saves: int, processes: int, pause_s: float) -> dict[str, float]:
    from bench.loadtest import latency_summary, prepare, run_load, verify
    from db.session import dispose_engines, init_db

    init_db(url)
    plan = prepare(url, writers=writers, saves=saves, pause_s=pause_s)
    result = run_load(plan, processes=processes)
    problems = verify(plan, result.outcomes)
    dispose_engines()
    summary = latency_summary(result.outcomes, result.wall_s, processes=processes)
    summary["problems"] = len(problems)
    return summary


def write_prm800k(path: Path, lines: int) -> None:
    from tests.db.prm800k_lines import phase2_line

    with path.open("w") as handle:
        for i in range(lines):
            steps = (f"Step one of problem {i}: compute {i} + 1.", f"So the answer is {i + 1}.")
            handle.write(phase2_line(f"What is {i} + 1?", steps, (1, 1), labeler=f"labeler-{i % 50}") + "\n")


def bench_import(lines: int, workdir: Path) -> None:
    path = workdir / "prm800k.jsonl"
    write_prm800k(path, lines)
    db = workdir / "import.db"
    code = (
        "import resource, sys, time\n"
        "from db.session import init_db\nfrom db.importer import import_file\n"
        f"url = 'sqlite:///{db}'\ninit_db(url)\nstart = time.perf_counter()\n"
        f"summary = import_file({str(path)!r}, fmt='prm800k', url=url, batch_size=1000)\n"
        "elapsed = time.perf_counter() - start\n"
        "print(summary.line())\n"
        "print(f'lines/s {summary.imported / elapsed:.0f}  wall {elapsed:.0f} s  '"
        " f'peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB')\n"
    )
    size_mb = path.stat().st_size / 1e6
    print(f"PRM800K import of {lines} lines ({size_mb:.0f} MB), SQLite, batches of 1000:")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _cells(summary: dict[str, float], columns: tuple[str, ...]) -> str:
    return " ".join(f"{summary[c]:>{max(11, len(c))}.1f}" for c in columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--saves", type=int, default=50, help="saves per writer")
    parser.add_argument("--processes", type=int, default=10, help="writers in separate processes (rest: threads)")
    parser.add_argument(
        "--pause-ms", type=float, default=250, help="paced load: mean think time between saves (0: skip the paced rows)"
    )
    parser.add_argument("--import-lines", type=int, default=0, help="also measure a PRM800K import of this many lines")
    parser.add_argument("--no-saves", action="store_true", help="skip the concurrent-save benchmark")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each load this many times (a shared machine varies run to run)"
    )
    args = parser.parse_args()
    from tests.db.fixtures import fresh_postgres_schema

    with tempfile.TemporaryDirectory(prefix="critic-bench-") as tmp:
        workdir = Path(tmp)
        backends = {"sqlite": ""}
        # The bench harness's own variable (set by scripts/postgres.sh), as in the tests.
        if os.environ.get("CRITIC_TEST_POSTGRES_URL"):
            backends["postgresql"] = os.environ["CRITIC_TEST_POSTGRES_URL"]
        else:
            print("PostgreSQL skipped: CRITIC_TEST_POSTGRES_URL is unset (scripts/postgres.sh: start_test_postgres)")
        mix = f"{args.processes} processes, {args.writers - args.processes} threads"
        print(f"{args.writers} writers ({mix}) x {args.saves} saves each, {os.cpu_count()} CPUs")
        columns = ("saves", "stored", "conflicts", "errors", "p50_ms", "p99_ms", "p99_warm_ms")
        columns += ("p99_processes_ms", "p99_threads_ms", "saves_per_s")
        columns += ("problems",)
        if not args.no_saves:
            header = f"{'backend':<11} {'load':<20} {'writers':>7} {'loadavg':>7} "
            print(header + " ".join(f"{c:>{max(11, len(c))}}" for c in columns))
        # One writer alone first (the service time of a save), then all writers at once, then all writers paced.
        loads = [("saturated", 1, 0, 0.0), ("saturated", args.writers, args.processes, 0.0)]
        if args.pause_ms > 0:
            loads.append((f"paced {args.pause_ms:g} ms", args.writers, args.processes, args.pause_ms / 1000))
        for name, url in backends.items() if not args.no_saves else ():
            for index, (load, writers, processes, pause_s) in enumerate(loads):
                runs = []
                for run in range(args.repeat):
                    if name == "postgresql":
                        fresh_postgres_schema(url)
                    else:
                        url = f"sqlite:///{workdir / f'bench-{index}-{run}.db'}"
                    loadavg = os.getloadavg()[0]
                    runs.append(
                        bench_saves(url, writers=writers, saves=args.saves, processes=processes, pause_s=pause_s)
                    )
                    print(f"{name:<11} {load:<20} {writers:>7} {loadavg:>7.2f} " + _cells(runs[-1], columns))
                if args.repeat > 1:
                    medians = {c: statistics.median(r[c] for r in runs) for c in columns}
                    label = f"median of {args.repeat}"
                    print(f"{name:<11} {label:<20} {writers:>7} {'':>7} " + _cells(medians, columns))
        if args.import_lines:
            bench_import(args.import_lines, workdir)
    print(f"bench peak RSS (this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
