"""`critic generate problems`: problems with ground-truth answers for the actor, generated or from ProcessBench."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer()


@app.command("problems", no_args_is_help=True)
def problems_command(
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file of problems to write (replaced)."),
    count: int = typer.Option(30, "--count", "-n", min=1, help="Generated problems (ignored with --from)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generator: the same seed gives the same problems."),
    min_operations: int = typer.Option(1, "--min-operations", min=1, max=4, help="Fewest arithmetic operations."),
    max_operations: int = typer.Option(4, "--max-operations", min=1, max=4, help="Most arithmetic operations."),
    source: str | None = typer.Option(
        None,
        "--from",
        help="Take the problems from a ProcessBench-format benchmark instead (e.g. processbench:gsm8k or a file): "
        "problems that have a solution labelled all-correct with a correct final answer, that answer the truth.",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="With --from: at most N problems."),
    held_out: int = typer.Option(
        0,
        "--held-out",
        min=0,
        help="Draw N problems (seeded) into OUTPUT.held-out.jsonl, for `critic eval-set add --kind actor`; "
        "registered, they never enter actor training.",
    ),
) -> None:
    """Write problems with answers, one per line in the ProcessBench shape (a reference solution labelled -1 and its
    'answer'): grade-school word problems of 1-4 operations, seeded, or ProcessBench problems with a known answer."""
    from core.actor.problems import problem_record, processbench_problems, split_held_out, word_problems
    from core.benchmarks import load_benchmark
    from core.errors import BadInputError
    from core.jsonl import append_jsonl

    if source:
        loaded = load_benchmark(source)
        items = processbench_problems(item for _, item in loaded.items())[:limit]
        if not items:
            raise BadInputError(f"{source}: no problem has a solution labelled all-correct with a correct final answer")
    else:
        items = word_problems(count, seed=seed, min_operations=min_operations, max_operations=max_operations)
    train, kept_apart = split_held_out(items, held_out, seed=seed)
    written = {output: train}
    if held_out:
        written[output.with_name(f"{output.stem}.held-out.jsonl")] = kept_apart
    for path, rows in written.items():
        path.unlink(missing_ok=True)
        append_jsonl(path, (problem_record(item) for item in rows))
        typer.echo(f"wrote {len(rows)} problem(s) -> {path}")
