"""Gradio's queue, quiet when idle: it looks for new events every 1 ms only while people are using the app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import gradio as gr

log = logging.getLogger(__name__)

# Gradio's queue loops look for a new event every 1 ms, and for progress to send every 10 ms, even when nothing is
# queued: over a thousand wake-ups a second, most of an idle server's CPU. After IDLE_AFTER_S without a new event
# they look every IDLE_POLL_S / IDLE_PROGRESS_POLL_S (Gradio's own values on Windows); the first event after a
# quiet spell waits at most IDLE_POLL_S for the queue, and every later one is picked up at Gradio's pace again.
IDLE_AFTER_S = 10.0
IDLE_POLL_S = 0.05
IDLE_PROGRESS_POLL_S = 0.1


def quiet_queue(demo: gr.Blocks) -> bool:
    """Make `demo`'s queue (after `demo.queue()`) poll slowly while idle; False when this Gradio has no such queue."""
    queue = getattr(demo, "_queue", None)
    if queue is None or not all(hasattr(queue, a) for a in ("sleep_when_free", "progress_update_sleep_when_free")):
        log.warning("Gradio's queue has other internals: the idle server polls at Gradio's own rate")
        return False
    busy = (queue.sleep_when_free, queue.progress_update_sleep_when_free)
    quiet = (max(busy[0], IDLE_POLL_S), max(busy[1], IDLE_PROGRESS_POLL_S))
    push = queue.push
    pending: dict[str, asyncio.TimerHandle] = {}

    def pace(values: tuple[float, float]) -> None:
        queue.sleep_when_free, queue.progress_update_sleep_when_free = values

    async def push_and_wake(*args: Any, **kwargs: Any) -> Any:
        # A new event: Gradio's pace now, and quiet again once no event came for IDLE_AFTER_S (a timer, no polling).
        pace(busy)
        if (handle := pending.pop("quiet", None)) is not None:
            handle.cancel()
        pending["quiet"] = asyncio.get_running_loop().call_later(IDLE_AFTER_S, pace, quiet)
        return await push(*args, **kwargs)

    queue.push = push_and_wake
    pace(quiet)
    return True
