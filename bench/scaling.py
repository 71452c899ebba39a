"""Test-time scaling of the actor with the critic (AutoMathCritique's figure): accuracy against k samples.

Run: nice -n 10 .venv/bin/python bench/scaling.py [--easy 20] [--hard 20] [--k-max 8] [--rounds 1] [--out DIR]

For every problem the actor samples K = k-max solutions once; the critic critiques each and the actor revises it from
the first wrong step (critique-refine, --rounds rounds). At each k in 1, 2, 4, ... K the first k attempts are then
judged three ways side by side: majority voting over their answers, the critic's pick (critic-ranked best-of-k) and
majority voting over the refined answers (critique-refine). Prints accuracy with its 95 % Wilson interval and the
tokens generated per problem (actor + critic) for each point, easy and hard problems separately, plus greedy
decoding as the k=1 reference. Easy problems: generated word problems of 1-2 operations; hard: 3-4 operations, or
ProcessBench GSM8K problems (--hard-source processbench). Attempts are appended to DIR/attempts.jsonl as each batch
finishes, so an interrupted run resumes where it stopped; every side reads the same attempts (no cache between sides
beyond them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import zip_longest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.actor.problems import processbench_problems, word_problems  # noqa: E402
from core.actor.scoring import wilson_interval  # noqa: E402
from core.actor.strategies import ProblemAttempts, SolveConfig, attempt_problems, choose  # noqa: E402
from core.backends import create_backend  # noqa: E402
from core.jsonl import append_jsonl, read_jsonl  # noqa: E402
from core.types import SolutionItem  # noqa: E402

SIDES = ("majority", "critic-rank", "critique-refine")


def problem_sets(args: argparse.Namespace) -> dict[str, list[SolutionItem]]:
    easy = word_problems(args.easy, seed=args.seed, min_operations=1, max_operations=2)
    if args.hard_source == "processbench":
        from core.benchmarks import load_benchmark

        loaded = load_benchmark("processbench:gsm8k")
        hard = processbench_problems(item for _, item in loaded.items())[: args.hard]
    else:
        hard = word_problems(args.hard, seed=args.seed + 1, min_operations=3, max_operations=4)
    return {"easy": easy, "hard": hard}


def run_attempts(args: argparse.Namespace, sets: dict[str, list[SolutionItem]], path: Path) -> dict[str, list]:
    """Sample, critique and refine every problem once (resuming from `path`); the attempts per set."""
    from core.critic import Critic, CriticConfig

    done = {row["id"]: ProblemAttempts.model_validate(row["attempts"]) for row in read_jsonl(path)}
    # Easy and hard problems alternate, so a run cut short has measured both.
    interleaved = [
        pair for group in zip_longest(*([(n, i) for i in items] for n, items in sets.items())) for pair in group
    ]
    todo = [(name, item) for name, item in (p for p in interleaved if p) if item.id not in done]
    if todo and not args.report_only:
        actor = create_backend(args.backend, args.model)
        critic = Critic(actor, CriticConfig.build(max_new_tokens=args.critic_max_new_tokens)).critique_many
        config = SolveConfig(samples=args.k_max, rounds=args.rounds, max_new_tokens=args.max_new_tokens, seed=args.seed)
        for start in range(0, len(todo), args.batch):
            batch = todo[start : start + args.batch]
            began = time.perf_counter()
            attempts = attempt_problems(actor, critic, [item for _, item in batch], "critique-refine", config)
            append_jsonl(
                path,
                ({"id": a.id, "set": n, "attempts": a.model_dump()} for (n, _), a in zip(batch, attempts, strict=True)),
            )
            done.update({a.id: a for a in attempts})
            print(
                f"  {len(done)}/{sum(map(len, sets.values()))} problems ({time.perf_counter() - began:.0f}s batch)",
                file=sys.stderr,
                flush=True,
            )
        actor.close()
    return {name: [done[item.id] for item in items if item.id in done] for name, items in sets.items()}


def greedy(args: argparse.Namespace, sets: dict[str, list[SolutionItem]], path: Path) -> dict[str, list]:
    """One greedy solution per problem (the k=1 reference without sampling), resumable like the attempts."""
    from core.actor.strategies import solve_problems

    done = {row["id"]: row for row in read_jsonl(path)}
    todo = [item for items in sets.values() for item in items if item.id not in done]
    if todo and not args.report_only:
        actor = create_backend(args.backend, args.model)
        for start in range(0, len(todo), args.batch * 2):
            solved = solve_problems(
                actor,
                None,
                todo[start : start + args.batch * 2],
                "greedy",
                SolveConfig(max_new_tokens=args.max_new_tokens),
            )
            append_jsonl(path, (s.model_dump() for s in solved))
            done.update({s.id: s.model_dump() for s in solved})
        actor.close()
    return {name: [done[i.id] for i in items if i.id in done] for name, items in sets.items()}


def table(name: str, problems: list[ProblemAttempts], greedy_rows: list[dict], ks: list[int]) -> dict:
    n = len(problems)
    result: dict = {"problems": n, "points": []}
    # Greedy over the same problems as the sampled sides, so every line of the table covers one set of problems.
    measured = {p.id for p in problems}
    greedy_rows = [r for r in greedy_rows if r["id"] in measured]
    right = sum(r["correct"] for r in greedy_rows)
    g_low, g_high = wilson_interval(right, len(greedy_rows)) or (0.0, 0.0)
    g_tokens = sum(r["actor_tokens"] for r in greedy_rows) / max(len(greedy_rows), 1)
    print(
        f"\n{name}: {n} problems; greedy {100 * right / max(len(greedy_rows), 1):.1f}% "
        f"[{100 * g_low:.0f}, {100 * g_high:.0f}] at {g_tokens:.0f} tokens/problem"
    )
    print(f"{'k':>3}  " + "  ".join(f"{side:>30}" for side in SIDES))
    result["greedy"] = {"accuracy": right / max(len(greedy_rows), 1), "interval": [g_low, g_high], "tokens": g_tokens}
    for k in ks:
        cells = []
        for side in SIDES:
            chosen = [choose(p, side, k) for p in problems]
            correct = sum(c.correct for c in chosen)
            low, high = wilson_interval(correct, n) or (0.0, 0.0)
            tokens = sum(c.actor_tokens + c.critic_tokens for c in chosen) / max(n, 1)
            cells.append(f"{100 * correct / max(n, 1):5.1f}% [{100 * low:3.0f},{100 * high:3.0f}] {tokens:7.0f} tok")
            result["points"].append(
                {"k": k, "side": side, "accuracy": correct / max(n, 1), "interval": [low, high], "tokens": tokens}
            )
        print(f"{k:>3}  " + "  ".join(f"{cell:>30}" for cell in cells))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="Actor and critic model (default: the embedded SmolLM2).")
    parser.add_argument("--backend", default="transformers", help="transformers, openai or vllm.")
    parser.add_argument("--easy", type=int, default=20, help="Easy problems (generated, 1-2 operations).")
    parser.add_argument("--hard", type=int, default=20, help="Hard problems.")
    parser.add_argument("--hard-source", choices=("generated", "processbench"), default="generated")
    parser.add_argument("--k-max", type=int, default=8, help="Samples per problem (K); k runs 1, 2, 4, ... K.")
    parser.add_argument("--rounds", type=int, default=1, help="Critique -> revision rounds per sample.")
    parser.add_argument("--max-new-tokens", type=int, default=192, help="Budget of each solution and revision.")
    parser.add_argument("--critic-max-new-tokens", type=int, default=256, help="Budget of each critique.")
    parser.add_argument("--batch", type=int, default=2, help="Problems per backend call.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--report-only", action="store_true", help="Print the table from the attempts already in DIR; generate nothing."
    )
    parser.add_argument("--out", type=Path, default=Path("bench-scaling"), help="Directory for attempts and summary.")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    sets = problem_sets(args)
    started = time.perf_counter()
    greedy_rows = greedy(args, sets, args.out / "greedy.jsonl")
    attempts = run_attempts(args, sets, args.out / "attempts.jsonl")
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= args.k_max]
    print(
        f"model {args.model} ({args.backend}) as actor and critic; K={args.k_max}, {args.rounds} critique round(s); "
        f"run took {time.perf_counter() - started:.0f}s (resumed parts not counted)"
    )
    summary = {name: table(name, attempts[name], greedy_rows[name], ks) for name in sets}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
