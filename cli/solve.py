"""`critic solve`: the actor answers problems (greedy, majority, critic-rank, critique-refine), checked for truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.options import (
    SPEC_HELP,
    BaseUrl,
    CriticMode,
    MaxNewTokens,
    Seed,
    default_output,
    finish,
    input_option,
    limit_option,
    open_backends,
)

app = typer.Typer()

_INPUT_USES = (
    " Only 'problem' and the ground-truth answer are used ('answer', or a solution with 'final_answer_correct': "
    "true); make such files with `critic generate problems`."
)


@app.command("solve", no_args_is_help=True)
def solve_command(
    input: Path = input_option(_INPUT_USES),
    strategy: list[str] = typer.Option(
        ["greedy"],
        "--strategy",
        "-s",
        help="greedy, majority, critic-rank or critique-refine; repeat to compare several in one run.",
    ),
    samples: int = typer.Option(1, "--samples", "-k", min=1, max=64, help="Solutions sampled per problem (K)."),
    rounds: int = typer.Option(
        1, "--rounds", "-r", min=1, max=10, help="Critique -> revision rounds (critique-refine)."
    ),
    actor_model: str | None = typer.Option(None, "--actor-model", "-a", help="Model that solves. " + SPEC_HELP),
    model: str | None = typer.Option(None, "--model", "-m", help="Critic model. " + SPEC_HELP),
    critic_mode: CriticMode = "single",
    critic_samples: int = typer.Option(1, "--critic-samples", min=1, help="Critic samples per solution (votes)."),
    temperature: float = typer.Option(0.8, "--temperature", help="Sampling temperature when K > 1."),
    max_new_tokens: MaxNewTokens = 512,
    seed: Seed = None,
    base_url: BaseUrl = None,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL of results (appended; a rerun skips done problems). Default INPUT.solved"
    ),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Problems solved together."),
    limit: int | None = limit_option("Only the first N problems."),
) -> None:
    """Solve each problem with the actor; `correct` is the final answer checked against the truth (math-verify).

    greedy writes one solution; majority votes over K sampled answers; critic-rank picks the sample the critic
    trusts most; critique-refine has the critic critique each sample and the actor revise it from the first wrong
    step (up to --rounds rounds), then votes over the refined answers. Prints accuracy per strategy with its 95 %
    interval over every row in the output file.
    """
    from core.actor.strategies import NEEDS_CRITIC, STRATEGIES, SolveConfig
    from core.errors import ConfigError
    from training.actor_runs import run_solve

    unknown = [s for s in strategy if s not in STRATEGIES]
    if unknown:
        raise ConfigError(f"--strategy {', '.join(unknown)}: choose from {', '.join(STRATEGIES)}")
    config = SolveConfig.build(
        samples=samples, rounds=rounds, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
    )
    target = output or default_output(input, "solved")
    with open_backends(base_url, "solve") as (backends, bar):
        critique = None
        if any(s in NEEDS_CRITIC for s in strategy):
            critique = backends.critic(model, critic_mode, critic_samples, max_new_tokens)
        report = run_solve(
            input,
            target,
            backends.get(actor_model),
            critique,
            config,
            list(dict.fromkeys(strategy)),
            batch_size=batch_size,
            limit=limit,
            progress=bar.update,
        )
    typer.echo(format_accuracy(report.summary))
    finish(report, f"written now {report.written}, already done {report.skipped} -> {target}")


def format_accuracy(summary: dict[str, dict[str, Any]]) -> str:
    """One line per strategy: accuracy with its 95 % interval, any-correct share and tokens per problem."""
    lines = [f"{'strategy':16} {'accuracy':>9} {'95% interval':>15} {'any right':>10} {'tokens/problem':>15} {'n':>5}"]
    for name, row in summary.items():
        low, high = row["interval"] or (0.0, 0.0)
        tokens = row["actor_tokens_per_problem"] + row["critic_tokens_per_problem"]
        lines.append(
            f"{name:16} {100 * row['accuracy']:8.1f}% {f'[{100 * low:.1f}, {100 * high:.1f}]':>15} "
            f"{100 * row['any_correct']:9.1f}% {tokens:15.0f} {row['problems']:>5}"
        )
    return "\n".join(lines)
