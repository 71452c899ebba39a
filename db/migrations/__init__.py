"""Alembic migration environment of the annotation database."""
