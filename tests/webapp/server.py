"""Start the real Gradio app in this process on a free port, for gradio_client and browser tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from webapp.context import AppContext


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
