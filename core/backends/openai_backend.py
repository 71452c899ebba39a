"""The `openai` backend: any OpenAI-compatible chat server (vLLM, TGI, llama.cpp, a hosted API)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import openai

from core.backends.base import Backend, Generation, GenerationParams, Messages, StreamedText, TokenLogprobs
from core.errors import BackendUnavailableError, BadInputError, ConfigError
from core.grammar import Constraint
from core.settings import Settings, get_settings

_START_HINT = "start one with `critic model serve` or pass the right --base-url / CRITIC_BASE_URL"


def normalize_base_url(base_url: str) -> str:
    """Accept `http://host:port` as well as `http://host:port/v1`: OpenAI-compatible servers live under /v1."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base URL {base_url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000/v1")
    return url if parts.path else url + "/v1"


def split_completion_tokens(texts: Sequence[str], total: int | None) -> list[int]:
    """Share a response's total completion tokens among its choices in proportion to their text length.

    With n>1 servers report only the sum; the per-choice split is an estimate whose sum stays exact.
    """
    if not texts:
        return []
    if total is None:
        # No usage block: about 4 characters per token is the usual English/maths rate.
        return [max(1, len(text) // 4) if text else 0 for text in texts]
    if len(texts) == 1:
        return [total]
    lengths = [len(text) for text in texts]
    chars = sum(lengths)
    if chars == 0:
        shares = [total // len(texts)] * len(texts)
    else:
        shares = [total * length // chars for length in lengths]
    shares[max(range(len(texts)), key=lambda i: lengths[i])] += total - sum(shares)
    return shares


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


class OpenAIBackend(Backend):
    """Sends chat completions to an OpenAI-compatible server, many requests at once.

    k samples per prompt go as one request with `n=k`; a server that rejects n>1 gets k concurrent requests
    instead (remembered for later calls). Transient failures (connection resets, 408/409/429/5xx, timeouts)
    are retried with exponential backoff by the official client; what is left becomes a
    BackendUnavailableError that says what to do.
    """

    name = "openai"
    supports_constraints = True

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        max_retries: int = 2,
        max_concurrency: int = 64,
        request_seeds: bool = True,
        settings: Settings | None = None,
    ) -> None:
        """`request_seeds=False` sends sampled requests without their seed: vLLM's CPU engine cannot rewind a seeded
        request's generator when it discards a token sampled for a chunked prompt, and its worker dies
        ("CPU Generator does not use offset"); the auto backend's server on a CPU is asked that way."""
        super().__init__(model_name)
        self.request_seeds = request_seeds
        settings = settings or get_settings()
        url = base_url or settings.base_url
        if not url:
            raise ConfigError(
                "the openai backend needs a server URL: pass --base-url http://127.0.0.1:8000/v1 "
                "or set CRITIC_BASE_URL (`critic model serve` starts a vLLM server and prints the line)"
            )
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        self.base_url = normalize_base_url(url)
        self.timeout_s = float(timeout_s if timeout_s is not None else settings.request_timeout_s)
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {self.timeout_s}")
        self.max_concurrency = max_concurrency
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or settings.api_key or "EMPTY",
            timeout=self.timeout_s,
            max_retries=max_retries,
        )
        # None until a request with n>1 has been answered or rejected.
        self.supports_n: bool | None = None
        # None until a request with vLLM's extra fields (grammar, repetition penalty) has been answered or rejected.
        self.supports_extras: bool | None = None
        self._probe_lock = threading.Lock()
        self._lock = threading.Lock()

    # ---- public API -------------------------------------------------------------------------------------------

    @property
    def serves_concurrently(self) -> bool:
        return True  # the server batches overlapping requests (vLLM: continuous batching)

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        workers = min(self.max_concurrency, len(prompts) * (params.n if self.supports_n is False else 1))
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="openai-backend") as pool:
            return list(
                pool.map(
                    lambda args: self._samples(args[0], args[1], params, args[2]),
                    zip(range(len(prompts)), prompts, constraints, strict=True),
                )
            )

    def stream(
        self, prompt: Messages, params: GenerationParams, constraint: Constraint | None = None
    ) -> Iterator[str | Generation]:
        """Yield text chunks as the server sends them, then the whole Generation (tokens, constrained flag)."""
        text, tokens, finish, usage = "", [], "stop", None
        constrained = False
        try:
            request, constrained = self._request_with_extras(prompt, params, 1, params.seed, constraint)
            request = {**request, "stream_options": {"include_usage": True}}
            # The context closes the HTTP stream when the consumer stops early (e.g. the UI cancels).
            with self.client.chat.completions.create(**request, stream=True) as chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = chunk.usage.completion_tokens
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    tokens.extend(_choice_tokens(choice))
                    finish = _finish(choice.finish_reason) if choice.finish_reason else finish
                    if choice.delta.content:
                        text += choice.delta.content
                        # Stamped on arrival: the server wrote it a network hop earlier.
                        yield StreamedText(choice.delta.content)
        except openai.APIError as exc:
            raise self._translate(exc, prompt_index=0) from exc
        count = usage if usage is not None else split_completion_tokens([text], None)[0]
        yield Generation(
            text=text, completion_tokens=count, finish_reason=finish, tokens=tuple(tokens), constrained=constrained
        )

    def served_models(self) -> list[str]:
        """The model names the server answers to (GET /v1/models)."""
        try:
            return sorted(model.id for model in self.client.models.list())
        except openai.APIError as exc:
            raise self._translate(exc, prompt_index=None) from exc

    def close(self) -> None:
        self.client.close()

    # ---- internals --------------------------------------------------------------------------------------------

    def _samples(
        self, index: int, prompt: Messages, params: GenerationParams, constraint: Constraint | None
    ) -> list[Generation]:
        if params.n == 1 or self.supports_n is False:
            return self._fan_out(index, prompt, params, params.n, constraint)
        try:
            generations = self._complete(index, prompt, params, n=params.n, seed=params.seed, constraint=constraint)
        except openai.BadRequestError:
            # Some servers (and some sampling settings) refuse n>1: ask again one sample per request.
            generations = self._fan_out(index, prompt, params, params.n, constraint)
            with self._lock:
                self.supports_n = False
            return generations
        with self._lock:
            self.supports_n = True
        if len(generations) < params.n:  # a server that silently caps n: top up with single requests
            missing = params.n - len(generations)
            generations += self._fan_out(index, prompt, params, missing, constraint, seed_offset=len(generations))
        return generations[: params.n]

    def _fan_out(
        self,
        index: int,
        prompt: Messages,
        params: GenerationParams,
        count: int,
        constraint: Constraint | None,
        seed_offset: int = 0,
    ) -> list[Generation]:
        """`count` single-sample requests for one prompt, sent concurrently (not from the shared pool: no deadlock)."""

        def one(sample: int) -> Generation:
            # Distinct seeds so seeded samples differ, as they would within one n=k request.
            seed = None if params.seed is None else params.seed + seed_offset + sample
            return self._complete(index, prompt, params, n=1, seed=seed, constraint=constraint)[0]

        if count == 1:
            return [one(0)]
        workers = min(count, self.max_concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-sample") as pool:
            return list(pool.map(one, range(count)))

    def _request_with_extras(
        self, prompt: Messages, params: GenerationParams, n: int, seed: int | None, constraint: Constraint | None
    ) -> tuple[dict[str, object], bool]:
        """The request, with vLLM's extra fields unless this server refused them; and whether it carries the grammar.

        The first request with extras is a probe: a server that rejects it (400/422) is asked again without them,
        and later requests go without them, so critiques from such a server are generated unconstrained.
        """
        args = self._request_args(prompt, params, n=n, seed=seed)
        extras: dict[str, object] = {}
        if constraint is not None:
            extras["structured_outputs"] = {"regex": constraint.regex}
            args["max_tokens"] = max(params.max_new_tokens, constraint.max_tokens)
        if params.repetition_penalty != 1.0:
            extras["repetition_penalty"] = params.repetition_penalty
        if not extras or self.supports_extras is False:
            return args, False
        if self.supports_extras is None:
            # One probe for all the threads of a batch: the others wait for its answer instead of probing too.
            with self._probe_lock:
                if self.supports_extras is None:
                    try:
                        self.client.chat.completions.create(**{**args, "max_tokens": 1, "n": 1, "extra_body": extras})
                        self.supports_extras = True
                    except (openai.BadRequestError, openai.UnprocessableEntityError):
                        self.supports_extras = False
        if not self.supports_extras:
            return args, False
        return {**args, "extra_body": extras}, constraint is not None

    def _complete(
        self,
        index: int,
        prompt: Messages,
        params: GenerationParams,
        n: int,
        seed: int | None,
        constraint: Constraint | None = None,
    ) -> list[Generation]:
        try:
            request, constrained = self._request_with_extras(prompt, params, n, seed, constraint)
            response = self.client.chat.completions.create(**request)
        except openai.BadRequestError as exc:
            if n > 1:
                raise  # the caller asks again with n=1 before calling the prompt bad
            raise self._translate(exc, prompt_index=index) from exc
        except openai.APIError as exc:
            raise self._translate(exc, prompt_index=index) from exc
        choices = sorted(response.choices, key=lambda choice: choice.index)
        texts = [choice.message.content or "" for choice in choices]
        usage = response.usage.completion_tokens if response.usage else None
        tokens = split_completion_tokens(texts, usage)
        return [
            Generation(
                text=text,
                completion_tokens=count,
                finish_reason=_finish(choice.finish_reason),
                tokens=tuple(_choice_tokens(choice)),
                constrained=constrained,
            )
            for text, count, choice in zip(texts, tokens, choices, strict=True)
        ]

    def _request_args(self, prompt: Messages, params: GenerationParams, n: int, seed: int | None) -> dict[str, object]:
        args: dict[str, object] = {
            "model": self.model_name,
            "messages": prompt,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": n,
        }
        if seed is not None and self.request_seeds:
            args["seed"] = seed
        if params.logprobs:
            args["logprobs"] = True
            args["top_logprobs"] = min(params.logprobs, 20)
        return args

    def _translate(self, exc: openai.APIError, prompt_index: int | None) -> Exception:
        """Turn a client error into the project's error with a message that says what to do."""
        where = f"the OpenAI-compatible server at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailableError(
                f"{where} did not answer within {self.timeout_s:g} s (after retries); "
                "raise CRITIC_REQUEST_TIMEOUT_S, lower max_new_tokens, or check the server load"
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendUnavailableError(f"cannot reach {where} ({exc.__cause__ or exc}); {_START_HINT}")
        if isinstance(exc, openai.NotFoundError):
            try:
                served = ", ".join(sorted(model.id for model in self.client.models.list())) or "none"
            except openai.APIError:
                served = "unknown (GET /v1/models failed)"
            return BackendUnavailableError(
                f"model {self.model_name!r} is not served by {where}; served models: {served}. "
                "Pass one of them as --model (or CRITIC_MODEL)"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return BackendUnavailableError(f"{where} refused the API key ({exc.status_code}); set CRITIC_API_KEY")
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            item = f"prompt {prompt_index + 1}" if prompt_index is not None else "the request"
            return BadInputError(f"{where} rejected {item}: {_server_message(exc)}")
        return BackendUnavailableError(f"{where} failed: {_server_message(exc)}")


def _choice_tokens(choice: object) -> list[TokenLogprobs]:
    """A response choice's (or stream delta's) token log-probabilities in the backend-neutral form."""
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) or []
    return [
        TokenLogprobs(
            text=entry.token,
            top=tuple((alt.token, float(alt.logprob)) for alt in (entry.top_logprobs or [])),
        )
        for entry in content
    ]


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("message"):
            return str(body["message"])
    return exc.message
