"""The cohort dashboard: filters, counts and the per-module chart in SQL, a constant number of queries."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from lti_tool.db.session import get_session
from lti_tool.services.dashboard import DashboardError, DashboardQuery, cohort_dashboard, cohort_rows
from lti_tool.services.results import recompute_cohort_statuses
from tests.support.cohorts import NOW, build_cohort

@pytest.fixture
def session(app):
    with app.app_context():
        yield get_session()


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        self._engine = engine

    def __enter__(self):
        event.listen(self._engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self._engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


def test_counts_chart_and_rows(session):
    registration_id, cohort_id = build_cohort(session, 30)
    board = cohort_dashboard(session, registration_id, DashboardQuery(cohort_id=cohort_id, per_page=10))
    assert board.total == 30 and board.pages == 3 and len(board.rows) == 10
    # 0, 15 are module-only (not eligible); 5, 10, 20, 25 finished everything and passed the exam
    assert board.counts_by_state["certified"] == 4
    assert board.counts_by_state["not_eligible"] == 10
    assert sum(board.counts_by_state.values()) == 30
    first_module = board.modules[0]
    assert (first_module.key, first_module.participants) == ("m01", 30)
    assert first_module.completed == sum(1 for n in range(30) if (12 if n % 5 == 0 else n % 12) >= 1)
    assert [row.name for row in board.rows] == sorted(row.name for row in board.rows)
    certified = cohort_dashboard(session, registration_id, DashboardQuery(cohort_id=cohort_id, state="certified"))
    assert {row.user_id_on_platform for row in certified.rows} == {"u5", "u10", "u20", "u25"}
    row = certified.rows[0]
    assert row.cells["m12"].state == "completed" and row.exam_score_given == "80" and row.certified_at is not None


@pytest.mark.parametrize("query,expected", [
    (dict(kind="module_only"), {f"u{n}" for n in range(0, 30, 3)}),
    (dict(region_key="norrbotten-syd"), {f"u{n}" for n in range(1, 30, 2)}),
    (dict(search="deltagare 007"), {"u7"}),
    (dict(search="D7@KOMMUN"), {"u7"}),
    (dict(kind="full_programme", state="certified"), {"u5", "u10", "u20", "u25"}),
])
def test_filters(session, query, expected):
    registration_id, cohort_id = build_cohort(session, 30)
    board = cohort_dashboard(session, registration_id, DashboardQuery(cohort_id=cohort_id, per_page=100, **query))
    assert {row.user_id_on_platform for row in board.rows} == expected
    assert board.total == len(expected)


def test_sorting_by_progress_descending(session):
    registration_id, cohort_id = build_cohort(session, 12)
    board = cohort_dashboard(session, registration_id, DashboardQuery(cohort_id=cohort_id, sort="progress",
                                                                      is_descending=True, per_page=100))
    progress = [row.modules_completed for row in board.rows]
    assert progress == sorted(progress, reverse=True)


def test_the_number_of_queries_does_not_grow_with_the_cohort(session, app):
    engine = app.extensions["db_engine"]
    small = build_cohort(session, 6, "https://small.example")
    large = build_cohort(session, 60, "https://large.example")
    counts = []
    for registration_id, cohort_id in (small, large):
        with QueryCounter(engine) as counter:
            cohort_dashboard(session, registration_id, DashboardQuery(cohort_id=cohort_id, per_page=50))
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_another_platforms_cohort_is_not_found(session):
    registration_id, cohort_id = build_cohort(session, 3)
    other, _ = build_cohort(session, 3, "https://other.example")
    with pytest.raises(DashboardError):
        cohort_dashboard(session, other, DashboardQuery(cohort_id=cohort_id))


def test_export_rows_cover_everyone_with_cells(session):
    registration_id, cohort_id = build_cohort(session, 25)
    rows = list(cohort_rows(session, registration_id, DashboardQuery(cohort_id=cohort_id), batch_size=7))
    assert len(rows) == 25 and len({r.enrolment_id for r in rows}) == 25
    assert all(len(r.cells) == 12 for r in rows)


def test_standings_are_rewritten_only_when_they_change(session, app):
    registration_id, cohort_id = build_cohort(session, 10)
    engine = app.extensions["db_engine"]
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        recompute_cohort_statuses(session, registration_id, cohort_id, NOW + timedelta(days=2))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert not any("module_standing" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in statements)
