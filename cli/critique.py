"""`critic critique`: critique solutions from a file, stdin or the command line and write result JSON / JSONL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from cli.options import BACKEND_HELP

if TYPE_CHECKING:
    from pydantic import BaseModel

    from core.code.items import CodeItem
    from core.critic import Critic, CriticConfig
    from core.errors import BadInputError
    from core.types import CritiqueResult, SolutionItem

app = typer.Typer()


def _open_output(output: Path | None) -> IO[str]:
    if output is None or str(output) == "-":
        return sys.stdout
    output.parent.mkdir(parents=True, exist_ok=True)
    return output.open("w", encoding="utf-8")


InputOption = Annotated[
    str | None,
    typer.Option(
        "--input",
        "-i",
        help="File of items: one ProcessBench-shaped JSON object, a JSON array, or JSONL; '-' reads stdin. "
        "Each item has 'problem' and a 'steps' list or 'solution' text; an optional ProcessBench 'label' is kept.",
    ),
]
ProblemOption = Annotated[str | None, typer.Option("--problem", help="Problem text (instead of --input).")]
SolutionFileOption = Annotated[
    str | None,
    typer.Option(
        "--solution-file",
        help="Solution text for --problem, split into steps by paragraphs, 'Step i:' prefixes or numbered lists; "
        "'-' reads stdin.",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Critic model: 'embedded', a local checkpoint, a hub id, or a served model name. "
        "Default: CRITIC_MODEL (embedded).",
    ),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        "-b",
        help=BACKEND_HELP,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="OpenAI-compatible server URL for --backend openai (e.g. http://localhost:8000/v1)."
    ),
]
ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        help="single: one DeepCritic critique per sample; deliberate: initial, in-depth and merged critique per step.",
    ),
]
SamplesOption = Annotated[int, typer.Option("--samples", "-k", min=1, help="Samples per item for Maj@k voting (k).")]
MaxNewTokensOption = Annotated[
    int | None,
    typer.Option("--max-new-tokens", min=1, help="Generation budget per model call. Default: CRITIC_MAX_NEW_TOKENS."),
]
TemperatureOption = Annotated[
    float | None,
    typer.Option("--temperature", min=0.0, help="Sampling temperature. Default: 0 (greedy) for k=1, 0.7 for k>1."),
]
CriticKindOption = Annotated[
    str,
    typer.Option(
        "--critic",
        "-c",
        help="combined: steps the symbolic checker proves wrong are judged wrong (the reason is in the step's "
        "'check'); llm: the model's verdicts alone.",
    ),
]
ConstrainedOption = Annotated[
    str | None,
    typer.Option(
        "--constrained",
        help="auto: enforce the critique format with a grammar where the backend can; on: or fail; off: never. "
        "Default: CRITIC_CONSTRAINED (auto).",
    ),
]
BatchSizeOption = Annotated[
    int, typer.Option("--batch-size", min=1, help="Items sent to the backend together (each with all its samples).")
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Where to write results (default stdout): JSON for one item, JSONL for several."
    ),
]


@app.command(no_args_is_help=True)
def critique(
    input: InputOption = None,
    problem: ProblemOption = None,
    solution_file: SolutionFileOption = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = "single",
    samples: SamplesOption = 1,
    max_new_tokens: MaxNewTokensOption = None,
    temperature: TemperatureOption = None,
    critic_kind: CriticKindOption = "combined",
    constrained: ConstrainedOption = None,
    batch_size: BatchSizeOption = 16,
    output: OutputOption = None,
) -> None:
    """Critique math solutions step by step and name the first wrong step (-1 when all are correct).

    Code items (with 'code' and tests) are run in the sandbox first; their result has 'execution' (tests passed,
    failing tests with expected and actual values) and a 'verdict' that failing tests make incorrect.

    Bad items get a one-line error on stderr naming the item and field.

    The other items are still critiqued and written; the command then exits with code 2.
    """
    from core.code.items import CodeItem
    from core.critic import Critic, CriticConfig
    from core.errors import BadInputError
    from core.settings import get_settings
    from core.types import SolutionItem

    settings = get_settings()
    backend_name = backend or settings.backend
    _check_choices(input, problem, solution_file, mode, base_url, backend_name)
    config = CriticConfig.build(
        mode=mode,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        critic=critic_kind,
        constrained=constrained,
    )
    entries = _read_entries(input, problem, solution_file)
    items = [e for e in entries if isinstance(e, SolutionItem)]
    code_items = [e for e in entries if isinstance(e, CodeItem)]
    errors = [e for e in entries if isinstance(e, BadInputError)]
    for error in errors:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    if code_items:
        from core.sandbox import check_sandbox

        check_sandbox(settings)  # before loading a model: say now when code cannot run here, and why
    if items or code_items:
        options = {"base_url": base_url} if base_url else {}
        critic = Critic.create(model=model or settings.model, backend=backend_name, **options, **config.model_dump())
        sink = _open_output(output)
        try:
            if items:
                _write_results(critic, items, batch_size, sink, as_json=len(entries) == 1)
            if code_items:
                _write_code_results(critic, code_items, config, batch_size, sink, as_json=len(entries) == 1)
        finally:
            critic.close()
            if sink is not sys.stdout:
                sink.close()
    if errors:
        # Raised (not typer.Exit) so `critic` prints it and exits with the bad-input code after all good items.
        raise BadInputError(f"{len(errors)} of {len(entries)} item(s) rejected; {len(items)} critiqued")


def _check_choices(
    input: str | None, problem: str | None, solution_file: str | None, mode: str, base_url: str | None, backend: str
) -> None:
    """Raise ConfigError for options that do not go together."""
    from core.errors import ConfigError

    if (input is None) == (problem is None):
        raise ConfigError("give either --input FILE (or -) or --problem TEXT with --solution-file FILE")
    if problem is not None and solution_file is None:
        raise ConfigError("--problem needs --solution-file FILE (or - for stdin)")
    if mode not in ("single", "deliberate"):
        raise ConfigError(f"--mode {mode!r}: choose single or deliberate")
    if base_url and backend != "openai":
        raise ConfigError("--base-url is for --backend openai")


def _read_entries(
    input: str | None, problem: str | None, solution_file: str | None
) -> list[SolutionItem | CodeItem | BadInputError]:
    """The items to critique, from --problem with --solution-file or from --input; bad ones as errors."""
    from core.items_io import make_item, read_items
    from core.settings import get_settings

    settings = get_settings()
    if problem is not None:
        solution = sys.stdin.read() if solution_file == "-" else _read_solution(solution_file or "")
        return [make_item(problem, solution=solution, settings=settings, where="--solution-file")]
    return list(read_items(sys.stdin if input == "-" else Path(input or ""), settings=settings, code=True))


def _write(sink: IO[str], result: BaseModel, as_json: bool) -> None:
    if as_json:
        sink.write(result.model_dump_json(indent=2) + "\n")
    else:
        sink.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")


def _write_code_results(
    critic: Critic, items: list[CodeItem], config: CriticConfig, batch_size: int, sink: IO[str], *, as_json: bool
) -> None:
    """Code items: tests in the sandbox, then one critique each from the critic's backend, written batch by batch."""
    from core.code.critique import CodeCritiqueConfig, critique_code

    code_config = CodeCritiqueConfig.build(
        max_new_tokens=config.max_new_tokens,
        temperature=config.effective_temperature,
        constrained=config.constrained,
        repetition_penalty=config.repetition_penalty,
        profile=config.grammar,
    )
    for start in range(0, len(items), batch_size):
        for result in critique_code(critic.backend, items[start : start + batch_size], code_config):
            _write(sink, result, as_json)
        sink.flush()


