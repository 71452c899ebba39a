"""`critic refine` and `critic eval refine`: critique-guided revision of solutions, and how often it fixes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.options import (
    SPEC_HELP,
    BaseUrl,
    Critic,
    CriticMode,
    MaxNewTokens,
    default_output,
    finish,
    input_option,
    limit_option,
    open_backends,
    parse_backend_spec,
    percent,
    run_critic_job,
)

app = typer.Typer()
eval_app = typer.Typer()
"""`critic eval refine`, added to the `critic eval` group."""

CriticSamples = Annotated[int, typer.Option("--critic-samples", min=1, help="Critic samples for Maj@k voting.")]
Generator = Annotated[str | None, typer.Option("--generator", "-g", help="Model that revises. " + SPEC_HELP)]
Rounds = Annotated[int, typer.Option("--rounds", "-r", min=1, max=10, help="Most critique -> revision rounds (CTRL).")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Solutions refined together.")]


_EVAL_INPUT_NEEDS = (
    " Items need a ground-truth 'answer'; on ProcessBench files it comes from solutions with "
    "'final_answer_correct': true and their same-problem siblings."
)


@app.command("refine", no_args_is_help=True)
def refine_command(
    ctx: typer.Context,
    input: Path = input_option(),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL of refinements (appended; a rerun skips done ids). Default INPUT.refined"
    ),
    rounds: Rounds = 1,
    generator: Generator = None,
    critic: Critic = None,
    critic_mode: CriticMode = "single",
    critic_samples: CriticSamples = 1,
    without_critique: bool = typer.Option(
        False,
        "--without-critique",
        "--self-revise",
        help="Revise without showing a critique (the self-revision baseline: same generator and rounds).",
    ),
    max_new_tokens: MaxNewTokens = 512,
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Revision temperature (0 = greedy)."),
    base_url: BaseUrl = None,
    batch_size: BatchSize = 4,
    limit: int | None = limit_option("Only the first N items."),
) -> None:
    """Revise solutions with their critiques: keep the steps before the first wrong one, rewrite from there.

    Each round critiques the current solution and, unless the critic accepts it, revises it; rounds stop when
    the critic finds no error or after --rounds. Each output row has every round's critique and revision and a
    step diff (kept / changed / added / removed) of the final solution against the original.

    Code items (with 'code' and tests): each round runs the tests, critiques the code with their outcome, revises
    it and runs the tests on the revision; rounds stop when every test passes. Rows give the tests passed before
    and after each round; the summary gives pass@1 before and after each round.
    """
    from core.refine import RefineConfig
    from training.code_jobs import has_code_items
    from training.generation_jobs import run_refine

    if has_code_items(input):
        _refine_code(ctx.params, output or default_output(input, "refined"))
        return

    config = RefineConfig.build(
        rounds=rounds, use_critique=not without_critique, max_new_tokens=max_new_tokens, temperature=temperature
    )
    target = output or default_output(input, "refined")
    report = run_critic_job(run_refine, "refine", ctx.params, config, target, with_critic=not without_critique)
    counts = report.counts
    finish(
        report,
        f"refined {sum(counts[k] for k in ('accepted', 'max_rounds', 'critique_unreadable'))}: "
        f"{counts['changed']} changed, {counts['accepted']} accepted by the critic "
        f"(written now {report.written}, already done {report.skipped}) -> {target}",
    )


def _refine_code(flags: dict[str, Any], target: Path) -> None:
    """`critic refine` on code items: checked revisions, with pass@1 per round."""
    from core.code.critique import CodeCritiqueConfig
    from core.code.refine import CodeRefineConfig
    from training.code_jobs import run_code_refine

    config = CodeRefineConfig.build(
        rounds=flags["rounds"],
        use_critique=not flags["without_critique"],
        max_new_tokens=flags["max_new_tokens"],
        temperature=flags["temperature"],
    )
    with open_backends(flags["base_url"], "refine code") as (backends, bar):
        generator = backends.get(flags["generator"])
        critic = None if flags["without_critique"] else backends.get(flags["critic"])
        report = run_code_refine(
            flags["input"],
            target,
            generator,
            critic,
            config,
            critique_config=CodeCritiqueConfig.build(max_new_tokens=min(flags["max_new_tokens"], 256)),
            batch_size=flags["batch_size"],
            limit=flags["limit"],
            progress=bar.update,
        )
    summary = report.summary
    rounds = " ".join(f"after {k}: {percent(summary[f'pass@1_after_{k}'])}" for k in range(config.rounds + 1))
    arm = "with critique" if config.use_critique else "self-revise"
    finish(
        report,
        f"refined {summary['items']} code items ({arm}); pass@1 {rounds}; {report.counts['passed']} pass every test "
        f"(written now {report.written}, already done {report.skipped}) -> {target}",
    )


@eval_app.command("refine", no_args_is_help=True)
def refine_eval_command(
    ctx: typer.Context,
    input: Path = input_option(_EVAL_INPUT_NEEDS),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for items.jsonl and summary.json (resumable)."),
    rounds: Rounds = 1,
    generator: Generator = None,
    critic: Critic = None,
    critic_mode: CriticMode = "single",
    critic_samples: CriticSamples = 1,
    max_new_tokens: MaxNewTokens = 512,
    base_url: BaseUrl = None,
    batch_size: BatchSize = 4,
    limit: int | None = limit_option("Only N items, alternating wrong and right original answers."),
    no_db: bool = typer.Option(False, "--no-db", help="Do not record the run in the database (as an EvalRun)."),
) -> None:
    """Does refinement fix solutions? Share of wrong answers turned right (w->c) and right turned wrong (c->w).

    Every item is revised twice, with the critic's critiques and without (self-revision), and the final answers
    are checked against the ground truth with math-verify.
    """
    from core.refine import RefineConfig
    from training.generation_jobs import run_refine_eval

    config = RefineConfig.build(rounds=rounds, max_new_tokens=max_new_tokens)
    report = run_critic_job(
        run_refine_eval,
        "eval refine",
        ctx.params,
        config,
        output,
        record=not no_db,
        critic_model=parse_backend_spec(critic)[1],
    )
    typer.echo(format_refine_summary(report.summary))
    finish(report, f"per-item rows: {output / 'items.jsonl'}; summary: {output / 'summary.json'}")


def format_refine_summary(summary: dict[str, Any]) -> str:
    """A small table: w->c and c->w with and without critiques."""

    def pct(value: Any) -> str:
        return "  n/a" if value is None else f"{100 * value:5.1f}%"

    lines = [f"{'':18} {'w->c':>8} {'c->w':>8} {'acc before':>11} {'acc after':>10} {'items':>6}"]
    for key, title in (("with_critique", "with critique"), ("without_critique", "without critique")):
        row = summary[key]
        lines.append(
            f"{title:18} {pct(row['w_to_c_rate']):>8} {pct(row['c_to_w_rate']):>8} "
            f"{pct(row['accuracy_before']):>11} {pct(row['accuracy_after']):>10} {row['items']:>6}"
        )
    return "\n".join(lines)
