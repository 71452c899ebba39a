"""Start the real Gradio app in this process on a free port, for gradio_client and browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.vllm_server import free_port
from webapp.context import AppContext


@contextmanager
def running_app(ctx: AppContext) -> Iterator[str]:
    """Yield the base URL of a running app; the server is closed afterwards."""
    from webapp.app import launch

    port = free_port()
    demo = launch(ctx, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
