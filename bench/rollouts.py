"""Throughput of Monte Carlo rollouts: all rollouts of a prefix in one batched call vs one call per rollout.

Run: .venv/bin/python bench/rollouts.py [--rollouts 4] [--prefixes 2] [--max-new-tokens 32] [--repeats 1]

Prints generated tokens/s for sequential rollouts (n=1 per call), batched per prefix (n=N in one call, as
`critic generate mc-labels` does per prefix), and all prefixes at once (one call per item), with the ratios,
measured side by side in one run on the same backend.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.backends import create_backend  # noqa: E402
from core.backends.base import Backend, GenerationParams  # noqa: E402
from core.solving import continue_solutions  # noqa: E402


def _timed(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = run()
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="Generator model (default: the embedded SmolLM2).")
    parser.add_argument("--backend", default="transformers", help="transformers, openai or vllm.")
    parser.add_argument("--rollouts", type=int, default=4, help="Rollouts per prefix (N).")
    parser.add_argument("--prefixes", type=int, default=2, help="Step prefixes of the item to roll out from.")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="Tokens per rollout.")
    parser.add_argument("--repeats", type=int, default=1, help="Interleaved repetitions of the three modes.")
    default_data = REPO_ROOT.parent / "shared" / "data" / "processbench" / "gsm8k.json"
    parser.add_argument("--data", type=Path, default=default_data, help="ProcessBench file to take the item from.")
    args = parser.parse_args()

    items = json.loads(args.data.read_text())
    item = next(x for x in items if len(x["steps"]) > args.prefixes)
    requests = [(item["problem"], item["steps"][:k]) for k in range(1, args.prefixes + 1)]
    backend: Backend = create_backend(args.backend, args.model)

    def params(n: int, seed: int) -> GenerationParams:
        return GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.7, n=n, seed=seed)

    def tokens(outputs: list) -> int:
        return sum(s.completion_tokens for per_prompt in outputs for s in per_prompt)

    def sequential() -> int:
        total = 0
        for request in requests:
            for r in range(args.rollouts):
                total += tokens(continue_solutions(backend, [request], params(1, r)))
        return total

    def per_prefix() -> int:
        return sum(tokens(continue_solutions(backend, [request], params(args.rollouts, 0))) for request in requests)

    def all_prefixes() -> int:
        return tokens(continue_solutions(backend, requests, params(args.rollouts, 0)))

    continue_solutions(backend, requests[:1], params(1, 0))  # warm-up: first-call allocations, lazy init
    modes = {"sequential": sequential, "batched per prefix": per_prefix, "all prefixes": all_prefixes}
    seconds = dict.fromkeys(modes, 0.0)
    counts = dict.fromkeys(modes, 0)
    # Modes are interleaved over the repeats (and their order rotated) so a change in machine load hits all alike.
    names = list(modes)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            elapsed, count = _timed(modes[name])
            seconds[name] += elapsed
            counts[name] += count
            print(f"  repeat {repeat + 1} {name:20} {count:5d} tokens in {elapsed:7.2f} s", flush=True)
    results = {name: counts[name] / seconds[name] for name in modes}
    for name in modes:
        print(f"{name:20} {counts[name]:5d} tokens in {seconds[name]:7.2f} s = {results[name]:7.1f} tokens/s")
    base = results["sequential"]
    print(f"ratio batched per prefix / sequential: {results['batched per prefix'] / base:.2f}x")
    print(f"ratio all prefixes / sequential:       {results['all prefixes'] / base:.2f}x")
    print(
        f"({args.prefixes} prefixes x {args.rollouts} rollouts x {args.max_new_tokens} tokens, "
        f"{args.backend}:{args.model}, item {item['id']})"
    )
    backend.close()


if __name__ == "__main__":
    main()
