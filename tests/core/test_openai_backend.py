"""The openai backend against a small OpenAI-compatible stub server started by the test on loopback."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.backends import GenerationParams, create_backend
from core.backends.base import Generation, StreamedText
from core.backends.openai_backend import OpenAIBackend, normalize_base_url, split_completion_tokens
from core.errors import BackendUnavailableError, BadInputError, ConfigError


@dataclass
class StubBehaviour:
    """What the stub does; tests change it before sending requests."""

    served: list[str] = field(default_factory=lambda: ["critic-small"])
    reject_n: bool = False  # answer 400 to n>1, like servers without multi-sample support
    fail_first: int = 0  # answer 503 to this many requests first
    hold_until_in_flight: int = 0  # hold requests until this many were in flight at once (proves concurrency)
    delay_forever: bool = False  # never answer until the test ends (timeouts)
    max_prompt_chars: int = 100_000  # longer prompts get a 400, like a server's max-model-len
    reject_extras: bool = False  # answer 400 to vLLM's extra fields (a grammar), like hosted OpenAI-style APIs
    reply: str | None = None  # answer every completion with this text (a served critic's critique)


class StubServer:
    """A threaded HTTP server speaking the parts of the OpenAI API the backend uses, recording every request."""

    def __init__(self, port: int = 0) -> None:
        self.behaviour = StubBehaviour()
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()  # set at teardown so no handler outlives the test
        self._cond = threading.Condition()
        self._failures = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        with self._cond:
            self._cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def completion_requests(self) -> list[dict]:
        return [r for r in self.requests if "messages" in r]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_StubHandler,), {"stub": self})


class _StubHandler(BaseHTTPRequestHandler):
    """Answers one request the way the `stub` server's behaviour says."""

    protocol_version = "HTTP/1.1"
    stub: StubServer

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "stub"} for m in self.stub.behaviour.served]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        stub = self.stub
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with stub._cond:
            stub.requests.append(body)
            stub.in_flight += 1
            stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            stub._cond.notify_all()
        try:
            self._complete(body)
        finally:
            with stub._cond:
                stub.in_flight -= 1

    def _refusal(self, body: dict) -> tuple[int, str, dict[str, str] | None] | None:
        """(status, message, headers) of the error the behaviour answers this request with, if any."""
        stub, behaviour = self.stub, self.stub.behaviour
        if behaviour.reject_extras and ("structured_outputs" in body or "repetition_penalty" in body):
            return 400, "Unrecognized request argument: structured_outputs", None
        if behaviour.reject_n and body.get("n", 1) > 1:
            return 400, "n > 1 is not supported", None
        if behaviour.hold_until_in_flight:
            with stub._cond:
                stub._cond.wait_for(
                    lambda: stub.max_in_flight >= behaviour.hold_until_in_flight or stub.release.is_set(),
                    timeout=5,
                )
        with stub._cond:
            fail = stub._failures < behaviour.fail_first
            stub._failures += fail
        if fail:
            return 503, "overloaded", {"retry-after-ms": "10"}
        return None

    def _complete(self, body: dict) -> None:
        behaviour = self.stub.behaviour
        if behaviour.delay_forever:
            self.stub.release.wait(30)
            return
        refusal = self._refusal(body)
        if refusal is not None:
            status, message, headers = refusal
            self._send(status, {"error": {"message": message}}, headers)
            return
        if body["model"] not in behaviour.served:
            message = f"The model `{body['model']}` does not exist."
            self._send(404, {"error": {"message": message, "type": "NotFoundError", "code": 404}})
            return
        prompt = body["messages"][-1]["content"]
        if len(prompt) > behaviour.max_prompt_chars:
            self._send(400, {"error": {"message": "This model's maximum context length is 2048 tokens."}})
            return
        n = body.get("n", 1)
        texts = [f"Step 1 is correct. sample {i} seed {body.get('seed')} for {prompt}" for i in range(n)]
        if behaviour.reply is not None:
            texts = [behaviour.reply] * n
        if body.get("stream"):
            self._stream(texts[0])
            return
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": tokens + 5}
        self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": choices, "usage": usage})  # fmt: skip

    def _stream(self, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        # A set reply comes back exactly (new lines and all); the default echo word by word.
        exact = self.stub.behaviour.reply is not None
        pieces = re.findall(r"\s*\S+", text) if exact else [word + " " for word in text.split(" ")]
        for piece in pieces:
            delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [delta]}  # fmt: skip
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.stop()


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def backend_for(stub: StubServer, **options: object) -> OpenAIBackend:
    return OpenAIBackend("critic-small", base_url=stub.url, **options)  # type: ignore[arg-type]


