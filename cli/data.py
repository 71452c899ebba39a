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
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="prm800k, processbench, jsonl (items, code items with their tests), hf or csv (needed unless --version).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="File to write (a directory for hf)."),
    campaign: str | None = typer.Option(None, help="Only this campaign's items and annotations."),
    status: list[str] = typer.Option([], help="Only annotations with this status (repeatable): submitted, approved..."),
    version: int | None = typer.Option(
        None,
        "--version",
        help="Write this recorded dataset version again, byte for byte, whatever changed since "
        "(`critic dataset-versions` lists them); refused with a reason if it cannot be reproduced exactly.",
    ),
    database_url: str | None = typer.Option(None, help=_URL_HELP),
) -> None:
    """Export annotations (prm800k: one per line) or items with their labels (processbench, jsonl, hf, csv).

    Each export is recorded as a dataset version (filters, counts, content hash, annotation versions)."""
    import getpass

    from core.errors import BadInputError
    from db.exporter import export as run_export
    from db.session import init_db

    if format is None and version is None:
        raise BadInputError("give --format (prm800k, processbench, jsonl, hf or csv), or --version N to export again")
    init_db(database_url)
    result = run_export(
        output,
        fmt=format,
        campaign=campaign,
        statuses=status or None,
        url=database_url,
        version=version,
        created_by=f"cli:{getpass.getuser()}",
    )
    again = "again " if version is not None else ""
    typer.echo(
        f"exported {result.count} records to {output} {again}as dataset version {result.version_id} "
        f"(sha256 {result.content_hash})"
    )


@app.command("dataset-versions")
def dataset_versions(
    limit: int = typer.Option(20, help="How many of the newest versions."),
    database_url: str | None = typer.Option(None, help=_URL_HELP),
) -> None:
    """List recorded dataset versions: exports and training snapshots, their filters, counts and content hash."""
    from db.dataset_versions import list_dataset_versions
    from db.session import init_db, session_scope

    init_db(database_url)
    with session_scope(database_url) as session:
        versions = list_dataset_versions(session, limit=limit)
    if not versions:
        typer.echo("no dataset versions yet: every `critic export` records one")
    for v in versions:
        filters = ", ".join(f"{k}={val}" for k, val in v.filters.items() if val not in (None, [], ""))
        counts = ", ".join(f"{k} {n}" for k, n in v.counts.items())
        typer.echo(
            f"{v.id:>4}  {v.format:<12} {v.purpose:<20} {counts}  [{filters or 'no filters'}]  "
            f"sha256 {v.content_hash[:16]}  {v.created_at:%Y-%m-%d %H:%M}"
        )
