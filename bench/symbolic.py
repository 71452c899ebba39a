"""Benchmark the symbolic step checker on all of ProcessBench (GSM8K + MATH): items/s, slowest expressions, scores.

    .venv/bin/python bench/symbolic.py [--data-dir DIR] [--workers N] [--top K]

Prints the wall time of checking every solution (target: under 10 s on 2 cores), items/s, the ratio to
the target, the slowest single expressions, a pathological-input probe (guards and the per-expression
timeout must keep each under a second), and the ProcessBench scores of the checker used as a critic: on all
items, on the even-indexed items of each subset (used to develop the checks) and on the odd-indexed (held out).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.metrics import format_report, score_subsets  # noqa: E402
from core.symbolic import check_solution, find_claims  # noqa: E402

TARGET_S = 10.0
PATHOLOGICAL = [
    "9^9^9^9^9 = 1",
    "10^{10^{10}} = 5",
    "1000000! = 3",
    "\\sqrt{" * 200 + "2" + "}" * 200 + " = 1",
    "(" * 500 + "1" + ")" * 500 + " = 2",
    "\\frac{" * 100 + "1}{2}" * 100 + " = 3",
    "2^{0.5^{0.5^{0.5}}} = 1.7",
    " + ".join(["1"] * 3000) + " = 2999",
    "\\binom{100000}{50000} = 7",
    " ".join(f"\\sin {i}" for i in range(1, 200)) + " = 5",
    " + ".join(f"\\cos {i}.5" for i in range(300)) + " = 1",
]


def _check(steps: list[str]) -> tuple[int, list[tuple[float, str]]]:
    result = check_solution(steps)
    timings = [(c.seconds, f"{c.left} = {c.right}") for claims in result.claims for c in claims]
    return result.first_error_step, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="Directory with processbench/<subset>.json.")
    parser.add_argument("--workers", type=int, default=1, help="Processes (1 = in this process).")
    parser.add_argument("--top", type=int, default=8, help="How many slowest expressions to print.")
    args = parser.parse_args()

    from core.settings import get_settings

    data_dir = args.data_dir or get_settings().data_dir
    items: list[tuple[str, dict]] = []
    positions: list[int] = []  # index within its subset: even items were used to develop the checks, odd held out
    for subset in ("gsm8k", "math"):
        path = data_dir / "processbench" / f"{subset}.json"
        loaded = json.loads(path.read_text())
        items += [(subset, obj) for obj in loaded]
        positions += range(len(loaded))
    steps = [obj["steps"] for _, obj in items]

    started, cpu_started = time.perf_counter(), time.process_time()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            outputs = list(pool.map(_check, steps, chunksize=25))
    else:
        outputs = [_check(s) for s in steps]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started

    claims = sum(len(timings) for _, timings in outputs)
    print(f"checked {len(items)} solutions ({sum(map(len, steps))} steps, {claims} claims)")
    rate = len(items) / seconds
    print(f"wall {seconds:.2f} s = {rate:.0f} items/s; wall / target ({TARGET_S:.0f} s) = {seconds / TARGET_S:.2f}")
    if args.workers == 1:
        # CPU time of this process: what the check costs when the machine is not shared with other jobs
        cpu_rate = len(items) / cpu_seconds
        print(f"cpu  {cpu_seconds:.2f} s = {cpu_rate:.0f} items/s; cpu / target = {cpu_seconds / TARGET_S:.2f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    slowest = sorted((t for _, timings in outputs for t in timings), reverse=True)[: args.top]
    print(f"\nslowest {len(slowest)} expressions (CPU time of parsing + evaluating + judging one claim):")
    for spent, text in slowest:
        print(f"  {1000 * spent:7.1f} ms  {text[:110]}")

    print("\npathological inputs (each must stay well under a second):")
    for text in PATHOLOGICAL:
        begin = time.perf_counter()
        found = find_claims(text)
        statuses = ",".join(c.status for c in found) or "no claim"
        print(f"  {1000 * (time.perf_counter() - begin):7.1f} ms  {statuses:<10} {text[:60]!r}")

    records = [
        (subset, obj["label"] + 1 if obj["label"] >= 0 else -1, prediction)
        for (subset, obj), (prediction, _) in zip(items, outputs, strict=True)
    ]
    print()
    print(format_report(score_subsets(records), "symbolic checker as a critic on ProcessBench (all items)"))
    for parity, name in ((0, "even items (used to develop the checks)"), (1, "odd items (held out)")):
        split = [record for record, position in zip(records, positions, strict=True) if position % 2 == parity]
        print()
        print(format_report(score_subsets(split), f"symbolic checker on ProcessBench, {name}"))


if __name__ == "__main__":
    main()
