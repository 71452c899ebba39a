"""Local generation with transformers: batched (left-padded, length-bucketed) chat generation and token streaming."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from core.backends.base import Backend, Generation, GenerationParams, Messages, StreamedText, TokenLogprobs
from core.backends.cpu import cpu_dtype_name
from core.errors import BackendUnavailableError, ConfigError
from core.grammar import Constraint
from core.models import resolve_model
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

# 16 rows keep the KV cache of GSM8K-sized critiques (~600 prompt + 256 new tokens) near 0.6 GB on the embedded
# model, while still amortising each decode step's read of the weights over many rows.
DEFAULT_MAX_BATCH_SIZE = 16


def pick_device(requested: str) -> str:
    """Resolve Settings.device: 'auto' means cuda when available, else cpu."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} requested but CUDA is not available: set CRITIC_DEVICE=cpu or auto")
    if requested != "cpu" and not requested.startswith(("cuda", "mps")):
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda or cuda:N")
    return requested


class TransformersBackend(Backend):
    """Runs a causal LM in this process. Prompts x samples are sorted by length and generated in batches."""

    name = "transformers"
    supports_constraints = True

    def __init__(
        self,
        model_name: str,
        *,
        device: str | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        cache_implementation: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(model_name)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be at least 1, got {max_batch_size}")
        settings = settings or get_settings()
        self.max_batch_size = max_batch_size
        # None = transformers' growing DynamicCache; "static" preallocates the KV cache for the whole batch.
        self.cache_implementation = cache_implementation
        self.device = pick_device(device or settings.device)
        self.path = resolve_model(model_name, settings)
        if self.device.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:  # fp16 is not supported for all CPU ops; bf16 only where the CPU has it natively (see backends.cpu)
            dtype = getattr(torch, cpu_dtype_name(settings.cpu_dtype))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self.model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=dtype).to(self.device)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(f"cannot load model {model_name!r} from {self.path}: {exc}") from exc
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.tokenizer.chat_template is None:
            raise BackendUnavailableError(f"model {model_name!r} has no chat template; use an instruct/chat model")
        self._stop_ids = self._eos_ids()
        self._ll_tokenizer: Any = None  # llguidance's view of the tokenizer, built on the first constrained call
        # One generate at a time per model: concurrent calls would only compete for the same cores.
        self._lock = threading.Lock()

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return sorted(ids)

    def encode_prompt(self, prompt: Messages) -> list[int]:
        """Token ids of a chat prompt through the model's chat template, ending with the assistant turn header."""
        ids = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate_kwargs(self, params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self._stop_ids,
        }
        if params.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = params.repetition_penalty
        if self.cache_implementation:
            kwargs["cache_implementation"] = self.cache_implementation
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        """Generate `params.n` completions per prompt, in prompt order.

        Each prompt is repeated n times when sampling; all rows are sorted by prompt length and cut into batches
        of `max_batch_size`, so similar lengths share a batch and little compute goes to padding.
        """
        import torch

        encoded = [self.encode_prompt(p) for p in prompts]
        # Greedy samples are identical: generate each prompt once and copy it n times.
        copies = params.n if params.temperature > 0 else 1
        rows = [(p, sample) for p in range(len(prompts)) for sample in range(copies)]
        rows.sort(key=lambda row: len(encoded[row[0]]))
        results: list[list[Generation]] = [[] for _ in prompts]
        kwargs = self._generate_kwargs(params)
        with self._lock, torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for start in range(0, len(rows), self.max_batch_size):
                batch = rows[start : start + self.max_batch_size]
                row_constraints = [constraints[p] for p, _ in batch]
                generations = self._generate_batch([encoded[p] for p, _ in batch], kwargs, row_constraints, params)
                for (p, _), generation in zip(batch, generations, strict=True):
                    results[p].append(generation)
        if copies == 1:
            return [gens * params.n for gens in results]
        return results

    def _processor(self, constraints: Sequence[Constraint | None], prompt_length: int, params: GenerationParams) -> Any:
        """The grammar/log-probability processor for a batch, or None when neither is asked for."""
        if not any(constraints) and not params.logprobs:
            return None
        from core.backends.constrained import GrammarLogitsProcessor, llguidance_tokenizer

        if any(constraints) and self._ll_tokenizer is None:
            vocab = self.model.get_output_embeddings().weight.shape[0]
            self._ll_tokenizer = llguidance_tokenizer(self.tokenizer, vocab, self._stop_ids)
        return GrammarLogitsProcessor(
            self._ll_tokenizer,
            constraints,
            prompt_length,
            params.logprobs,
            repetition_penalty=params.repetition_penalty,
            temperature=params.temperature,
            top_p=params.top_p,
        )

    def _with_processor(self, kwargs: dict[str, Any], processor: Any, constraints: Sequence[Constraint | None]) -> dict:
        if processor is None:
            return kwargs
        from transformers import LogitsProcessorList

        budget = max([kwargs["max_new_tokens"], *(c.max_tokens for c in constraints if c is not None)])
        # The processor applies the penalty, temperature and top-p itself, after it has read the distribution that
        # it reports (as vLLM's raw log-probabilities are read): transformers must not apply them a second time.
        kwargs = {k: v for k, v in kwargs.items() if k != "repetition_penalty"}
        if kwargs.get("do_sample"):
            kwargs.update(temperature=1.0, top_p=1.0, top_k=0)
        return {**kwargs, "logits_processor": LogitsProcessorList([processor]), "max_new_tokens": budget}

    def _generate_batch(
        self,
        batch: list[list[int]],
        kwargs: dict[str, Any],
        constraints: Sequence[Constraint | None],
        params: GenerationParams,
    ) -> list[Generation]:
        padded = self.tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention_mask = padded["attention_mask"].to(self.device)
        processor = self._processor(constraints, input_ids.shape[1], params)
        kwargs = self._with_processor(kwargs, processor, constraints)
        output = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        return [
            self._generation(row_tokens, processor.top[row] if processor else [], constraints[row] is not None)
            for row, row_tokens in enumerate(new_tokens)
        ]

    def _generation(self, row: list[int], top: list[tuple[list[int], list[float]]], constrained: bool) -> Generation:
        stop = set(self._stop_ids)
        end = next((i for i, token in enumerate(row) if token in stop), None)
        tokens = row if end is None else row[:end]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return Generation(
            text=text,
            completion_tokens=len(tokens),
            finish_reason="length" if end is None else "stop",
            tokens=self._token_logprobs(tokens, top),
            constrained=constrained,
        )

    def _token_logprobs(self, tokens: list[int], top: list[tuple[list[int], list[float]]]) -> tuple:
        if not top:
            return ()
        decode = self.tokenizer.decode
        return tuple(
            TokenLogprobs(
                text=decode([token]),
                top=tuple((decode([alt]), value) for alt, value in zip(ids, values, strict=True)),
            )
            for token, (ids, values) in zip(tokens, top, strict=False)
        )

    def stream(
        self, prompt: Messages, params: GenerationParams, constraint: Constraint | None = None
    ) -> Iterator[str | Generation]:
        """Yield decoded text pieces as tokens are generated (each stamped with that moment), then the Generation."""
        import torch

        streamer = _timed_streamer(self.tokenizer)
        input_ids = torch.tensor([self.encode_prompt(prompt)], device=self.device)
        processor = self._processor([constraint], input_ids.shape[1], params)
        kwargs = {
            **self._with_processor(self._generate_kwargs(params), processor, [constraint]),
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "streamer": streamer,
        }
        failure: list[BaseException] = []
        output: list[Any] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    output.append(self.model.generate(**kwargs))
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, name="transformers-stream", daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                worker.join()
        if failure:
            raise BackendUnavailableError(f"generation failed: {failure[0]}") from failure[0]
        row = output[0][0, input_ids.shape[1] :].tolist()
        yield self._generation(row, processor.top[0] if processor else [], constraint is not None)

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


def _timed_streamer(tokenizer: Any) -> Any:
    """transformers' TextIteratorStreamer, token by token, whose pieces are `StreamedText` stamped in the generating
    thread the moment `generate` hands over their token (so a slow reader cannot make text look newer than it is).

    The library's streamer holds text back until the next space when it ends in a symbol, which for a critique is
    every judgement (`\\boxed{1}` waits for the next token); the critic parses the text it has gathered, so each
    token's text is handed on at once, except half a character (a byte-level token inside a UTF-8 sequence).
    """
    from transformers import TextIteratorStreamer

    class TimedStreamer(TextIteratorStreamer):
        def put(self, value: Any) -> None:
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.reshape(-1).tolist())  # one sequence: a stream has batch size 1
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return
            piece = text[self.print_len :]
            if text.endswith("\n"):  # as the library does: a fresh cache per line, the last token kept as context
                self.token_cache = self.token_cache[-1:]
                self.print_len = len(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            else:
                self.print_len = len(text)
            if piece:
                self.on_finalized_text(piece)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            self.text_queue.put(StreamedText(text), timeout=self.timeout)
            if stream_end:
                self.text_queue.put(self.stop_signal, timeout=self.timeout)

    return TimedStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
