"""Admin, teacher and dashboard handlers, each called as every role."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from core.errors import BadInputError, ConflictError, NotFoundError, PermissionDeniedError
from db.eval_sets import get_eval_set
from db.evals import finish_eval_run, start_eval_run
from db.session import session_scope
from training import queue, registry
from training.config import load_config
from webapp.auth import check_login, ensure_admin
from webapp.handlers import admin, annotate, dashboard, teacher
from webapp.reports import write_reports

NOT_ADMIN = ("viewer", "annotator", "teacher", "reviewer")


@pytest.mark.parametrize("role", NOT_ADMIN)
def test_only_admins_manage_users_campaigns_training_and_models(web, role: str, campaign_file: Path) -> None:
    actor = web[role]
    calls = [
        lambda: admin.users_table(web.ctx, actor),
        lambda: admin.add_user(web.ctx, actor, username="x", password="pw", role="admin"),
        lambda: admin.change_user(web.ctx, actor, username=role, role="admin"),
        lambda: admin.new_campaign(web.ctx, actor, name="mine"),
        lambda: admin.edit_campaign(web.ctx, actor, campaign_id=1, overlap=3),
        lambda: admin.upload_campaign_data(web.ctx, actor, campaign_id=1, path=campaign_file),
        lambda: admin.assign_annotators(web.ctx, actor, campaign_id=1, usernames=[role]),
        lambda: admin.start_training(web.ctx, actor, kind="sft", values={"base_model": "embedded"}),
        lambda: admin.cancel_training(web.ctx, actor, job_id=1),
        lambda: admin.promote_model(web.ctx, actor, version_id=1),
        lambda: admin.rollback_model(web.ctx, actor),
        lambda: admin.add_eval_set(web.ctx, actor, name="mine", path=campaign_file),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedError):
            call()


def test_admin_creates_users_campaigns_and_assigns_annotators(web, campaign_file: Path) -> None:
    boss = web["admin"]
    admin.add_user(web.ctx, boss, username="dora", password="secret", role="annotator")
    assert check_login(web.url, "dora", "secret").role == "annotator"
    assert check_login(web.url, "dora", "wrong") is None
    admin.change_user(web.ctx, boss, username="dora", role="reviewer", active=False)
    assert check_login(web.url, "dora", "secret") is None  # deactivated
    with pytest.raises(BadInputError):
        admin.change_user(web.ctx, boss, username="admin", role="viewer")
    cid = admin.new_campaign(web.ctx, boss, name="gold run", guidelines="# Read me", overlap=1)
    with pytest.raises(ConflictError):
        admin.new_campaign(web.ctx, boss, name="gold run")
    assert "4 new item(s)" in admin.upload_campaign_data(web.ctx, boss, campaign_id=cid, path=campaign_file)
    admin.edit_campaign(web.ctx, boss, campaign_id=cid, overlap=2, status="active")
    row = next(r for r in admin.campaigns_table(web.ctx, web["viewer"]) if r["id"] == cid)
    assert row["items"] == 4 and row["overlap"] == 2
    assert "1 annotator" in admin.assign_annotators(web.ctx, boss, campaign_id=cid, usernames=["annotator"])
    assert annotate.next_task(web.ctx, web["annotator"], campaign_id=cid) is not None
    with pytest.raises(PermissionDeniedError, match="not assigned"):
        annotate.next_task(web.ctx, web["reviewer"], campaign_id=cid)


def test_admin_queues_training_and_manages_models(web) -> None:
    boss = web["admin"]
    job_id = admin.start_training(web.ctx, boss, kind="sft", values={"base_model": "embedded", "max_steps": 2})
    jobs = admin.jobs_table(web.ctx, web["viewer"])
    assert [(j["id"], j["kind"], j["status"]) for j in jobs] == [(job_id, "sft", "queued")]
    assert "cancel" in admin.cancel_training(web.ctx, boss, job_id=job_id)
    with pytest.raises(BadInputError):
        admin.start_training(web.ctx, boss, kind="sft", values={"max_steps": -1})
    with pytest.raises(NotFoundError):
        admin.promote_model(web.ctx, boss, version_id=999)
    with pytest.raises(ConflictError):
        admin.rollback_model(web.ctx, boss)


def test_job_progress_reads_as_a_bar_with_steps_and_time_left() -> None:
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    running = SimpleNamespace(
        status="running", progress=0.5, config={"max_steps": 20}, started_at=now - timedelta(seconds=30)
    )
    assert admin.job_progress(running, now=now) == "▰▰▰▰▰▱▱▱▱▱ 50% · 10 of 20 steps · about 30 s left"
    slow = SimpleNamespace(
        status="running", progress=0.1, config={"max_steps": 20}, started_at=now - timedelta(hours=1)
    )
    assert admin.job_progress(slow, now=now).endswith("2 of 20 steps · about 9 h 0 min left")
    done = SimpleNamespace(status="succeeded", progress=1.0, config={"max_steps": 20}, started_at=now)
    assert admin.job_progress(done, now=now) == "▰▰▰▰▰▰▰▰▰▰ 100% · 20 of 20 steps"
    queued = SimpleNamespace(status="queued", progress=0.0, config={"max_steps": 20}, started_at=None)
    assert admin.job_progress(queued, now=now) == "▱▱▱▱▱▱▱▱▱▱ 0% · 0 of 20 steps"


def test_registry_view_shows_versions_by_evaluation_sets(web, campaign_file: Path) -> None:
    boss = web["admin"]
    message = admin.add_eval_set(web.ctx, boss, name="gsm8k-4", path=campaign_file)
    assert "4 items" in message
    with pytest.raises(BadInputError, match="one of the two"):
        admin.add_eval_set(web.ctx, boss, name="both", path=campaign_file, campaign="gold run")
    assert [(r["name"], r["items"]) for r in admin.eval_sets_table(web.ctx, web["viewer"])] == [("gsm8k-4", 4)]
    with session_scope(web.url) as session:
        job = queue.enqueue_job(session, config=load_config("sft", None, {"max_steps": 1}))
        version = registry.register_candidate(
            session, job_id=job.id, path="/m/v", base_model="embedded", parent_id=None, data_hash="0" * 64, config={}
        )
        eval_set = get_eval_set(session, name="gsm8k-4")
        assert [m["f1"] for m in admin.models_table(web.ctx, web["viewer"])] == ["-"]  # never scored
        run = start_eval_run(
            session,
            model="/m/v",
            dataset="eval-set:gsm8k-4",
            config={},
            predictions_path="/m/v/eval",
            n_items=4,
            model_version_id=version.id,
            eval_set_id=eval_set.id,
        )
        summary = {"average": {"f1": 0.5, "error_acc": 0.25, "correct_acc": 1.0}, "step_auroc": None}
        finish_eval_run(session, run_id=run.id, metrics=summary, n_items=4)

    columns, rows = admin.registry_scores(web.ctx, web["viewer"])
    assert columns == ["version", "status", "gsm8k-4 F1", "gsm8k-4 err", "gsm8k-4 corr", "gsm8k-4 AUROC"]
    assert rows == [[version.name, "candidate", 50.0, 25.0, 100.0, None]]
    assert [m["f1"] for m in admin.models_table(web.ctx, web["viewer"])] == ["50.0 on eval-set:gsm8k-4"]


def test_a_version_scored_only_by_the_gate_shows_the_gate_f1() -> None:
    assert admin.version_f1(None, {"gate": {"candidate": 0.25, "reason": "only 3 items"}}) == "25.0 (gate)"
    assert admin.version_f1(None, {"gate": {"candidate": None, "reason": "no evaluation items"}}) == "-"
    assert admin.version_f1((0.0, "held-out"), {"gate": {"candidate": 0.0}}) == "0.0 on held-out"


def test_first_start_creates_one_admin_with_the_configured_password(sqlite_db_url: str) -> None:
    assert ensure_admin(sqlite_db_url, password="first-pw") == "first-pw"
    assert ensure_admin(sqlite_db_url, password="other") is None
    assert check_login(sqlite_db_url, "admin", "first-pw").role == "admin"


CLASS_CSV = (
    "student,problem,solution\n"
    'Ann,"What is 2+3?","2+3 = 5.\n\nSo the answer is 5."\n'
    'Ben,"What is 2+3?","2+3 = 6.\n\nSo the answer is 6."\n'
    'Cy <script>,"What is 2+3?","2+3 = 5.\n\nSo the answer is 5."\n'
)


def test_teacher_grades_a_class_and_exports_the_report(web_any, tmp_path: Path) -> None:
    web = web_any
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV)
    t = web["teacher"]
    class_id, errors = teacher.upload_class(web.ctx, t, name="7B", path=path, start=False)
    assert errors == [] and teacher.class_progress(web.ctx, t, class_id=class_id) == (0, 3)
    assert teacher.critique_class(web.ctx, t, class_id=class_id) == 2  # Ann and Cy wrote the same solution
    assert teacher.class_progress(web.ctx, t, class_id=class_id) == (3, 3)
    rows = teacher.report_rows(web.ctx, t, class_id=class_id)
    assert [r.student for r in rows] == ["Ann", "Ben", "Cy <script>"]
    # The scripted critic blames step 2; in Ben's solution the checker proves step 1 wrong (2+3 = 5, not 6).
    assert [r.first_wrong_step for r in rows] == [2, 1, 2] and not any(r.corrected for r in rows)
    teacher.correct(web.ctx, t, class_id=class_id, item_id=rows[0].item_id, first_wrong_step=-1, comment="All good")
    teacher.correct(web.ctx, t, class_id=class_id, item_id=rows[1].item_id, first_wrong_step=1, comment="2+3 is 5")
    with pytest.raises(BadInputError):
        teacher.correct(web.ctx, t, class_id=class_id, item_id=rows[1].item_id, first_wrong_step=7)
    csv_path, zip_path = write_reports(
        teacher.report_rows(web.ctx, t, class_id=class_id), tmp_path / "out", class_name="7B"
    )
    table = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [(r["student"], r["first_wrong_step"], r["comment"]) for r in table] == [
        ("Ann", "-1", "All good"),
        ("Ben", "1", "2+3 is 5"),
        ("Cy <script>", "-1", "All good"),
    ]
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
        assert names == ["Ann.html", "Ben.html", "Cy_script.html"]
        page = archive.read("Cy_script.html").decode()
        assert "<script>" not in page and "All steps are correct." in page


def test_the_class_a_teacher_picked_or_uploaded_last_is_shown_at_their_next_login(web, tmp_path: Path) -> None:
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV)
    t = web["teacher"]
    assert teacher.class_to_show(web.ctx, t) == ([], None)
    older, _ = teacher.upload_class(web.ctx, t, name="7B", path=path, start=False)
    newer, _ = teacher.upload_class(web.ctx, t, name="8A", path=path, start=False)
    assert teacher.class_to_show(web.ctx, t) == ([("class: 8A", newer), ("class: 7B", older)], newer)
    teacher.pick_class(web.ctx, t, class_id=older)
    assert teacher.class_to_show(web.ctx, t)[1] == older
    admins, _ = teacher.upload_class(web.ctx, web["admin"], name="9C", path=path, start=False)
    with pytest.raises(NotFoundError):  # another user's class is not among the teacher's
        teacher.pick_class(web.ctx, t, class_id=admins)
    assert teacher.class_to_show(web.ctx, t)[1] == older
    with pytest.raises(PermissionDeniedError):
        teacher.pick_class(web.ctx, web["viewer"], class_id=older)


def test_teacher_needs_student_names_and_the_right_role(web, tmp_path: Path) -> None:
    path = tmp_path / "nostudent.csv"
    path.write_text('problem,solution\n"1+1?","2"\n')
    with pytest.raises(BadInputError, match="student"):
        teacher.upload_class(web.ctx, web["teacher"], name="x", path=path, start=False)
    with pytest.raises(PermissionDeniedError):
        teacher.upload_class(web.ctx, web["viewer"], name="x", path=path, start=False)
    with pytest.raises(PermissionDeniedError):
        teacher.classes(web.ctx, web["viewer"])


def test_dashboard_counts_submissions_agreement_and_gold_accuracy(web_any, campaign_file: Path) -> None:
    from webapp.permissions import Actor

    web = web_any
    boss = web["admin"]
    cid = admin.new_campaign(web.ctx, boss, name="dash", overlap=2)
    admin.upload_campaign_data(web.ctx, boss, campaign_id=cid, path=campaign_file)
    admin.add_user(web.ctx, boss, username="bob", password="pw", role="annotator")
    bob_id = next(u["id"] for u in admin.users_table(web.ctx, boss) if u["username"] == "bob")
    people = [web["annotator"], Actor(id=bob_id, username="bob", role="annotator")]
    for person in people:
        while (task := annotate.next_task(web.ctx, person, campaign_id=cid)) is not None:
            n = len(task.steps)
            ratings = [1] * n if task.item_id % 2 else [1, -1] + [None] * (n - 2)
            annotate.save(
                web.ctx, person, item_id=task.item_id, campaign_id=cid, ratings=ratings, submit=True, time_spent_ms=5000
            )
    board = dashboard.build_dashboard(web.ctx, web["viewer"], campaign_id=cid)
    s = board.summary
    assert s["annotations"] == 8
    assert s["cohen_kappa_first_error"] == pytest.approx(1.0)  # both labelled every item the same way
    assert s["fleiss_kappa_first_error"] == pytest.approx(1.0)
    assert s["krippendorff_alpha_ratings"] == pytest.approx(1.0)
    assert set(s["gold_accuracy"]) == {"annotator", "bob"}
    assert set(board.figures) >= {"per_day", "per_annotator", "labels", "time", "critic_vs_human", "eval_f1", "loss"}
    assert "Finished annotations:** <span id='dash-total'>8</span>" in dashboard.summary_markdown(board)
    with pytest.raises(PermissionDeniedError):
        dashboard.build_dashboard(web.ctx, None)


def test_dashboard_all_campaigns_totals_leave_out_teachers_corrections(
    web_any, campaign_file: Path, tmp_path: Path
) -> None:
    web = web_any
    boss, person = web["admin"], web["annotator"]
    ids = [admin.new_campaign(web.ctx, boss, name=name) for name in ("first", "second")]
    for cid, how_many in zip(ids, (3, 1), strict=True):
        admin.upload_campaign_data(web.ctx, boss, campaign_id=cid, path=campaign_file)
        for _ in range(how_many):
            task = annotate.next_task(web.ctx, person, campaign_id=cid)
            annotate.save(
                web.ctx, person, item_id=task.item_id, campaign_id=cid, ratings=[1] * len(task.steps), submit=True
            )
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV)
    class_id, _ = teacher.upload_class(web.ctx, web["teacher"], name="7B", path=path, start=False)
    rows = teacher.report_rows(web.ctx, web["teacher"], class_id=class_id)
    teacher.correct(web.ctx, web["teacher"], class_id=class_id, item_id=rows[1].item_id, first_wrong_step=1)

    assert dashboard.campaign_choices(web.ctx, web["viewer"]) == [
        ("All campaigns", dashboard.ALL_CAMPAIGNS),
        (f"first (#{ids[0]})", ids[0]),
        (f"second (#{ids[1]})", ids[1]),
    ]
    everything = dashboard.summary_markdown(dashboard.build_dashboard(web.ctx, web["viewer"]))
    assert "<span id='dash-total'>4</span>" in everything  # 3 + 1; the teacher's correction is not an annotation
    assert "Teachers' corrections** (not counted as annotations): 1" in everything
    one = dashboard.summary_markdown(dashboard.build_dashboard(web.ctx, web["viewer"], campaign_id=ids[0]))
    assert "<span id='dash-total'>3</span>" in one and "Teachers' corrections" not in one


def test_dashboard_plots_eval_f1_over_time_and_training_loss(web) -> None:

    from db.evals import finish_eval_run, start_eval_run
    from db.models import ModelVersion, TrainingJob, TrainingMetricPoint
    from db.session import session_scope

    with session_scope(web.url) as session:
        version = ModelVersion(name="critic-v1", path="/m/v1")
        job = TrainingJob(kind="sft", status="succeeded")
        session.add_all([version, job])
        session.flush()
        # Recorded the way `critic eval` records them, so the plot reads what real runs store.
        for number, f1 in enumerate([0.2, 0.35]):
            run = start_eval_run(
                session,
                model="critic-v1",
                dataset="processbench",
                config={},
                predictions_path=f"/runs/{number}",
                n_items=10,
                model_version_id=version.id,
            )
            finish_eval_run(session, run_id=run.id, metrics={"average": {"f1": f1}}, n_items=10)
        session.add_all(TrainingMetricPoint(job_id=job.id, step=s, name="loss", value=2.0 / s) for s in range(1, 6))
        session.commit()
    board = dashboard.build_dashboard(web.ctx, web["viewer"])
    (f1_trace,) = board.figures["eval_f1"].data
    assert f1_trace.name == "critic-v1" and list(f1_trace.y) == [0.2, 0.35]
    (loss_trace,) = board.figures["loss"].data
    assert list(loss_trace.x) == [1, 2, 3, 4, 5] and loss_trace.y[0] == 2.0


def test_dashboard_counts_unreadable_critic_outputs_as_disagreements(web, campaign_file: Path) -> None:
    from db.models import CritiqueRun
    from db.session import session_scope

    boss = web["admin"]
    cid = admin.new_campaign(web.ctx, boss, name="versus", overlap=1)
    admin.upload_campaign_data(web.ctx, boss, campaign_id=cid, path=campaign_file)
    human: dict[int, int] = {}
    while (task := annotate.next_task(web.ctx, web["annotator"], campaign_id=cid)) is not None:
        n = len(task.steps)
        ratings = [1] * n if task.item_id % 2 else [1, -1] + [None] * (n - 2)
        annotate.save(web.ctx, web["annotator"], item_id=task.item_id, campaign_id=cid, ratings=ratings, submit=True)
        human[task.item_id] = -1 if task.item_id % 2 else 2

    def critic_runs(model: str, unreadable: int) -> None:
        """The critic agrees with the human on every item except the first `unreadable`, which it could not read."""
        with session_scope(web.url) as session:
            for k, (item_id, first_error) in enumerate(sorted(human.items())):
                readable = k >= unreadable
                session.add(
                    CritiqueRun(
                        item_id=item_id,
                        model=model,
                        backend="transformers",
                        result={},
                        first_error_step=first_error if readable else None,
                        parse_status="ok" if readable else "failed",
                    )
                )
            session.commit()

    critic_runs("clean-critic", 0)
    critic_runs("garbled-critic", 2)
    board = dashboard.build_dashboard(web.ctx, web["viewer"], campaign_id=cid)
    total = len(human)
    assert board.summary["critic_vs_human"] == {
        "clean-critic": 1.0,
        "garbled-critic": pytest.approx((total - 2) / total),
    }
    assert board.summary["critic_vs_human_unreadable"]["garbled-critic"] == {"unreadable": 2, "compared": total}
    (bars,) = board.figures["critic_vs_human"].data
    assert list(bars.text) == [f"0 of {total} unreadable", f"2 of {total} unreadable"]
    assert f"garbled\\-critic: {(total - 2) / total:.3f} (2 of {total} unreadable)" in dashboard.summary_markdown(board)
