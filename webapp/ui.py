"""Glue between Gradio events and handlers: who is asking, and project errors shown as messages."""

from __future__ import annotations

import functools
import html
import inspect
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
from pydantic import ValidationError

from core.config import describe_validation_error
from core.errors import ConflictError, CriticError
from webapp.auth import actor_from_request
from webapp.context import AppContext
from webapp.permissions import Actor

log = logging.getLogger(__name__)


def current_actor(ctx: AppContext, request: gr.Request | None) -> Actor:
    return actor_from_request(ctx.database_url, request)


def _text(message: str) -> str:
    # Gradio renders a toast's message as HTML (element content); messages quote names users chose.
    return html.escape(message, quote=False)


def one_line(exc: BaseException) -> str:
    """An error as one log line: its kind and message, newlines folded."""
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())


def _as_gradio_error(exc: Exception, where: str = "") -> gr.Error:
    # A refused or invalid request is the user's to fix: one log line, no traceback (Gradio's own included).
    if isinstance(exc, ConflictError):
        log.info("%s: %s", where or "web handler", one_line(exc))
        return gr.Error(_text(f"Conflict: {exc}"), title="Someone else saved first", print_exception=False)
    if isinstance(exc, ValidationError):
        # A value a handler passed into a typed model (mode="bogus" from the API): one line naming the field.
        log.info("%s: %s", where or "web handler", one_line(exc))
        message = f"Invalid input: {describe_validation_error(exc)}"
        return gr.Error(_text(message), title="Invalid input", print_exception=False)
    if isinstance(exc, CriticError):
        log.info("%s: %s", where or "web handler", one_line(exc))
        title = type(exc).__name__.removesuffix("Error") or "Error"
        return gr.Error(_text(str(exc)), title=title, print_exception=False)
    log.exception("unexpected error in a web handler")
    return gr.Error(_text(f"Unexpected error: {type(exc).__name__}: {exc}"))


def shows_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn project errors raised by an event function (or generator) into a visible gr.Error."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise _as_gradio_error(exc, fn.__name__) from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise _as_gradio_error(exc, fn.__name__) from exc

    return wrapper


def selected_row(evt: gr.SelectData, data: Any) -> list[Any] | None:
    """The clicked row of a Dataframe, as a list (None when the click was not on a row)."""
    try:
        row = evt.index[0]
        return list(data.iloc[row]) if hasattr(data, "iloc") else list(data[row])
    except (IndexError, TypeError, KeyError):
        return None


def selected_id(evt: gr.SelectData, data: Any, column: int = 0) -> Any:
    """The id in `column` of the clicked Dataframe row; an update that changes nothing when there is none."""
    row = selected_row(evt, data)
    try:
        return int(row[column])  # type: ignore[index]
    except (IndexError, TypeError, ValueError):
        return gr.update()
