"""vLLM for real on CPU: one OpenAI-compatible server (started by `critic model serve`) and the in-process backend."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.backends import GenerationParams
from core.backends.openai_backend import OpenAIBackend
from core.critic import Critic
from core.errors import BackendUnavailableError
from core.settings import Settings, get_settings
from core.types import CritiqueResult, SolutionItem
from core.vllm_server import free_port
from tests.conftest import MODEL_CACHE, REPO_ROOT

SAMPLES = 3
MAX_NEW_TOKENS = 48  # enough to see real critique text; keeps the CPU time of the tests small
# Tests care about a quick start, not peak speed: no torch.compile, and the model runs in the engine process.
FAST_START_SERVER = ["--enforce-eager", "--distributed-executor-backend", "uni"]
CRITIC = [sys.executable, "-c", "from cli.main import main; main()"]  # the `critic` command of this environment


def vllm_python() -> Path:
    python = Settings().vllm_python
    if not python.exists():
        pytest.skip(f"no vLLM environment at {python}: run `bash scripts/vllm_env.sh` (scripts/test does)")
    return python


def subprocess_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CRITIC_HOME": str(home),
        "CRITIC_MODELS_DIR": str(MODEL_CACHE),
        "PYTHONPATH": str(REPO_ROOT),
    }


@dataclass
class ServedModel:
    base_url: str
    model: str
    printed_line: str
    log: Path


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    """ONE real vLLM server for every test here, started the way a user does: `critic model serve`."""
    python = vllm_python()
    home = tmp_path_factory.mktemp("vllm-server")
    log = home / "server.log"
    port = free_port()
    command = [*CRITIC, "model", "serve", "--model", "embedded", "--port", str(port)]
    command += ["--vllm-python", str(python), "--startup-timeout", "540", *FAST_START_SERVER]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=subprocess_env(home), stdout=subprocess.PIPE, stderr=log_file, text=True
        )
    printed: list[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            printed.append(line.strip())
            if "--backend openai" in line:
                ready.set()
        ready.set()  # the process ended without the line

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        ready.wait(600)
        line = next((p for p in printed if "--backend openai" in p), None)
        if line is None:
            tail = "\n".join(printed[-30:]) + "\n" + log.read_text(errors="replace")[-2000:]
            pytest.fail(f"`critic model serve` did not print the --backend openai line; its log ends:\n{tail}")
        words = line.split()
        yield ServedModel(words[words.index("--base-url") + 1], words[words.index("--model") + 1], line, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # `critic model serve` stops vLLM and its workers
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def processbench_item(processbench_dir: Path) -> dict[str, Any]:
    return json.loads((processbench_dir / "gsm8k.json").read_text())[0]


def check_result(result: CritiqueResult, item: dict[str, Any], backend: str) -> None:
    assert result.backend == backend
    assert result.samples == SAMPLES and len(result.votes) == SAMPLES
    assert [step.index for step in result.steps] == list(range(1, len(item["steps"]) + 1))
    assert [step.text for step in result.steps] == item["steps"]
    for step in result.steps:
        assert step.verdict in ("correct", "incorrect", "unchecked")
        assert isinstance(step.critique, str) and isinstance(step.meta_critique, str)
        assert step.vote_share is None or 0.0 <= step.vote_share <= 1.0
    # Under the critique grammar every sample is a whole critique, whatever the token budget.
    assert result.constrained and result.parse_status == "ok", result.notes
    first = result.first_error_step
    assert first == -1 or 1 <= first <= len(item["steps"])
    assert all(s.p_correct is not None for s in result.steps if s.model_verdict != "unchecked")
    assert len(result.raw_outputs) == SAMPLES and all(output.strip() for output in result.raw_outputs)
    assert result.completion_tokens > 0
    CritiqueResult.model_validate_json(result.model_dump_json())  # the public JSON schema round-trips


@pytest.mark.vllm
@pytest.mark.slow
def test_serve_prints_the_openai_backend_line(vllm_server: ServedModel) -> None:
    assert vllm_server.base_url.startswith("http://127.0.0.1:") and vllm_server.base_url.endswith("/v1")
    assert vllm_server.model == "embedded"
    backend = OpenAIBackend(vllm_server.model, base_url=vllm_server.base_url)
    assert backend.served_models() == ["embedded"]


@pytest.mark.vllm
@pytest.mark.slow
def test_openai_backend_critiques_a_processbench_item_with_n_k(
    vllm_server: ServedModel, processbench_item: dict[str, Any]
) -> None:
    backend = OpenAIBackend(vllm_server.model, base_url=vllm_server.base_url)
    sent: list[dict[str, Any]] = []
    create = backend.client.chat.completions.create

    def recording_create(**kwargs: Any) -> Any:
        sent.append(kwargs)
        return create(**kwargs)

    backend.client.chat.completions.create = recording_create  # type: ignore[method-assign]
    critic = Critic(backend, samples=SAMPLES, max_new_tokens=MAX_NEW_TOKENS, seed=1)
    result = critic.critique(SolutionItem.from_processbench(processbench_item))
    check_result(result, processbench_item, "openai")
    probe, *critiques = sent  # the first request asks once whether the server takes the grammar
    assert probe["max_tokens"] == 1 and "structured_outputs" in probe["extra_body"]
    assert [request["n"] for request in critiques] == [SAMPLES], "k samples go as one request with n=k"
    assert all("structured_outputs" in request["extra_body"] for request in critiques)
    assert backend.supports_n is True


@pytest.mark.vllm
@pytest.mark.slow
def test_streaming_and_clear_errors_against_the_real_server(vllm_server: ServedModel) -> None:
    backend = OpenAIBackend(vllm_server.model, base_url=vllm_server.base_url)
    *chunks, whole = list(backend.stream([{"role": "user", "content": "Count from 1 to 20."}], GenerationParams(32)))
    assert len(chunks) > 1 and "".join(chunks).strip() and whole.text == "".join(chunks)
    wrong = OpenAIBackend("no-such-critic", base_url=vllm_server.base_url)
    with pytest.raises(BackendUnavailableError, match="'no-such-critic' is not served .*served models: embedded"):
        wrong.generate([[{"role": "user", "content": "hi"}]], GenerationParams(max_new_tokens=4))


@pytest.mark.vllm
@pytest.mark.slow
def test_cli_critique_through_the_server(vllm_server: ServedModel, processbench_item: dict, tmp_path: Path) -> None:
    source = tmp_path / "item.json"
    source.write_text(json.dumps(processbench_item))
    out = tmp_path / "result.json"
    command = [*CRITIC, "critique", "--input", str(source), *vllm_server.printed_line.split()]
    command += ["--samples", str(SAMPLES), "--max-new-tokens", str(MAX_NEW_TOKENS), "--output", str(out)]
    done = subprocess.run(command, cwd=REPO_ROOT, env=subprocess_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    check_result(CritiqueResult.model_validate_json(out.read_text().strip()), processbench_item, "openai")


@pytest.mark.vllm
@pytest.mark.slow
def test_default_backend_starts_and_stops_its_own_vllm_server(processbench_item: dict, tmp_path: Path) -> None:
    """`critic critique` without --backend on a machine with the vLLM environment: the auto backend's server."""
    source = tmp_path / "item.json"
    source.write_text(json.dumps(processbench_item))
    out = tmp_path / "result.json"
    env = subprocess_env(tmp_path)
    del env["CRITIC_BACKEND"]  # what a user gets by default
    env["CRITIC_VLLM_PYTHON"] = str(vllm_python())
    env["CRITIC_AUTO_SERVER_MIN_BATCH"] = str(SAMPLES)  # this item's k samples are a batch worth the server
    env["CRITIC_AUTO_SERVER_ARGS"] = " ".join(FAST_START_SERVER)
    command = [*CRITIC, "critique", "--input", str(source), "--samples", str(SAMPLES)]
    command += ["--max-new-tokens", str(MAX_NEW_TOKENS), "--output", str(out)]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    log = (tmp_path / "logs" / "auto-vllm-server.log").read_text(errors="replace")
    assert done.returncode == 0, done.stderr[-2000:] + log[-2000:]
    check_result(CritiqueResult.model_validate_json(out.read_text().strip()), processbench_item, "auto:vllm-server")
    port = int(log.split("Starting vLLM server on http://127.0.0.1:")[1].split()[0].strip("/"))
    with socket.socket() as sock:  # the command stopped the server it started
        assert sock.connect_ex(("127.0.0.1", port)) != 0


