"""Query building shared by the repositories: conditions that apply only when their value is given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select

Query = TypeVar("Query", bound=Select[Any])


def where_given(query: Query, conditions: Iterable[tuple[Any, Any]]) -> Query:
    """`query` limited to rows whose column equals the value, for each (column, value) whose value is not None."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query
