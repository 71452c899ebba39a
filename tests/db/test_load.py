"""20 concurrent writers (10 threads + 10 processes), 50 saves each: every save stored once or a conflict."""

from __future__ import annotations

from bench.loadtest import latency_summary, prepare, run_load, verify


def test_concurrent_saves_are_stored_exactly_once_or_reported_as_conflicts(db_url: str) -> None:
    plan = prepare(db_url, writers=20, shared=4, own_items=5, saves=50)
    result = run_load(plan, processes=10)
    summary = latency_summary(result.outcomes, result.wall_s)
    assert summary["saves"] == 20 * 50
    assert summary["errors"] == 0, [o.error for o in result.outcomes if o.error][:5]
    assert summary["conflicts"] > 0, "shared annotations should have been contested"
    assert summary["stored"] + summary["conflicts"] == 1000
    assert verify(plan, result.outcomes) == []
