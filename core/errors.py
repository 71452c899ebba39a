"""The project's error hierarchy: libraries raise these, the CLI and web handlers turn them into messages."""

from __future__ import annotations


class CriticError(Exception):
    """Base class of every error the project raises on purpose."""

    exit_code: int = 1


class BadInputError(CriticError):
    """Input from a user or a file is malformed; the message names the item and field."""

    exit_code = 2


class ConfigError(BadInputError):
    """A configuration value is invalid; the message says how to fix it."""


class BackendUnavailableError(CriticError):
    """A generation backend cannot be used (missing extra, server down, unknown model)."""

    exit_code = 3


class SandboxUnavailableError(BackendUnavailableError):
    """Untrusted code cannot run here: bubblewrap is missing or cannot create its sandbox; the message says why."""


class ConflictError(CriticError):
    """A write lost a race: the row changed since it was loaded (optimistic concurrency)."""

    exit_code = 4


class PermissionDeniedError(CriticError):
    """The acting user's role does not allow this action."""

    exit_code = 5


class NotFoundError(CriticError):
    """A named thing (item, job, model version, campaign) does not exist."""

    exit_code = 6


class DatabaseBusyError(CriticError):
    """A write waited too long for the database (SQLite: another writer held its only write lock); nothing changed."""

    exit_code = 7
