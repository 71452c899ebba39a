"""The named API endpoints through gradio_client, against a real server with a tiny transformers model."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.webapp.server import running_app
from webapp.context import AppContext
from webapp.handlers import admin, annotate

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_ctx(web, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    from core.settings import get_settings

    monkeypatch.setenv("CRITIC_MAX_NEW_TOKENS", "16")
    get_settings.cache_clear()
    return AppContext(database_url=web.url, default_model=str(tiny_model_dir), default_backend="transformers")


def test_critique_and_save_annotation_endpoints_with_logins(web, tiny_ctx: AppContext, campaign_file: Path) -> None:
    from gradio_client import Client

    cid = admin.new_campaign(web.ctx, web["admin"], name="api", overlap=1)
    admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=campaign_file)
    task = annotate.next_task(web.ctx, web["annotator"], campaign_id=cid)
    n = len(task.steps)
    with running_app(tiny_ctx) as url:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError on a failed login
            Client(url, auth=("viewer", "wrong"), verbose=False)
        anonymous = httpx.post(f"{url}gradio_api/call/critique", json={"data": ["1+1?", "2"]}, timeout=30)
        assert anonymous.status_code in (401, 403)
        viewer = Client(url, auth=("viewer", "pw-viewer"), verbose=False)
        assert {"/critique", "/save_annotation"} <= set(viewer.view_api(return_format="dict")["named_endpoints"])
        result = viewer.predict("What is 2+3?", "Step 1: 2+3=5.\nStep 2: So 5.", api_name="/critique")
        assert [s["text"] for s in result["steps"]] == ["2+3=5.", "So 5."]
        assert result["model"] == str(tiny_ctx.default_model) and result["backend"] == "transformers"
        assert {"verdict", "critique", "meta_critique", "vote_share"} <= set(result["steps"][0])

        with pytest.raises(Exception, match="may not annotate"):
            viewer.predict(task.item_id, [1] * n, "", cid, api_name="/save_annotation")

        annotator = Client(url, auth=("annotator", "pw-annotator"), verbose=False)
        saved = annotator.predict(
            task.item_id, [1] * n, "", cid, None, None, [], "ok", True, api_name="/save_annotation"
        )
        assert saved["conflict"] is False and saved["saved"]["status"] == "submitted"
        ann_id, version = saved["saved"]["annotation_id"], saved["saved"]["version"]
        with pytest.raises(Exception, match="helpful, partly, misleading"):
            annotator.predict(
                task.item_id, [0] * n, "", cid, ann_id, version, [], "", False, "great", api_name="/save_annotation"
            )
        again = annotator.predict(
            task.item_id, [0] * n, "", cid, ann_id, version, [], "", False, "partly", api_name="/save_annotation"
        )
        assert again["saved"]["critique_rating"] == "partly"
        stale = annotator.predict(
            task.item_id, [-1] * n, "", cid, ann_id, version, [], "", False, api_name="/save_annotation"
        )
        assert again["saved"]["version"] == version + 1
        assert stale["conflict"] is True and stale["theirs"]["ratings"] == [0] * n and stale["mine"]["ratings"][0] == -1


def test_the_server_does_not_recompute_gradio_analytics_after_every_event(web, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.vllm_server import free_port
    from webapp.app import ANALYTICS_FREQUENCY_VARIABLE, launch

    monkeypatch.setenv(ANALYTICS_FREQUENCY_VARIABLE, "unset below, restored to its state before the test after it")
    monkeypatch.delenv(ANALYTICS_FREQUENCY_VARIABLE)
    demo = launch(web.ctx, host="127.0.0.1", port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        # Gradio's default (1) rebuilt a table of every past event after each save: half the server's time.
        assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == 1000
    finally:
        demo.close()