def test_k_samples_go_as_one_request_with_n(stub: StubServer) -> None:
    backend = create_backend("openai", "critic-small", base_url=stub.url)
    out = backend.generate([chat("first"), chat("second")], GenerationParams(n=4, temperature=0.8, max_new_tokens=32))
    assert [len(samples) for samples in out] == [4, 4]
    assert all("for first" in g.text for g in out[0]) and all("for second" in g.text for g in out[1])
    assert sorted(r["n"] for r in stub.completion_requests) == [4, 4]
    assert {r["max_tokens"] for r in stub.completion_requests} == {32}
    # The per-sample token counts add up to what the server reported for the whole request.
    assert sum(g.completion_tokens for g in out[0]) == sum(len(g.text.split()) for g in out[0])


def test_many_prompts_are_sent_concurrently(stub: StubServer) -> None:
    stub.behaviour.hold_until_in_flight = 8
    out = backend_for(stub).generate([chat(f"item {i}") for i in range(8)], GenerationParams(max_new_tokens=16))
    assert stub.max_in_flight == 8
    assert [samples[0].text.endswith(f"item {i}") for i, samples in enumerate(out)] == [True] * 8


def test_server_rejecting_n_gets_concurrent_single_requests(stub: StubServer) -> None:
    stub.behaviour.reject_n = True
    stub.behaviour.hold_until_in_flight = 3
    backend = backend_for(stub)
    out = backend.generate([chat("only")], GenerationParams(n=3, temperature=0.7, seed=10))
    assert len(out[0]) == 3
    assert len({g.text for g in out[0]}) == 3, "each sample has its own seed, so samples differ"
    assert stub.max_in_flight == 3
    assert backend.supports_n is False
    stub.requests.clear()
    stub.behaviour.hold_until_in_flight = 0
    backend.generate([chat("again")], GenerationParams(n=2, temperature=0.7))
    assert [r["n"] for r in stub.completion_requests] == [1, 1], "the rejection is remembered"


def test_stream_yields_text_in_chunks(stub: StubServer) -> None:
    *chunks, whole = list(backend_for(stub).stream(chat("stream me"), GenerationParams()))
    assert len(chunks) > 3
    assert "".join(chunks).strip() == "Step 1 is correct. sample 0 seed None for stream me"
    assert isinstance(whole, Generation) and whole.text == "".join(chunks), "the stream ends with the whole text"
    assert all(isinstance(c, StreamedText) and c.generated_at > 0 for c in chunks), "each chunk stamped on arrival"


def test_transient_server_errors_are_retried(stub: StubServer) -> None:
    stub.behaviour.fail_first = 2
    out = backend_for(stub, max_retries=2).generate([chat("x")], GenerationParams())
    assert out[0][0].text.startswith("Step 1 is correct")
    assert len(stub.completion_requests) == 3


