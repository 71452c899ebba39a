"""`critic import` and `critic export`: move items and annotations between files and the database."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer()


_URL_HELP = "SQLAlchemy URL; default CRITIC_DATABASE_URL or the SQLite file under CRITIC_HOME."


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="File to import (JSON array, JSON Lines, or PRM800K JSONL)."),
    format: str = typer.Option(..., "--format", "-f", help="processbench, prm800k, mr-gsm8k or jsonl."),
    campaign: str | None = typer.Option(None, help="Add the items to this campaign (created if missing)."),
    batch_size: int = typer.Option(500, help="Records per transaction; an interrupted import keeps whole batches."),
    critique: bool = typer.Option(
        True,
        "--critique/--no-critique",
        help="With --campaign: queue a job that critiques the campaign's uncritiqued items (a worker runs it), "
        "so annotators start from the critic's labels.",
    ),
    database_url: str | None = typer.Option(None, help=_URL_HELP),
) -> None:
    """Import items (and PRM800K ratings as annotations); re-running adds nothing already stored."""
    from tqdm import tqdm

    from db.importer import ImportSummary, import_file
    from db.session import init_db

    init_db(database_url)
    with tqdm(desc="import", unit=" records", disable=None) as bar:  # disable=None: only on a terminal

        def report(message: str) -> None:
            bar.write(f"rejected {message}", file=sys.stderr)

        def progress(summary: ImportSummary) -> None:
            bar.update(summary.imported + summary.duplicates + summary.rejected - bar.n)

        summary = import_file(
            file,
            fmt=format,
            campaign=campaign,
            url=database_url,
            batch_size=batch_size,
            on_error=report,
            on_batch=progress,
        )
    if summary.labels_line():
        typer.echo(summary.labels_line())
    typer.echo(summary.line())
    if campaign and critique:
        _queue_critiques(campaign, database_url)


def _queue_critiques(campaign: str, database_url: str | None) -> None:
    from db.campaigns import get_campaign
    from db.session import session_scope
    from training.item_critiques import queue_item_critiques

    with session_scope(database_url) as session:
        job = queue_item_critiques(session, campaign_id=get_campaign(session, name=campaign).id)
        if job is not None:
            typer.echo(
                f"queued critique_items job {job.id}: a worker (`critic worker` or `critic serve`) critiques them"
            )


@app.command("export")
def export(
    format: str = typer.Option(
        ..., "--format", "-f", help="prm800k, processbench, jsonl (items, code items with their tests), hf or csv."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="File to write (a directory for hf)."),
    campaign: str | None = typer.Option(None, help="Only this campaign's items and annotations."),
    status: list[str] = typer.Option([], help="Only annotations with this status (repeatable): submitted, approved..."),
    database_url: str | None = typer.Option(None, help=_URL_HELP),
) -> None:
    """Export annotations (prm800k: one per line) or items with their labels (processbench, jsonl, hf, csv)."""
    from db.exporter import export as run_export
    from db.session import init_db

    init_db(database_url)
    count = run_export(output, fmt=format, campaign=campaign, statuses=status or None, url=database_url)
    typer.echo(f"exported {count} records to {output}")
