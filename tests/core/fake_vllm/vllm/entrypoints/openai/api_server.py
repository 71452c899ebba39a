"""`python -m vllm.entrypoints.openai.api_server` for tests: the stub OpenAI server on the port vLLM would use."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from tests.core.test_openai_backend import StubServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--startup-delay", type=float, default=0.5, help="seconds before answering, like a real start")
    args, _unknown = parser.parse_known_args()
    time.sleep(args.startup_delay)
    server = StubServer(args.port)
    server.behaviour.served = [args.served_model_name]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
