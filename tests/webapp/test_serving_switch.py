"""One serving model: promotion and rollback switch the app's vLLM server to the new version, never two engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.settings import get_settings
from db.models import ModelVersion
from db.session import session_scope
from tests.core.test_auto_backend import fake_vllm_python
from webapp.context import AppContext
from webapp.handlers import admin
from webapp.handlers.critique import critique_stream
from webapp.render import critique_html

PROBLEM = "Tom has 3 apples and buys 2 more. How many apples?"
SOLUTION = "3 + 2 = 5\nHe has 5 apples."


def _servers(ctx: AppContext) -> list:
    """The vLLM server processes this app's backends started and that are still running."""
    servers = [getattr(backend, "_server", None) for backend in ctx._backends.values()]
    return [s for s in servers if s is not None and s.process.poll() is None]


def _critique(ctx: AppContext, viewer) -> object:
    *_, (final, done, _run_id) = critique_stream(ctx, viewer, problem=PROBLEM, solution=SOLUTION)
    assert done
    return final


def _serving_server(ctx: AppContext, viewer):
    """The serving model's server, asserting it is the only engine process left.

    On a CPU a warmed-up model answers single critiques in process (which already name the serving version) and
    starts its server for the first batch.
    """
    first = _critique(ctx, viewer)
    assert first.backend == "auto:transformers" and first.model_version == ctx.serving().version_name
    backend = ctx.critic(ctx.serving().model).backend
    assert backend.start_server() and backend.wait_for_server(60), backend.server_error
    [server] = _servers(ctx)
    return server


def test_promotion_and_rollback_switch_the_one_server(
    web, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = {}
    with session_scope(web.url) as session:
        for name in ("critic-v1", "critic-v2"):
            paths[name] = shutil.copytree(tiny_model_dir, tmp_path / name)
            session.add(ModelVersion(name=name, path=str(paths[name]), status="candidate"))
        session.commit()
        ids = {v.name: v.id for v in session.query(ModelVersion)}
    # The backends read the process settings: point them at a vLLM environment whose server is the stub.
    monkeypatch.setenv("CRITIC_VLLM_PYTHON", str(fake_vllm_python(tmp_path)))
    monkeypatch.setenv("CRITIC_AUTO_SERVER_STARTUP_TIMEOUT_S", "60")
    get_settings.cache_clear()
    settings = get_settings()
    ctx = AppContext(database_url=web.url, settings=settings, default_model=str(tiny_model_dir), default_backend="auto")
    viewer = web["viewer"]
    try:
        ctx.warm_up_in_background().join(60)
        default_server = _serving_server(ctx, viewer)
        assert _critique(ctx, viewer).model_version is None

        admin.promote_model(ctx, web["admin"], version_id=ids["critic-v1"])
        v1_server = _serving_server(ctx, viewer)
        assert default_server.process.poll() is not None, "the default model's engine must stop"
        assert v1_server.command[v1_server.command.index("--model") + 1] == str(paths["critic-v1"])
        result = _critique(ctx, viewer)
        assert result.backend == "auto:vllm-server" and result.model_version == "critic-v1"
        assert "version critic-v1" in critique_html(result)

        admin.promote_model(ctx, web["admin"], version_id=ids["critic-v2"])
        v2_server = _serving_server(ctx, viewer)
        assert v1_server.process.poll() is not None
        assert _critique(ctx, viewer).model_version == "critic-v2"

        admin.rollback_model(ctx, web["admin"])
        back = _serving_server(ctx, viewer)
        assert v2_server.process.poll() is not None
        assert back.command[back.command.index("--model") + 1] == str(paths["critic-v1"])
        result = _critique(ctx, viewer)
        assert result.backend == "auto:vllm-server" and result.model_version == "critic-v1"
    finally:
        ctx.close()
    assert not _servers(ctx)
