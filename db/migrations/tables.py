"""Building blocks of the migrations: column kinds, and tables with their keys and indexes named by convention.

Every name is the one `db.models.NAMING_CONVENTION` gives, so the migrated schema equals the models'.
A column's foreign key (`references`) and index (`index=True`) are declared with it, as in the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# An explicit index or unique constraint over several columns: its name and its columns.
Named = tuple[str, list[str]]


def _column(
    name: str,
    kind: Any,
    *,
    nullable: bool = False,
    index: bool = False,
    references: str | None = None,
    ondelete: str | None = None,
) -> sa.Column:
    info = {"index": index, "references": references, "ondelete": ondelete}
    return sa.Column(name, kind, nullable=nullable, info=info)


def integer(name: str, **options: Any) -> sa.Column:
    return _column(name, sa.Integer(), **options)


def real(name: str, **options: Any) -> sa.Column:
    return _column(name, sa.Float(), **options)


def boolean(name: str) -> sa.Column:
    return _column(name, sa.Boolean())


def string(name: str, length: int, **options: Any) -> sa.Column:
    return _column(name, sa.String(length=length), **options)


def text(name: str, **options: Any) -> sa.Column:
    return _column(name, sa.Text(), **options)


def json(name: str, **options: Any) -> sa.Column:
    return _column(name, sa.JSON(), **options)


def timestamp(name: str, **options: Any) -> sa.Column:
    return _column(name, sa.DateTime(timezone=True), **options)


def queue_state() -> list[sa.Column]:
    """Where a queued job or run stands: its status, what it was asked to do, and how far it got."""
    return [string("status", 20, index=True), json("config"), real("progress")]


def claim_columns() -> list[sa.Column]:
    """Which worker holds a queued job or run, its last sign of life, and how often it was claimed."""
    return [string("worker_id", 200, nullable=True), timestamp("heartbeat_at", nullable=True), integer("attempts")]


def run_times() -> list[sa.Column]:
    """Who queued a job or run, and when it was queued, started and finished (training jobs, eval runs)."""
    return [
        integer("created_by_id", nullable=True, references="users"),
        timestamp("created_at"),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
    ]


def create_link_table(name: str, first: tuple[str, str], second: tuple[str, str], linked_at: str) -> None:
    """A table pairing rows of two tables: keyed by the pair, indexed by its second column, gone with either row."""
    create_table(
        name,
        integer(first[0], references=first[1], ondelete="CASCADE"),
        integer(second[0], index=True, references=second[1], ondelete="CASCADE"),
        timestamp(linked_at),
        primary_key=(first[0], second[0]),
    )


def _foreign_key(table: str, column: sa.Column) -> sa.ForeignKeyConstraint:
    referred = column.info["references"]
    name = op.f(f"fk_{table}_{column.name}_{referred}")
    return sa.ForeignKeyConstraint([column.name], [f"{referred}.id"], name=name, ondelete=column.info["ondelete"])


def create_table(
    name: str,
    *columns: sa.Column,
    primary_key: Sequence[str] = ("id",),
    unique: Sequence[str | Named] = (),
    indexes: Sequence[Named] = (),
) -> None:
    """Create a table (with an integer `id` first unless `primary_key` names other columns) and its indexes.

    `unique` holds column names (constraint uq_<table>_<column>) or named column lists; `indexes` the indexes
    over several columns (a column's own index is `index=True`, named ix_<table>_<column>).
    """
    id_column = [integer("id")] if tuple(primary_key) == ("id",) else []
    referring = sorted((c for c in columns if c.info["references"]), key=lambda c: c.name)
    op.create_table(
        name,
        *id_column,
        *columns,
        *(_foreign_key(name, column) for column in referring),
        sa.PrimaryKeyConstraint(*primary_key, name=op.f(f"pk_{name}")),
        *(_unique(name, spec) for spec in unique),
    )
    indexed = [c.name for c in columns if c.info["index"]]
    if indexed or indexes:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in indexed:
                batch_op.create_index(batch_op.f(f"ix_{name}_{column}"), [column], unique=False)
            for index_name, index_columns in indexes:
                batch_op.create_index(index_name, index_columns, unique=False)


def _unique(table: str, spec: str | Named) -> sa.UniqueConstraint:
    if isinstance(spec, str):
        return sa.UniqueConstraint(spec, name=op.f(f"uq_{table}_{spec}"))
    return sa.UniqueConstraint(*spec[1], name=spec[0])