IN_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import psutil
    from core.backends import create_backend
    from core.critic import Critic
    from core.types import SolutionItem

    def main() -> None:
        item = SolutionItem.from_processbench(json.loads(open(sys.argv[1]).read()))
        backend = create_backend("vllm", "embedded", enforce_eager=True, distributed_executor_backend="uni")
        print("ENGINE_PROCESSES " + json.dumps(len(psutil.Process().children(recursive=True))))
        engine_calls = []
        chat = backend.llm.chat

        def recording_chat(prompts, sampling, **kwargs):
            # One SamplingParams per prompt: each carries its own critique grammar.
            engine_calls.append([len(prompts), [p.n for p in sampling], [bool(p.structured_outputs) for p in sampling]])
            return chat(prompts, sampling, **kwargs)

        backend.llm.chat = recording_chat
        critic = Critic(backend, samples=int(sys.argv[2]), max_new_tokens=int(sys.argv[3]), seed=1)
        try:
            result = critic.critique(item)
            views = list(critic.stream(item, samples=1, temperature=0.0))  # the engine stepped here, no chat call
        finally:
            critic.close()
        print("ENGINE_CALLS " + json.dumps(engine_calls))
        print("RESULT " + result.model_dump_json())
        streamed = [v.raw_outputs[0] for v in views[:-1]]
        print("STREAM " + json.dumps({"partial": streamed, "final": views[-1].raw_outputs[0],
                                      "finished": [v.finished for v in views]}))

    if __name__ == "__main__":  # vLLM starts worker processes that re-import the main module
        main()
    """
)


@pytest.mark.vllm
@pytest.mark.slow
def test_in_process_vllm_backend_critiques_the_same_item(processbench_item: dict, tmp_path: Path) -> None:
    python = vllm_python()
    script = tmp_path / "critique_in_process.py"
    script.write_text(IN_PROCESS_SCRIPT)
    source = tmp_path / "item.json"
    source.write_text(json.dumps(processbench_item))
    command = [str(python), str(script), str(source), str(SAMPLES), str(MAX_NEW_TOKENS)]
    done = subprocess.run(
        command, cwd=tmp_path, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stdout.splitlines() if " " in line}
    assert json.loads(lines["ENGINE_CALLS"]) == [[1, [SAMPLES], [True]]], "one engine call with n=k, under the grammar"
    assert json.loads(lines["ENGINE_PROCESSES"]) == 0, "on a CPU the engine runs in the caller's process"
    check_result(CritiqueResult.model_validate_json(lines["RESULT"]), processbench_item, "vllm")
    # The in-process engine streams too: the critique grows view by view and the last one holds all of it.
    stream = json.loads(lines["STREAM"])
    assert len(stream["partial"]) >= 3 and stream["finished"] == [False] * len(stream["partial"]) + [True]
    assert all(b.startswith(a) for a, b in zip(stream["partial"], stream["partial"][1:], strict=False))
    assert stream["final"] == stream["partial"][-1] and len(stream["partial"][0]) < len(stream["final"])


def test_without_vllm_the_backend_and_serve_say_where_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from core.backends.vllm_backend import VLLMBackend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("this environment has vLLM installed (the gpu extra)")
    with pytest.raises(BackendUnavailableError, match="scripts/vllm_env.sh"):
        VLLMBackend("embedded")  # the project's own environment has no vLLM, by design
    monkeypatch.setenv("CRITIC_VLLM_PYTHON", str(tmp_path / "missing" / "python"))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["model", "serve", "--port", "8123"])
    assert result.exit_code == BackendUnavailableError.exit_code
    assert "scripts/vllm_env.sh" in result.output


def test_serve_reports_a_server_that_dies_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    argv_file = tmp_path / "argv.txt"
    fake_python = tmp_path / "python"  # answers the "has vllm" probe, then fails to start like a broken install
    fake_python.write_text(
        f'#!/bin/sh\n[ "$1" = -c ] && exit 0\necho "$@" > {argv_file}\necho "vllm: CUDA out of memory" >&2\nexit 1\n'
    )
    fake_python.chmod(0o755)
    result = CliRunner().invoke(
        app,
        ["model", "serve", "--model", str(checkpoint), "--vllm-python", str(fake_python), "--port", "8124"]
        + ["--dtype", "float32", "--enforce-eager", "--max-num-seqs", "4"],
    )
    assert result.exit_code == BackendUnavailableError.exit_code
    assert "exited with code 1 before answering" in result.output
    argv = argv_file.read_text().split()
    assert argv[:2] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--served-model-name") + 1] == str(checkpoint)
    assert argv[argv.index("--port") + 1] == "8124"
    assert "--enforce-eager" in argv and argv[argv.index("--max-num-seqs") + 1] == "4", "unknown options pass through"


class RecordingLLM:
    """Stands in for vllm.LLM: records the engine arguments and the environment vLLM would read at start."""

    created: list[dict[str, Any]] = []

    def __init__(self, **options: Any) -> None:
        multiprocessing = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
        RecordingLLM.created.append({"options": options, "multiprocessing": multiprocessing})


def in_process_engine_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **backend_options: Any) -> dict:
    from core.backends import vllm_backend

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir(exist_ok=True)
    (checkpoint / "config.json").write_text("{}")
    RecordingLLM.created = []
    monkeypatch.setattr(vllm_backend, "import_vllm", lambda: type("vllm", (), {"LLM": RecordingLLM}))
    monkeypatch.setattr("core.backends.cpu.gpu_available", lambda: False)
    vllm_backend.VLLMBackend(str(checkpoint), **backend_options)
    return RecordingLLM.created[-1]


def test_in_process_vllm_on_a_cpu_keeps_its_engine_here_with_the_kv_cache_the_setting_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    monkeypatch.setenv("CRITIC_VLLM_CPU_KV_CACHE_GIB", "0.5")
    get_settings.cache_clear()
    start = in_process_engine_start(monkeypatch, tmp_path)
    assert start["options"]["kv_cache_memory_bytes"] == 512 * 2**20, "fractions of a GiB are kept"
    assert start["multiprocessing"] == "0", "the engine runs inside this process on a CPU"
    assert start["options"]["max_num_batched_tokens"] == 2048, "prompts in chunks of 2048 tokens on a CPU"
    explicit = in_process_engine_start(monkeypatch, tmp_path, cpu_kv_cache_gib=1.25, max_num_batched_tokens=512)
    assert explicit["options"]["kv_cache_memory_bytes"] == 1280 * 2**20
    assert explicit["options"]["max_num_batched_tokens"] == 512, "engine arguments of the caller win"

    # vLLM lets its own variable override the engine argument, so the backend leaves the size to it.
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    user_choice = in_process_engine_start(monkeypatch, tmp_path)
    assert "kv_cache_memory_bytes" not in user_choice["options"]
    assert user_choice["multiprocessing"] == "1", "a user's own choice of engine process is kept"


def test_a_bad_kv_cache_size_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from core.errors import ConfigError

    monkeypatch.setenv("CRITIC_VLLM_CPU_KV_CACHE_GIB", "0")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="CRITIC_VLLM_CPU_KV_CACHE_GIB"):
        get_settings()
    monkeypatch.delenv("CRITIC_VLLM_CPU_KV_CACHE_GIB")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="cpu_kv_cache_gib must be above 0"):
        in_process_engine_start(monkeypatch, tmp_path, cpu_kv_cache_gib=-1)


def test_the_vllm_server_on_a_cpu_reserves_the_kv_cache_the_setting_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.vllm_server import vllm_server_command

    monkeypatch.setattr("core.backends.cpu.gpu_available", lambda: False)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    settings = Settings(vllm_cpu_kv_cache_gib=0.75)
    command = vllm_server_command(Path("python"), "model-dir", "embedded", settings=settings)
    assert command[command.index("--kv-cache-memory-bytes") + 1] == str(768 * 2**20)
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    assert "--kv-cache-memory-bytes" not in vllm_server_command(Path("python"), "model-dir", "embedded")
    monkeypatch.setattr("core.backends.cpu.gpu_available", lambda: True)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE")
    gpu = vllm_server_command(Path("python"), "model-dir", "embedded")
    assert "--kv-cache-memory-bytes" not in gpu, "on a GPU vLLM sizes its cache from --gpu-memory-utilization"


def test_an_unset_kv_cache_is_sized_for_the_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json

    from core.backends.cpu import KV_CACHE_SEQUENCES
    from core.vllm_server import vllm_server_command

    monkeypatch.setattr("core.backends.cpu.gpu_available", lambda: False)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    # SmolLM2-135M's shape: 30 layers, 3 KV heads of 64 dimensions.
    config = {"num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "hidden_size": 576}
    (tmp_path / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 8192}))
    settings = Settings(cpu_dtype="bfloat16")
    command = vllm_server_command(Path("python"), tmp_path, "embedded", settings=settings)
    per_token = 2 * 30 * 3 * 64 * 2  # keys and values, bfloat16
    reserved = int(command[command.index("--kv-cache-memory-bytes") + 1])
    assert reserved == per_token * 8192 * KV_CACHE_SEQUENCES
    assert reserved < 2**30, "a 135M model must not reserve GiBs it can never fill"
    # A checkpoint whose config does not say falls back to 2 GiB.
    assert vllm_server_command(Path("python"), "model-dir", "embedded", settings=settings)[-1] == str(2 * 2**30)


AGREEMENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from core.backends import GenerationParams, create_backend
    from core.confidence import judgement_confidences
    from core.grammar import Constraint

    def main() -> None:
        request = json.loads(open(sys.argv[1]).read())
        backend = create_backend("vllm", "embedded", enforce_eager=True, distributed_executor_backend="uni")
        try:
            constraint = Constraint(regex=request["regex"], max_tokens=request["max_tokens"])
            params = GenerationParams(max_new_tokens=request["max_tokens"], temperature=0.0, logprobs=5)
            generation = backend.generate([request["messages"]], params, [constraint])[0][0]
        finally:
            backend.close()
        print("CONFIDENCES " + json.dumps(judgement_confidences(generation.tokens)))

    if __name__ == "__main__":
        main()
    """
)


