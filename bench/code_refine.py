"""pass@1 of checked code revisions on the project's task set: critique -> revision rounds vs self-revision.

    .venv/bin/python bench/code_refine.py [--model embedded] [--items N] [--rounds 3] [--out DIR]

Starts from the wrong solutions of core/code/tasks.jsonl (all of them, or N spread evenly over the file), so
pass@1 before any revision is 0. Both arms use the same generator, the same greedy sampling and the same number of
rounds, and stop an item once its tests pass:
  critique     each round: tests -> execution-grounded critique (same model as critic) -> revision -> tests
  self-revise  each round: revision from the problem and the code alone -> tests
pass@1 after round k is read from the same run (rounds are sequential, so the first k rounds of a 3-round run are a
k-round run). Prints pass@1 before, after 1 and after the last round, side by side, and the wall time of each arm.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends import create_backend  # noqa: E402
from core.code.critique import CodeCritiqueConfig  # noqa: E402
from core.code.refine import CodeRefineConfig, pass_at_1, refine_code  # noqa: E402
from core.code.tasks import load_code_tasks, wrong_solutions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded", help="Generator and critic model.")
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--items", type=int, default=0, help="Wrong solutions to start from (0 = all).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--revision-tokens", type=int, default=256)
    parser.add_argument("--critique-tokens", type=int, default=192)
    parser.add_argument("--out", type=Path, default=None, help="Directory for the per-item rows (JSONL).")
    args = parser.parse_args()

    wrong = wrong_solutions(load_code_tasks())
    if args.items and args.items < len(wrong):
        step = len(wrong) / args.items
        wrong = [wrong[int(i * step)] for i in range(args.items)]
    print(
        f"{len(wrong)} wrong solutions; model {args.model} ({args.backend}); {args.rounds} rounds; "
        f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    backend = create_backend(args.backend, args.model)
    critique_config = CodeCritiqueConfig(max_new_tokens=args.critique_tokens)
    arms = {}
    for name, use_critique in (("critique", True), ("self-revise", False)):
        config = CodeRefineConfig(rounds=args.rounds, use_critique=use_critique, max_new_tokens=args.revision_tokens)
        start = time.perf_counter()
        refinements = refine_code(backend, backend if use_critique else None, wrong, config, critique_config)
        arms[name] = (refinements, time.perf_counter() - start)
        print(f"{name}: done in {arms[name][1]:.0f} s", flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            with (args.out / f"{name}.jsonl").open("w") as sink:
                for r in refinements:
                    sink.write(json.dumps(r.model_dump(mode="json")) + "\n")
    print(
        f"{'':12} {'before':>7} {'after 1':>8} {f'after {args.rounds}':>8} {'tests passed (mean share)':>26} {'s':>6}"
    )
    for name, (refinements, seconds) in arms.items():
        share = sum(r.execution_after.passed / max(r.total_tests, 1) for r in refinements) / len(refinements)
        cells = [pass_at_1(refinements, k) or 0.0 for k in (0, 1, args.rounds)]
        print(f"{name:12} " + " ".join(f"{100 * c:7.1f}%" for c in cells) + f" {100 * share:25.1f}% {seconds:6.0f}")
    backend.close()


if __name__ == "__main__":
    main()