def _write_results(critic: Critic, items: list[SolutionItem], batch_size: int, sink: IO[str], *, as_json: bool) -> None:
    """Critique batch by batch and write each result (JSON for a single item, else JSONL) as soon as it is done."""
    from tqdm import tqdm

    # One sample of one item streams, so the user sees the steps being judged; k samples go as one batch
    # (which the default backend may hand to its vLLM server).
    streamed = len(items) == 1 and critic.config.samples == 1
    with tqdm(total=len(items), unit="item", file=sys.stderr, disable=len(items) <= 1) as progress:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            results = [_critique_with_progress(critic, batch[0])] if streamed else critic.critique_many(batch)
            for result in results:
                _write(sink, result, as_json)
            sink.flush()  # written batch by batch, so an interruption keeps what is done
            progress.update(len(batch))


def _critique_with_progress(critic: Critic, item: SolutionItem) -> CritiqueResult:
    """One item, streamed: stderr shows the steps judged so far while the model writes, then the final result."""
    from tqdm import tqdm

    final = None
    with tqdm(total=len(item.steps), unit="step", desc="critiquing", file=sys.stderr, leave=False) as bar:
        for partial in critic.stream(item):
            judged = sum(step.verdict != "unchecked" for step in partial.steps)
            if partial.finished:
                judged = len(item.steps)
            bar.update(max(0, judged - bar.n))
            final = partial
    assert final is not None and final.finished  # stream always ends with the finished result
    return final


def _read_solution(path: str) -> str:
    from core.errors import BadInputError

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"--solution-file {path}: {exc}") from exc
