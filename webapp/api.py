"""Named API endpoints for gradio_client (`/critique`, `/critique_stream`, `/save_annotation`), checked like the UI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from core.types import CritiqueResult
from webapp.context import AppContext
from webapp.handlers import annotate as annotate_handlers
from webapp.handlers import critique as critique_handlers
from webapp.ui import current_actor, shows_errors


def register(ctx: AppContext) -> None:
    """Add the API endpoints to the Blocks being built (call inside `with gr.Blocks()`)."""
    gr.api(_critique_endpoint(ctx), api_name="critique", concurrency_id="generation")
    gr.api(_critique_stream_endpoint(ctx), api_name="critique_stream", concurrency_id="generation")
    gr.api(_save_annotation_endpoint(ctx), api_name="save_annotation", concurrency_limit=32)


def _updates(
    ctx: AppContext,
    request: gr.Request,
    *,
    problem: str,
    solution: str,
    model: str,
    backend: str,
    mode: str,
    samples: int,
) -> Iterator[tuple[CritiqueResult, bool, int | None]]:
    """The critique's updates for the request's user, with the API's empty strings meaning 'the default'."""
    return critique_handlers.critique_stream(
        ctx,
        current_actor(ctx, request),
        problem=problem,
        solution=solution,
        model=model or None,
        backend=backend or None,
        mode=mode or "single",
        samples=int(samples),
    )


def _critique_endpoint(ctx: AppContext) -> Callable[..., dict[str, Any]]:
    @shows_errors
    def critique(
        problem: str,
        solution: str,
        model: str = "",
        backend: str = "",
        mode: str = "single",
        samples: int = 1,
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Critique one solution; returns the critique result JSON (steps, verdicts, first_error_step...)."""
        final: dict[str, Any] = {}
        updates = _updates(
            ctx, request, problem=problem, solution=solution, model=model, backend=backend, mode=mode, samples=samples
        )
        for result, done, _run_id in updates:
            if done:
                final = result.model_dump(mode="json")
        return final

    return critique


def _critique_stream_endpoint(ctx: AppContext) -> Callable[..., Iterator[dict[str, Any]]]:
    @shows_errors
    def critique_stream(
        problem: str,
        solution: str,
        model: str = "",
        backend: str = "",
        mode: str = "single",
        samples: int = 1,
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> Iterator[dict[str, Any]]:
        """Like `critique`, but yields partial results while the critic writes (`finished` false until the end)."""
        updates = _updates(
            ctx, request, problem=problem, solution=solution, model=model, backend=backend, mode=mode, samples=samples
        )
        for result, done, _run_id in updates:
            yield {**result.model_dump(mode="json"), "finished": done}

    return critique_stream


def _save_annotation_endpoint(ctx: AppContext) -> Callable[..., dict[str, Any]]:
    @shows_errors
    def save_annotation(
        item_id: int,
        ratings: list[int | None],
        finish_reason: str = "",
        campaign_id: int | None = None,
        annotation_id: int | None = None,
        version: int | None = None,
        flagged_steps: list[int] | None = None,
        comment: str = "",
        submit: bool = False,
        critique_rating: str = "",
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Save (or submit) step ratings (+1 / 0 / -1 / null per step) for an item.

        Pass the `annotation_id` and `version` you loaded to change an existing annotation. On a conflict the
        answer has `conflict: true` with both `mine` and `theirs`; nothing is overwritten. `critique_rating`
        (helpful, partly, misleading; "" = none) rates the item's critique, like the Annotate tab's buttons.
        """
        actor = current_actor(ctx, request)
        outcome = annotate_handlers.save(
            ctx,
            actor,
            item_id=int(item_id),
            campaign_id=campaign_id,
            ratings=list(ratings),
            finish_reason=finish_reason or None,
            flagged_steps=list(flagged_steps or []),
            comment=comment,
            annotation_id=annotation_id,
            version=version,
            submit=bool(submit),
            critique_rating=critique_rating or None,
        )
        return {
            "saved": outcome.saved,
            "conflict": outcome.conflict,
            "mine": outcome.mine,
            "theirs": outcome.theirs,
            "message": outcome.message,
        }

    return save_annotation
