"""Grade and roster sync of one big course from the fake LMS over HTTP: time, memory, and writes.

Run from a clean checkout:
    .venv/bin/python benchmarks/sync.py [--database sqlite|postgresql] [--flavour canvas|moodle|both]
                                        [--learners N] [--json] [--check]

For each flavour it creates a fresh, migrated database, the tool's key, the demo platform's
registration and the example programme (12 modules + the final exam = 13 line items), and a
demo course of N learners (default 2,000) and one teacher whose 13 columns are fully graded
(26,000 results). The demo platform (the fake LMS) is served by gunicorn (2 workers) in a
subprocess; the sync runs in this process, as `lti-tool sync` does, and talks to it over HTTP:

- Canvas-shaped: every list paged (the tool asks for 50 a page: 520 pages of results, 41 of
  members), Link headers with rel="next"/"last", no timestamps on results.
- Moodle-shaped: results never paged (`limit` crashes Moodle), one response per column.

It reports, per flavour:
- the first sync (everything new) and a second sync with nothing changed: wall seconds,
  HTTP calls, and the rows written per table (counted from the SQL statements the tool sends);
  the second must write no data (only its own sync_run row and the service-health rows);
- memory: the tracemalloc peak of a first and a second sync of a course of N learners and of
  one of N/4 learners (separate courses, traced runs timed separately), so a peak that grows
  with the course shows; and this process's peak RSS.

The target (from the issue): a sync of 2,000 learners x 13 line items under 5 s.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from launch import Gunicorn, fresh_database, free_port, postgres_reachable, server_env  # noqa: E402

TARGET_SECONDS = 5.0
SECRET_KEY = "benchmark-" + secrets.token_hex(24)
EXAMPLE = REPO_ROOT / "examples" / "fei-programme.toml"
MODULE_KEYS = [f"m{i:02}" for i in range(1, 13)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_course(app, course_id: str, flavour: str, learners: int, registration_id: int, cohort_id: int,
                deployment_id: int, now: datetime) -> int:
    """The demo LMS's course (members, 13 graded columns) and the tool's linked context; returns the context id."""
    from lti_tool.db.course_sync import ContextServiceRecord
    from lti_tool.db.session import get_session
    from lti_tool.db.tenancy import Context
    from lti_tool.demo import gradebook
    from lti_tool.services.course_links import FULL_PROGRAMME, link_course

    with app.app_context():
        session = get_session()
        course = gradebook.create_course(session, course_id, flavour)
        gradebook.add_members_in_bulk(session, course, [
            {"user_id": f"{course_id}-u{i:05}", "name": f"Deltagare {i}", "email": f"u{i}@example.se",
             "roles": [gradebook.LEARNER], "status": "Active"} for i in range(learners)])
        gradebook.add_member(session, course, f"{course_id}-teacher", roles=[gradebook.INSTRUCTOR], name="Lärare")
        columns = [gradebook.add_line_item(session, course, label=f"Modul {k}", score_maximum="10",
                                           resource_id=f"module:{k}", now=now) for k in MODULE_KEYS]
        columns.append(gradebook.add_line_item(session, course, label="Slutprov", score_maximum="100",
                                               resource_id="final-exam", now=now))
        for index, column in enumerate(columns):
            maximum = "100" if index == 12 else "10"
            gradebook.add_grades_in_bulk(session, [
                {"line_item_id": column.id, "user_id": f"{course_id}-u{i:05}",
                 "score_given": str((i + index) % (int(maximum) + 1)), "score_maximum": maximum,
                 "timestamp": now - timedelta(days=1)} for i in range(learners)])
        context = Context(deployment_id=deployment_id, id_on_platform=course_id, title=course_id, updated_at=now)
        session.add(context)
        session.flush()
        base = app.config["LTI_SETTINGS"].BASE_URL.rstrip("/") + "/demo"
        ags = "https://purl.imsglobal.org/spec/lti-ags/scope/"
        session.add(ContextServiceRecord(
            context_id=context.id, lineitems_url=f"{base}/ags/{course_id}/lineitems",
            ags_scopes=[ags + "lineitem", ags + "result.readonly", ags + "score"],
            memberships_url=f"{base}/nrps/{course_id}", product_family=flavour, updated_at=now))
        link_course(session, registration_id=registration_id, context_id=context.id, cohort_id=cohort_id,
                    kind=FULL_PROGRAMME, module_key=None, linked_by=None, now=now)
        session.commit()
        return context.id


class KeepAliveGunicorn(Gunicorn):
    """The fake LMS under gunicorn's threaded workers, which keep connections alive as an LMS's front end does.

    gunicorn's default sync workers close the connection after every response, so every page
    would cost a new TCP connection: a cost of the benchmark's server, not of the sync.
    """

    def __init__(self, app: str, port: int, env: dict[str, str], cwd: Path, log_path: Path, workers: int = 2):
        import subprocess

        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
                   "--threads", "4", "--keep-alive", "30", "--bind", f"127.0.0.1:{port}"]
        from launch import _has_control_socket

        if _has_control_socket():
            command.append("--no-control-socket")
        self.process = subprocess.Popen(command + [app], cwd=str(cwd), env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)


class StatementCounter:
    """Rows written per table, from the statements the tool sends (executemany counts every row)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.rows: Counter = Counter()
        self.statements: Counter = Counter()
        self.active = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, parameters, _context, executemany: bool) -> None:
        if not self.active:
            return
        words = statement.split()
        verb = words[0].upper() if words else ""
        if verb not in ("INSERT", "UPDATE", "DELETE"):
            return
        table = words[2] if verb in ("INSERT", "DELETE") else words[1]
        table = table.strip('"').split("(")[0]
        count = len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1
        self.rows[f"{verb.lower()} {table}"] += count
        self.statements[f"{verb.lower()} {table}"] += 1

    def measure(self):
        self.rows.clear()
        self.statements.clear()
        self.active = True
        return self

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.active = False


