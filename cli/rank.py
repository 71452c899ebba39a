"""`critic rank`: best-of-N with the critic, compared with majority voting on the same candidates."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.options import (
    SPEC_HELP,
    BaseUrl,
    Critic,
    CriticMode,
    MaxNewTokens,
    Seed,
    default_output,
    finish,
    input_option,
    limit_option,
    percent,
    run_critic_job,
)

app = typer.Typer()


_INPUT_USES = (
    " Only 'problem' and the ground-truth answer are used ('answer', or a solution with "
    "'final_answer_correct': true); each problem is ranked once."
)


@app.command("rank", no_args_is_help=True)
def rank_command(
    input: Path = input_option(_INPUT_USES),
    candidates: int = typer.Option(4, "--candidates", "-n", min=2, help="Solutions sampled per problem (N)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL of ranked problems (appended; a rerun skips done ids). Default INPUT.ranked"
    ),
    generator: str | None = typer.Option(None, "--generator", "-g", help="Model that solves. " + SPEC_HELP),
    critic: Critic = None,
    critic_mode: CriticMode = "single",
    critic_samples: int = typer.Option(1, "--critic-samples", min=1, help="Critic samples per candidate (votes)."),
    temperature: float = typer.Option(0.8, "--temperature", help="Candidate sampling temperature (> 0)."),
    max_new_tokens: MaxNewTokens = 512,
    seed: Seed = None,
    base_url: BaseUrl = None,
    batch_size: int = typer.Option(2, "--batch-size", min=1, help="Problems whose candidates are sampled together."),
    limit: int | None = limit_option("Only the first N problems."),
    *,
    ctx: typer.Context,
) -> None:
    """Sample N solutions per problem, critique each, and pick the one the critic trusts most.

    Trust: no error found, then the highest share of critic samples finding none, then the latest first error,
    then the answer most candidates share. Prints the accuracy of the critic's pick next to majority voting,
    the first sample, and the best possible (any candidate right), over every row in the output file.
    """
    from core.ranking import RankConfig
    from training.generation_jobs import run_rank

    config = RankConfig.build(candidates=candidates, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    target = output or default_output(input, "ranked")
    report = run_critic_job(run_rank, "rank", ctx.params, config, target)
    s = report.summary
    finish(
        report,
        f"best-of-{candidates} on {s['problems']} problems: critic {percent(s['critic_accuracy'])}, "
        f"majority vote {percent(s['majority_accuracy'])}, first sample {percent(s['first_sample_accuracy'])}, "
        f"any correct {percent(s['oracle_accuracy'])} (written now {report.written}, already done {report.skipped}) "
        f"-> {target}",
    )