def _agreement_request() -> dict[str, Any]:
    """The pencils critique as a fixed text whose judgements (and answer) the model chooses: every backend then
    reads its confidence at the same judgements after the same text."""
    from core.grammar import _literal
    from core.prompts import critique_messages
    from tests.core.served_critiques import PENCILS_PROBLEM, PENCILS_STEPS

    analyses = ["multiplies six pencils by two dollars.", "multiplies three erasers by one dollar.",
                "adds the two costs to get sixteen dollars.", "subtracts sixteen from twenty."]  # fmt: skip
    blocks = [
        _literal(f"**Critique of Step {i}**: This step {text}\n**Meta-critique**: Checking again, the numbers are "
                 f"taken from the problem.\n**Judgement**: The correctness of Step {i} is: \\boxed{{") + "(?:1|-1)\\}"
        for i, text in enumerate(analyses, start=1)
    ]  # fmt: skip
    regex = "\n\n".join(blocks) + _literal("\n\n**Answer**: \\boxed{") + "(?:-1|1|2|3|4)\\}"
    return {"messages": critique_messages(PENCILS_PROBLEM, PENCILS_STEPS), "regex": regex, "max_tokens": 400}


@pytest.mark.vllm
@pytest.mark.slow
def test_p_correct_agrees_on_transformers_in_process_vllm_and_a_vllm_server(
    vllm_server: ServedModel, tmp_path: Path, embedded_model_dir: Path
) -> None:
    from core.backends import create_backend
    from core.confidence import judgement_confidences
    from core.grammar import Constraint

    request = _agreement_request()
    constraint = Constraint(regex=request["regex"], max_tokens=request["max_tokens"])
    params = GenerationParams(max_new_tokens=request["max_tokens"], temperature=0.0, logprobs=5)
    served = OpenAIBackend(vllm_server.model, base_url=vllm_server.base_url)
    from_server = judgement_confidences(served.generate([request["messages"]], params, [constraint])[0][0].tokens)
    local = create_backend("transformers", str(embedded_model_dir))
    try:
        from_transformers = judgement_confidences(
            local.generate([request["messages"]], params, [constraint])[0][0].tokens
        )
    finally:
        local.close()
    source = tmp_path / "request.json"
    source.write_text(json.dumps(request))
    script = tmp_path / "agreement.py"
    script.write_text(AGREEMENT_SCRIPT)
    done = subprocess.run(
        [str(vllm_python()), str(script), str(source)],
        cwd=tmp_path,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("CONFIDENCES "))
    in_process = {int(k): v for k, v in json.loads(line.split(" ", 1)[1]).items()}
    assert set(from_transformers) == set(in_process) == set(from_server) == {1, 2, 3, 4}
    for step in (1, 2, 3, 4):
        values = [from_transformers[step], in_process[step], from_server[step]]
        assert max(values) - min(values) <= 0.02, (step, values)
