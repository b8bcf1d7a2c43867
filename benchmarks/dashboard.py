"""The instructor dashboard for a cohort of 10,000 enrolments × 12 modules: server time per view.

Builds the cohort with bulk inserts straight into a fresh SQLite (and PostgreSQL, when
reachable) database, then times `cohort_dashboard` (one page of 50, counts per status, the
per-module chart) and the rendering of that page's data, against a baseline measured in the
same process: one `SELECT count(*)` over the cohort's enrolments. Run: python benchmarks/dashboard.py
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import event, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from lti_tool.db.migrate import upgrade  # noqa: E402
from lti_tool.db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord,  # noqa: E402
                                    ModuleStandingRecord)
from lti_tool.db.session import make_engine  # noqa: E402
from lti_tool.db.tenancy import LmsUser  # noqa: E402
from lti_tool.services.dashboard import DashboardQuery, cohort_dashboard  # noqa: E402
from lti_tool.services.platforms import NewPlatform, add_platform  # noqa: E402
from lti_tool.services.programme_file import parse_programme_file  # noqa: E402
from lti_tool.services.programmes import import_programme  # noqa: E402

NOW = datetime(2027, 10, 1, tzinfo=timezone.utc)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fei-programme.toml"
TARGET_MS = 300


def build(session: Session, enrolments: int) -> tuple[int, int]:
    registration_id = add_platform(session, NewPlatform("https://lms.example", "c", "https://lms.example/a",
                                                        "https://lms.example/t", "https://lms.example/k"), NOW).id
    import_programme(session, registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), NOW)
    cohort_id = session.scalar(select(CohortRecord.id))
    connection = session.connection()
    connection.execute(insert(LmsUser), [
        {"registration_id": registration_id, "id_on_platform": f"u{n}", "name": f"Deltagare {n:05}",
         "email": f"d{n}@kommun.example", "updated_at": NOW} for n in range(enrolments)])
    users = connection.execute(select(LmsUser.id).order_by(LmsUser.id)).scalars().all()
    connection.execute(insert(EnrolmentRecord), [
        {"registration_id": registration_id, "cohort_id": cohort_id, "lms_user_id": user_id,
         "kind": "module_only" if n % 10 == 0 else "full_programme", "module_keys": ["m01"] if n % 10 == 0 else [],
         "is_sknt_member": n % 4 == 0, "created_at": NOW} for n, user_id in enumerate(users)])
    ids = connection.execute(select(EnrolmentRecord.id).order_by(EnrolmentRecord.id)).scalars().all()
    states = ("certified", "in_progress", "awaiting_exam", "exam_failed")
    connection.execute(insert(CertificationStatusRecord), [
        {"enrolment_id": e, "state": "not_eligible" if n % 10 == 0 else states[n % 4],
         "reasons": [{"code": "module_not_graded", "params": {"module_key": "m07"}}], "modules_completed": n % 13,
         "modules_required": 12, "needs_admin_review": False, "computed_at": NOW, "exam_attempts_used": n % 3}
        for n, e in enumerate(ids)])
    for start in range(0, len(ids), 2000):
        connection.execute(insert(ModuleStandingRecord), [
            {"enrolment_id": e, "module_key": f"m{m:02}", "state": "completed" if (n + m) % 3 else "not_graded",
             "score_given": "1", "score_maximum": "1", "completed_at": NOW}
            for n, e in enumerate(ids[start:start + 2000]) for m in range(1, 13)])
    session.commit()
    if session.bind.dialect.name == "postgresql":
        session.execute(text("ANALYZE"))  # what autovacuum does after a bulk load
        session.commit()
    return registration_id, cohort_id


def measure(url: str, enrolments: int, views: int) -> dict:
    upgrade(url)
    engine = make_engine(url)
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    with Session(engine) as session:
        registration_id, cohort_id = build(session, enrolments)
        queries = [DashboardQuery(cohort_id=cohort_id),
                   DashboardQuery(cohort_id=cohort_id, state="in_progress", sort="progress", is_descending=True,
                                  page=40),
                   DashboardQuery(cohort_id=cohort_id, search="deltagare 0999", kind="full_programme")]
        timings, baseline = [], []
        for view in range(views):
            started = time.perf_counter()
            session.scalar(select(func.count()).select_from(EnrolmentRecord)
                           .where(EnrolmentRecord.cohort_id == cohort_id))
            baseline.append(time.perf_counter() - started)
            statements[0] = 0
            started = time.perf_counter()
            board = cohort_dashboard(session, registration_id, queries[view % len(queries)])
            # what a template does with it: every cell of the page touched once
            _ = sum(len(row.cells) for row in board.rows) + len(board.modules)
            timings.append(time.perf_counter() - started)
            session.rollback()
    engine.dispose()
    return {"median_ms": statistics.median(timings) * 1000, "max_ms": max(timings) * 1000,
            "baseline_ms": statistics.median(baseline) * 1000, "statements": statements[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    import launch  # the launch benchmark's throwaway-database helpers

    for kind in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        with tempfile.TemporaryDirectory() as work:
            try:
                url, drop = launch.fresh_database(kind, Path(work))
            except Exception as exc:  # PostgreSQL not reachable
                print(f"{kind}: skipped ({exc})")
                continue
            try:
                result = measure(url, args.enrolments, args.views)
            finally:
                drop()
        verdict = "yes" if result["median_ms"] < TARGET_MS else "NO"
        print(f"{kind:10} {args.enrolments} enrolments x 12 modules: dashboard median {result['median_ms']:.1f} ms "
              f"(max {result['max_ms']:.1f}), {result['statements']} SQL statements per view; baseline count(*) "
              f"{result['baseline_ms']:.2f} ms; ratio {result['median_ms'] / result['baseline_ms']:.0f}x; "
              f"< {TARGET_MS} ms: {verdict}")


if __name__ == "__main__":
    main()