def test_server_down_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend("critic-small", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(BackendUnavailableError, match="cannot reach .*127.0.0.1.*critic model serve"):
        backend.generate([chat("x")], GenerationParams())
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        list(backend.stream(chat("x"), GenerationParams()))


def test_wrong_model_name_lists_served_models(stub: StubServer) -> None:
    stub.behaviour.served = ["critic-small", "critic-large"]
    backend = OpenAIBackend("critic-typo", base_url=stub.url)
    with pytest.raises(BackendUnavailableError, match=r"'critic-typo' is not served .*critic-large, critic-small"):
        backend.generate([chat("x")], GenerationParams(n=2))
    assert backend_for(stub).served_models() == ["critic-large", "critic-small"]


def test_timeout_is_a_clear_error_not_a_hang(stub: StubServer) -> None:
    stub.behaviour.delay_forever = True
    backend = backend_for(stub, timeout_s=0.3, max_retries=0)
    with pytest.raises(BackendUnavailableError, match=r"did not answer within 0.3 s.*CRITIC_REQUEST_TIMEOUT_S"):
        backend.generate([chat("x")], GenerationParams())


def test_prompt_the_server_rejects_is_bad_input_naming_it(stub: StubServer) -> None:
    stub.behaviour.max_prompt_chars = 10
    with pytest.raises(BadInputError, match="rejected prompt 2: .*maximum context length"):
        backend_for(stub).generate([chat("short"), chat("far too long a prompt")], GenerationParams())


def test_missing_or_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CRITIC_BASE_URL"):
        OpenAIBackend("m")
    with pytest.raises(ConfigError, match="not an http"):
        OpenAIBackend("m", base_url="localhost:8000")
    assert normalize_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("https://h/v1") == "https://h/v1"


def test_split_completion_tokens_keeps_the_reported_total() -> None:
    assert split_completion_tokens(["aaaa", "aaaaaaaaaaaa"], 10) == [2, 8]
    assert sum(split_completion_tokens(["a", "bb", "ccc"], 7)) == 7
    assert split_completion_tokens(["only"], 3) == [3]


def test_a_server_that_refuses_the_grammar_gets_unconstrained_requests_and_the_result_says_so(
    stub: StubServer,
) -> None:
    from core.critic import REFUSED_GRAMMAR_NOTE, Critic
    from core.types import SolutionItem

    stub.behaviour.reject_extras = True
    critic = Critic(backend_for(stub), critic="llm")
    item = SolutionItem(problem="2 + 2?", steps=["2 + 2 = 4.", "The answer is 4."])
    result = critic.critique(item)
    assert not result.constrained and REFUSED_GRAMMAR_NOTE in result.notes
    sent = stub.completion_requests
    assert "structured_outputs" in sent[0] and "structured_outputs" not in sent[-1], "probed once, then plain"
    critic.critique(item)
    assert all("structured_outputs" not in r for r in stub.completion_requests[len(sent) :]), "refusal remembered"


def test_a_server_that_ignores_the_grammar_is_not_reported_as_constrained(stub: StubServer) -> None:
    from core.critic import REFUSED_GRAMMAR_NOTE, Critic
    from core.types import SolutionItem

    critic = Critic(backend_for(stub), critic="llm")
    result = critic.critique(SolutionItem(problem="2 + 2?", steps=["2 + 2 = 4."]))
    request = stub.completion_requests[-1]
    assert request["structured_outputs"]["regex"].startswith("\\*\\*Critique of Step 1")
    assert request["logprobs"] is True and request["top_logprobs"] >= 2
    # The stub answers free text whatever the grammar said: the critic sees that the format was not enforced.
    assert not result.constrained and REFUSED_GRAMMAR_NOTE in result.notes


def test_a_cpu_vllm_server_gets_sampled_requests_without_their_seed(stub: StubServer) -> None:
    # vLLM's CPU worker dies on a seeded request whose prompt is prefilled in chunks, so the auto backend's server on
    # a CPU is asked without seeds; every other server keeps them (reproducible samples).
    params = GenerationParams(n=2, temperature=0.7, seed=10, max_new_tokens=8)
    backend_for(stub).generate([chat("seeded")], params)
    assert [r.get("seed") for r in stub.completion_requests] == [10]
    stub.requests.clear()
    unseeded = backend_for(stub, request_seeds=False)
    out = unseeded.generate([chat("unseeded")], params)
    assert len(out[0]) == 2 and ["seed" in r for r in stub.completion_requests] == [False]
