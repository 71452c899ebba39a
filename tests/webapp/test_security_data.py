"""Attacks on the data the critic learns from and on the work a role may start: four eyes, limits per role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import BackendUnavailableError, ConfigError, PermissionDeniedError
from core.settings import Settings
from db.models import Annotation, CritiqueRun
from db.session import session_scope
from tests.webapp import test_security
from tests.webapp.test_security import Attacker
from webapp.handlers import annotate, teacher
from webapp.handlers.critique import critique_stream

pytestmark = pytest.mark.slow

# The attack tests' fixtures: the running app and its campaigns and class.
app_url = test_security.app_url
campaigns = test_security.campaigns


def test_a_reviewer_who_rewrote_a_label_through_the_api_cannot_approve_it(
    web, campaigns: dict[str, Any], app_url: str
) -> None:
    n = campaigns["n_steps"]
    submitted = annotate.save(
        web.ctx,
        web["annotator"],
        item_id=campaigns["item_id"],
        campaign_id=campaigns["open"],
        ratings=[1] * n,
        submit=True,
    ).saved
    reviewer = Attacker(app_url, "reviewer", "pw-reviewer")
    ok, [rewritten] = reviewer.call(
        reviewer.fn_index(api_name="save_annotation"),
        [
            campaigns["item_id"],
            [-1] * n,
            "",
            campaigns["open"],
            submitted["annotation_id"],
            submitted["version"],
            [],
            "",
            True,
            None,
        ],
    )
    assert ok and rewritten["saved"]["ratings"] == [-1] * n
    label = rewritten["saved"]
    assert reviewer.call(reviewer.fn_index(elem_id="rev-open"), [label["annotation_id"]])[0]
    ok, message = reviewer.call(
        reviewer.fn_index(elem_id="rev-approve"), [label["annotation_id"], label["version"], ""]
    )
    assert not ok and "you edited annotation" in message and "another reviewer" in message
    with session_scope(web.url) as session:
        assert session.get(Annotation, label["annotation_id"]).status == "submitted"
    # A second pair of eyes approves it; the label then shows who approved it.
    boss = Attacker(app_url, "admin", "pw-admin")
    ok, opened = boss.call(boss.fn_index(elem_id="rev-open"), [label["annotation_id"]])
    assert ok and "Edited by reviewer, who may not approve or reject it" in opened[-1]
    ok, _ = boss.call(boss.fn_index(elem_id="rev-approve"), [label["annotation_id"], label["version"], ""])
    assert ok
    with session_scope(web.url) as session:
        stored = session.get(Annotation, label["annotation_id"])
        assert (stored.status, stored.reviewer_id) == ("approved", web["admin"].id)


# ---- limits per role -----------------------------------------------------------------------------------------

LONG_SOLUTION = "\n".join(f"Step {i}: {i}+1 = {i + 1}." for i in range(1, 61))


def _then(attacker: Attacker, first: int) -> int:
    """The event function a click runs after `first` (`.then`)."""
    return next(dep["id"] for dep in attacker.config["dependencies"] if dep.get("trigger_after") == first)


def _run_count(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count(CritiqueRun.id))) or 0


def test_a_viewer_gets_no_big_critique_no_big_file_and_no_backend_of_their_choice(
    web, app_url: str, tmp_path: Path
) -> None:
    viewer = Attacker(app_url, "viewer", "pw-viewer")
    stream = viewer.fn_index(api_name="critique_stream")
    loaded = set(web.ctx._backends)

    ok, message = viewer.call(stream, ["What is 60+1?", LONG_SOLUTION, "", "", "deliberate", 16])
    assert not ok
    for limit in ("samples (k) 16 is more than 4 (viewer.max_samples)", "mode 'deliberate'", "60 steps, more than 30"):
        assert limit in message, message
    assert "CRITIC_ROLE_LIMITS" in message

    for backend, k in (("auto", 8), ("transformers", 1)):
        ok, message = viewer.call(stream, ["What is 1+1?", "1+1 = 2.", "", backend, "single", k])
        assert not ok and "only admins pick the backend" in message, message

    rows = "".join(
        json.dumps({"problem": f"What is {i}+60?", "steps": [f"{i}+{s} = {i + s}." for s in range(1, 61)]}) + "\n"
        for i in range(5000)
    )
    path = tmp_path / "big.jsonl"
    path.write_text(rows)
    [uploaded] = viewer.http.post("gradio_api/upload", files={"files": ("big.jsonl", path.read_bytes())}).json()
    file_data = {"path": uploaded, "orig_name": "big.jsonl", "meta": {"_type": "gradio.FileData"}}
    run_file = _then(viewer, viewer.fn_index(elem_id="critique-run-file"))
    ok, message = viewer.call(run_file, [file_data, "", "auto", "deliberate", 16])
    assert not ok
    for limit in (
        "5000 solutions, more than 100 (viewer.max_file_rows)",
        "5000 solution(s) have more than 30 steps, item 1 has 60",
        "max_samples",
    ):
        assert limit in message, message

    assert set(web.ctx._backends) == loaded and _run_count(web.url) == 0  # nothing loaded, nothing ran
    ok, [result] = viewer.call(viewer.fn_index(api_name="critique"), ["What is 1+1?", "1+1 = 2.", "", "", "single", 4])
    assert ok and result["samples"] == 4  # within the limits it works


def test_one_user_runs_only_their_roles_number_of_critiques_at_once(web) -> None:
    first = critique_stream(web.ctx, web["viewer"], problem="What is 1+1?", solution="1+1 = 2.")
    next(first)  # started: the pending cards are out, the critic is writing
    with pytest.raises(PermissionDeniedError, match=r"already run 1 critique\(s\).*viewer.max_jobs"):
        next(critique_stream(web.ctx, web["viewer"], problem="What is 2+2?", solution="2+2 = 4."))
    others = list(critique_stream(web.ctx, web["annotator"], problem="What is 2+2?", solution="2+2 = 4."))
    assert others[-1][1] is True  # another user is not held up
    assert list(first)[-1][1] is True
    assert list(critique_stream(web.ctx, web["viewer"], problem="What is 2+2?", solution="2+2 = 4."))[-1][1]


def test_a_teachers_class_over_the_rows_per_file_is_refused_before_it_is_stored(web, tmp_path: Path) -> None:
    web.ctx.settings = Settings(role_limits={"teacher": {"max_file_rows": 3}})
    rows = "student,problem,solution\n" + "".join(f'S{i},"What is {i}+1?","{i}+1 = {i + 1}."\n' for i in range(4))
    path = tmp_path / "four.csv"
    path.write_text(rows)
    with pytest.raises(PermissionDeniedError, match=r"4 solutions, more than 3 \(teacher.max_file_rows\)"):
        teacher.upload_class(web.ctx, web["teacher"], name="too big", path=path)
    assert teacher.classes(web.ctx, web["admin"]) == [] and web.ctx._jobs == {}


def test_a_bogus_backend_unloads_nothing_and_a_failed_load_closes_what_it_unloaded(
    web, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = web.ctx
    ctx.settings = ctx.settings.model_copy(update={"web_models": "model-a, model-b", "web_model_cache": 1})
    ctx.critic_options = {"base_url": "http://127.0.0.1:9/v1"}  # nothing is sent until a critique
    ctx._critics.clear()
    ctx._backends.clear()
    loaded = ctx.critic("model-a", "openai").backend
    closed: list[str] = []
    loaded.close = lambda: closed.append("model-a")  # type: ignore[method-assign]
    with pytest.raises(ConfigError, match="unknown backend 'bogus'"):
        ctx.critic("model-b", "bogus")
    assert list(ctx._backends) == [("model-a", "openai")] and closed == []

    def cannot_load(*args: object, **kwargs: object) -> None:
        raise BackendUnavailableError("the model-b server is down")

    monkeypatch.setattr("core.backends.create_backend", cannot_load)
    with pytest.raises(BackendUnavailableError):
        ctx.critic("model-b", "openai")
    assert ctx._backends == {} and closed == ["model-a"]  # unloaded for the new one, so closed
