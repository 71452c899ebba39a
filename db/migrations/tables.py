"""Building blocks of the migrations: column kinds, and tables with their keys and indexes named by convention.

Every name is the one `db.models.NAMING_CONVENTION` gives, so the migrated schema equals the models'.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# An index: a column name (named ix_<table>_<column>), or an explicit name and its columns.
IndexSpec = str | tuple[str, list[str]]
# A unique constraint: a column name (named uq_<table>_<column>), or an explicit name and its columns.
UniqueSpec = str | tuple[str, list[str]]
# A foreign key: (column, referred table), optionally with its ON DELETE action; it refers to the table's `id`.
ForeignKeySpec = tuple[str, str] | tuple[str, str, str]


def integer(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def real(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=nullable)


def boolean(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def string(name: str, length: int, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def text(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def json(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=nullable)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _foreign_key(table: str, spec: ForeignKeySpec) -> sa.ForeignKeyConstraint:
    column, referred = spec[0], spec[1]
    ondelete = spec[2] if len(spec) == 3 else None
    name = op.f(f"fk_{table}_{column}_{referred}")
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=name, ondelete=ondelete)


def _unique(table: str, spec: UniqueSpec) -> sa.UniqueConstraint:
    if isinstance(spec, str):
        return sa.UniqueConstraint(spec, name=op.f(f"uq_{table}_{spec}"))
    return sa.UniqueConstraint(*spec[1], name=spec[0])


def create_table(
    name: str,
    *columns: sa.Column,
    foreign_keys: Sequence[ForeignKeySpec] = (),
    primary_key: Sequence[str] = ("id",),
    unique: Sequence[UniqueSpec] = (),
    indexes: Sequence[IndexSpec] = (),
) -> None:
    """Create a table (with an integer `id` first unless `primary_key` names other columns) and its indexes."""
    id_column = [integer("id")] if tuple(primary_key) == ("id",) else []
    op.create_table(
        name,
        *id_column,
        *columns,
        *(_foreign_key(name, spec) for spec in foreign_keys),
        sa.PrimaryKeyConstraint(*primary_key, name=op.f(f"pk_{name}")),
        *(_unique(name, spec) for spec in unique),
    )
    if indexes:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for index in indexes:
                index_name, index_columns = _index(batch_op, name, index)
                batch_op.create_index(index_name, index_columns, unique=False)


def drop_table(name: str, *, indexes: Sequence[IndexSpec] = ()) -> None:
    """Drop a table made by `create_table` with these indexes (the indexes first, newest first)."""
    if indexes:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for index in reversed(indexes):
                batch_op.drop_index(_index(batch_op, name, index)[0])
    op.drop_table(name)


def _index(batch_op: object, table: str, index: IndexSpec) -> tuple[str, list[str]]:
    if isinstance(index, str):
        return batch_op.f(f"ix_{table}_{index}"), [index]  # type: ignore[attr-defined]
    return index