def run_flavour(flavour: str, database: str, learners: int) -> dict:
    from sqlalchemy import select

    from lti_tool import create_app
    from lti_tool.config import Settings
    from lti_tool.db.migrate import upgrade
    from lti_tool.db.programmes import CohortRecord
    from lti_tool.db.session import get_session
    from lti_tool.demo import seed
    from lti_tool.extensions import demo_keys_dir
    from lti_tool.lti.tool_keys import KeyRing
    from lti_tool.services.platforms import find_deployment
    from lti_tool.services.programme_file import parse_programme_file
    from lti_tool.services.programmes import import_programme
    from lti_tool.services import sync as _sync_module
    from lti_tool.web.sync_jobs import sync_environment
    sync_course = _sync_module.sync_course

    workdir = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    url, drop = fresh_database(database, workdir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    keys_dir = workdir / "keys"
    result: dict = {"flavour": flavour, "database": database, "learners": learners, "line_items": 13}
    server = None
    app = None
    try:
        upgrade(url)
        settings = Settings.from_env({}, DATABASE_URL=url, KEYS_DIR=str(keys_dir), DEMO="1", BASE_URL=base_url,
                                     SECRET_KEY=SECRET_KEY)
        now = datetime.now(timezone.utc)
        KeyRing(demo_keys_dir(settings)).ensure_key(now)
        app = create_app(settings)
        app.extensions["lti_services"].tool_keys.ensure_key(now)
        with app.app_context():
            session = get_session()
            registration_id = seed.ensure_demo_registration(session, settings, now)
            import_programme(session, registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), now)
            cohort_id = session.scalar(select(CohortRecord.id))
            deployment_id = find_deployment(session, registration_id, seed.DEPLOYMENT_ID).id
            session.commit()
        log(f"[{flavour}] seeding {learners} learners x 13 columns (and two courses for the memory runs)")
        small = max(learners // 4, 1)
        contexts = {name: seed_course(app, f"bench-{name}", flavour, size, registration_id, cohort_id,
                                      deployment_id, now)
                    for name, size in (("timed", learners), ("traced", learners), ("small", small))}
        server = KeepAliveGunicorn("lti_tool:create_app()", port, server_env({
            "LTI_TOOL_DATABASE_URL": url, "LTI_TOOL_KEYS_DIR": str(keys_dir), "LTI_TOOL_DEMO": "1",
            "LTI_TOOL_BASE_URL": base_url, "LTI_TOOL_SECRET_KEY": SECRET_KEY}), REPO_ROOT,
            workdir / "gunicorn.log")
        server.wait_ready("/healthz")
        # The sync alone: issuing the certificates a sync makes due is measured by benchmarks/certificates.py
        # (about 1 ms a certificate; up to 13 a learner on a first sync of a finished cohort).
        env = sync_environment(app, issuer=None)
        counter = StatementCounter(app.extensions["db_engine"])

        def timed_sync(context_id: int) -> tuple[float, dict, Counter]:
            with app.app_context(), counter.measure():
                started, cpu = time.perf_counter(), time.process_time()
                outcome = sync_course(env, context_id)
                seconds = time.perf_counter() - started
                log(f"[{flavour}]   sync's own CPU {time.process_time() - cpu:.2f} s of {seconds:.2f} s")
            if outcome.state != "succeeded":
                raise RuntimeError(f"sync {outcome.state}: {outcome.error}")
            return seconds, outcome.counts, Counter(counter.rows)

        def traced_sync(context_id: int) -> int:
            tracemalloc.start()
            with app.app_context():
                outcome = sync_course(env, context_id)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            if outcome.state != "succeeded":
                raise RuntimeError(f"sync {outcome.state}: {outcome.error}")
            return peak

        first = timed_sync(contexts["timed"])
        log(f"[{flavour}] first sync {first[0]:.2f} s: {first[1]}")
        second = timed_sync(contexts["timed"])
        log(f"[{flavour}] second sync {second[0]:.2f} s, writes: {dict(second[2])}")
        data_writes = {k: v for k, v in second[2].items()
                       if not k.endswith((" sync_run", " service_health"))}
        result.update({
            "first_sync_seconds": round(first[0], 3), "first_sync_counts": first[1],
            "first_sync_rows_written": dict(first[2]),
            "second_sync_seconds": round(second[0], 3), "second_sync_counts": second[1],
            "second_sync_rows_written": dict(second[2]), "second_sync_data_rows_written": sum(data_writes.values()),
        })
        peaks = {}
        for name, size in (("small", small), ("traced", learners)):
            first_peak = traced_sync(contexts[name])
            second_peak = traced_sync(contexts[name])
            peaks[size] = {"first_sync_peak_mib": round(first_peak / 2**20, 2),
                           "second_sync_peak_mib": round(second_peak / 2**20, 2)}
            log(f"[{flavour}] tracemalloc peak, {size} learners: first {peaks[size]['first_sync_peak_mib']} MiB, "
                f"second {peaks[size]['second_sync_peak_mib']} MiB")
        result["tracemalloc_peaks"] = peaks
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    finally:
        if server is not None:
            server.stop()
        if app is not None:
            app.extensions["db_engine"].dispose()
        drop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--flavour", choices=("canvas", "moodle", "both"), default="both")
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when a sync misses the target or writes data "
                                                              "the second time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.database == "postgresql" and not postgres_reachable():
        log("PostgreSQL is not reachable (LTI_TOOL_TEST_DATABASE_URL)")
        return 2
    os.environ.pop("LTI_TOOL_REDIS_URL", None)
    flavours = ("canvas", "moodle") if args.flavour == "both" else (args.flavour,)
    results = [run_flavour(flavour, args.database, args.learners) for flavour in flavours]
    logging.getLogger().setLevel(logging.WARNING)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{r['flavour']:>6} on {r['database']}: {r['learners']} learners x {r['line_items']} line items "
                  f"({r['first_sync_counts'].get('results_seen', 0)} results, "
                  f"{r['first_sync_counts'].get('service_calls', 0)} HTTP calls)")
            print(f"        first sync  {r['first_sync_seconds']:6.2f} s  (target < {TARGET_SECONDS:g} s)")
            print(f"        second sync {r['second_sync_seconds']:6.2f} s  data rows written: "
                  f"{r['second_sync_data_rows_written']} (bookkeeping: {r['second_sync_rows_written']})")
            for size, peak in r["tracemalloc_peaks"].items():
                print(f"        tracemalloc peak, {size:>5} learners: first {peak['first_sync_peak_mib']:6.2f} MiB, "
                      f"second {peak['second_sync_peak_mib']:6.2f} MiB")
            print(f"        peak RSS of this process: {r['peak_rss_mib']} MiB")
    if args.check:
        failed = [r for r in results if r["first_sync_seconds"] > TARGET_SECONDS
                  or r["second_sync_seconds"] > TARGET_SECONDS or r["second_sync_data_rows_written"]]
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
