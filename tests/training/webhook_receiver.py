"""A local webhook receiver for tests: a tiny http.server in a thread that records requests and answers a set code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    """Requests received (body bytes and headers) and the status code the next ones get."""

    url: str
    status: int = 200
    requests: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (a free port) until the block ends."""
    state = Receiver(url="", status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.requests.append((body, dict(self.headers.items())))
            self.send_response(state.status)
            self.end_headers()
            self.wfile.write(b"ok" if state.status < 300 else b"receiver broke")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
