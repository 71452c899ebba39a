"""Annotation database: SQLAlchemy models, sessions, migrations, repositories, import/export."""
