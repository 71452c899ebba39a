"""Gradio's queue polls slowly while the app is idle and at Gradio's own pace while events come in."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest

from webapp import quiet_queue as q


def test_the_queue_is_quiet_when_idle_and_quick_while_events_come(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "IDLE_AFTER_S", 0.05)
    with gr.Blocks() as demo:
        gr.Markdown("hi")
    demo.queue()
    queue = demo._queue
    busy = (queue.sleep_when_free, queue.progress_update_sleep_when_free)
    pushed: list[str] = []

    async def push(body: str) -> str:
        pushed.append(body)
        return "queued"

    queue.push = push
    assert q.quiet_queue(demo)
    assert (queue.sleep_when_free, queue.progress_update_sleep_when_free) == (q.IDLE_POLL_S, q.IDLE_PROGRESS_POLL_S)

    async def use_then_wait() -> list[tuple[float, float]]:
        seen = []
        assert await queue.push("event") == "queued"
        seen.append((queue.sleep_when_free, queue.progress_update_sleep_when_free))
        await asyncio.sleep(0.2)
        seen.append((queue.sleep_when_free, queue.progress_update_sleep_when_free))
        return seen

    during, after = asyncio.run(use_then_wait())
    assert pushed == ["event"]
    assert during == busy and after == (q.IDLE_POLL_S, q.IDLE_PROGRESS_POLL_S)
