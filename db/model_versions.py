"""Model versions as the web app looks them up: a registered version's weights by its name or path."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import ModelVersion


def registered_model_path(session: Session, *, name_or_path: str) -> str | None:
    """The path of the registered version named (or stored at) `name_or_path`; None if none is."""
    query = select(ModelVersion.path).where(or_(ModelVersion.name == name_or_path, ModelVersion.path == name_or_path))
    return session.scalar(query.limit(1))
