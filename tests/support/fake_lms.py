"""The demo platform as a Moodle- or Canvas-shaped LMS for grade and roster sync tests.

Courses, members, gradebook cells and injected faults are set up directly in the demo
platform's tables (lti_tool/demo/gradebook.py); the tool only ever reaches them over real HTTP.
The tool's side of a course (its context, the endpoints a launch would have carried, the link
to the example programme's cohort) is set up as an instructor's first launch would leave it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from lti_tool.db.course_sync import ContextServiceRecord
from lti_tool.db.programmes import CohortRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Context
from lti_tool.demo import gradebook, seed
from lti_tool.lti.service_client import RetryPolicy
from lti_tool.services.course_links import FULL_PROGRAMME, SINGLE_MODULE, link_course
from lti_tool.services.outbox import OutboxPolicy, send_due_scores
from lti_tool.services.platforms import find_deployment
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.sync import LearnerScope, sync_course
from lti_tool.web.sync_jobs import sync_environment
from tests.support.lms import DemoLms

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
ALL_AGS_SCOPES = [AGS + "lineitem", AGS + "result.readonly", AGS + "score"]
T0 = datetime(2027, 9, 1, 8, 0, tzinfo=timezone.utc)


class Clock:
    """An injected clock: tests move time, nothing sleeps."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Course:
    id_on_platform: str
    context_id: int
    flavour: str


class FakeLms:
    def __init__(self, live_tool, clock: Clock | None = None):
        self.tool = live_tool
        self.app = live_tool.app
        self.demo = DemoLms(live_tool)
        self.issuer = self.demo.issuer
        self.registration_id = self.demo.registration_id
        self.clock = clock or Clock()
        self.sleeps: list[float] = []
        with self.session() as session:
            import_programme(session, self.registration_id,
                             parse_programme_file(EXAMPLE.read_text(encoding="utf-8")), self.clock())
            self.cohort_id = session.scalar(select(CohortRecord.id).where(
                CohortRecord.registration_id == self.registration_id))
            self.deployment_id = find_deployment(session, self.registration_id, seed.DEPLOYMENT_ID).id

    @contextlib.contextmanager
    def session(self) -> Iterator:
        with self.app.app_context():
            session = get_session()
            yield session
            session.commit()

    # --- the LMS's side ------------------------------------------------------------------------------
    def course(self, course_id: str, flavour: str = "moodle", *, kind: str = FULL_PROGRAMME,
               module_key: str | None = None, scopes: list[str] | None = None, link: bool = True,
               product_family: str | None = None) -> Course:
        with self.session() as session:
            gradebook.create_course(session, course_id, flavour)
            context = Context(deployment_id=self.deployment_id, id_on_platform=course_id, title=course_id,
                              updated_at=self.clock())
            session.add(context)
            session.flush()
            session.add(ContextServiceRecord(
                context_id=context.id, lineitems_url=f"{self.issuer}/ags/{course_id}/lineitems",
                ags_scopes=ALL_AGS_SCOPES if scopes is None else scopes,
                memberships_url=f"{self.issuer}/nrps/{course_id}",
                product_family=product_family or flavour, updated_at=self.clock()))
            if link:
                link_course(session, registration_id=self.registration_id, context_id=context.id,
                            cohort_id=self.cohort_id, kind=kind,
                            module_key=module_key if kind == SINGLE_MODULE else None, linked_by=None,
                            now=self.clock())
            return Course(course_id, context.id, flavour)

    def _demo_course(self, session, course: Course):
        return gradebook.find_course(session, course.id_on_platform)

    def add_learner(self, course: Course, user_id: str, name: str | None = None, **kw) -> None:
        with self.session() as session:
            gradebook.add_member(session, self._demo_course(session, course), user_id, name=name or user_id.title(),
                                 email=f"{user_id}@example.se", **kw)

    def add_teacher(self, course: Course, user_id: str) -> None:
        self.add_learner(course, user_id, roles=(gradebook.INSTRUCTOR,))

    def set_status(self, course: Course, user_id: str, status: str) -> None:
        with self.session() as session:
            gradebook.set_member_status(session, self._demo_course(session, course), user_id, status)

    def remove(self, course: Course, user_id: str) -> None:
        with self.session() as session:
            gradebook.remove_member(session, self._demo_course(session, course), user_id)

    def column(self, course: Course, resource_id: str | None, label: str | None = None, maximum: str = "1",
               tag: str | None = None) -> int:
        with self.session() as session:
            item = gradebook.add_line_item(session, self._demo_course(session, course), label=label or resource_id,
                                           score_maximum=maximum, resource_id=resource_id, tag=tag, now=self.clock())
            return item.id

    def line_items(self, course: Course) -> list:
        with self.session() as session:
            return gradebook.line_items(session, self._demo_course(session, course))

    def grade(self, column_id: int, user_id: str, score: str | None, maximum: str = "1",
              at: datetime | None = None, comment: str | None = None) -> None:
        from lti_tool.db.demo_lms import DemoLineItem

        with self.session() as session:
            gradebook.set_grade(session, session.get(DemoLineItem, column_id), user_id, score, maximum,
                                at or self.clock(), comment)

    def cell(self, column_id: int, user_id: str):
        with self.session() as session:
            return gradebook.grade_of(session, column_id, user_id)

    def fail(self, course: Course, path_contains: str, **fault) -> None:
        with self.session() as session:
            gradebook.inject_fault(session, self._demo_course(session, course), path_contains, **fault)

    def expire_tokens(self, course: Course) -> None:
        with self.session() as session:
            gradebook.expire_tokens(session, self._demo_course(session, course))

    # --- the tool's side -------------------------------------------------------------------------------
    def environment(self, **overrides):
        retry = overrides.pop("retry", RetryPolicy(sleep=self.sleeps.append, random=lambda: 0.5))
        return sync_environment(self.app, clock=self.clock, retry=retry, **overrides)

    def sync(self, course: Course, *, learner: LearnerScope | None = None, **overrides):
        with self.app.app_context():
            return sync_course(self.environment(**overrides), course.context_id, learner=learner,
                               trigger="launch" if learner else "cli")

    def send(self, course: Course | None = None, policy: OutboxPolicy | None = None, **overrides):
        with self.app.app_context():
            return send_due_scores(self.environment(**overrides), context_id=course.context_id if course else None,
                                   policy=policy or OutboxPolicy(random=lambda: 0.5))

    # --- the LTI layer's clients on a course, as a sync builds them ----------------------------------------
    def service_client(self, *, http=None, observer=None, retry: RetryPolicy | None = None, registration=None):
        from lti_tool.db.shared_state import OwnTransactionStore
        from lti_tool.lti.http import TimeoutSession
        from lti_tool.lti.platforms import PlatformRegistration, service_connector
        from lti_tool.lti.service_client import ServiceClient

        registration = registration or PlatformRegistration(
            id=self.registration_id, issuer=self.issuer, client_id=seed.CLIENT_ID,
            auth_login_url=self.issuer + "/auth", auth_token_url=self.issuer + "/token",
            key_set_url=self.issuer + "/jwks", auth_audience=None, is_active=True)
        services = self.app.extensions["lti_services"]
        store = OwnTransactionStore(self.app.extensions["db_sessionmaker"])
        connector = service_connector(registration, services.tool_keys, http or TimeoutSession(5), store)
        return ServiceClient(connector, observer=observer or (lambda *a, **k: None),
                             retry=retry or RetryPolicy(sleep=self.sleeps.append, random=lambda: 0.5))

    def ags(self, course: Course, *, paging=None, scopes: list[str] | None = None, **client):
        from lti_tool.lti.ags import AgsClient, paging_for

        return AgsClient(self.service_client(**client), f"{self.issuer}/ags/{course.id_on_platform}/lineitems",
                         ALL_AGS_SCOPES if scopes is None else scopes, paging or paging_for(course.flavour))

    def nrps(self, course: Course, *, page_size: int | None = None, **client):
        from lti_tool.lti.nrps import NrpsClient

        return NrpsClient(self.service_client(**client), f"{self.issuer}/nrps/{course.id_on_platform}", page_size)

    def token(self, scopes: list[str]) -> str:
        with self.app.app_context():
            return self.service_client().connector.get_access_token(scopes)


class RecordingSession:
    """The tool's HTTP session, noting every request it sends (method, URL, headers, status)."""

    def __new__(cls, timeout: float = 5.0):
        from lti_tool.lti.http import TimeoutSession

        class _Recording(TimeoutSession):
            def __init__(self):
                super().__init__(timeout)
                self.sent: list[tuple[str, str, dict, int]] = []

            def request(self, method, url, **kwargs):
                response = super().request(method, url, **kwargs)
                self.sent.append((method, url, dict(response.request.headers), response.status_code))
                return response

            def urls(self, containing: str = "") -> list[str]:
                return [url for _, url, _, _ in self.sent if containing in url]

        return _Recording()


@contextlib.contextmanager
def counted_writes(app, ignore: tuple[str, ...] = ("demo_", "shared_state", "sync_run", "service_health")):
    """Rows the tool writes while the block runs, per "verb table" (the fake LMS's own tables left out)."""
    from collections import Counter

    from sqlalchemy import event

    engine = app.extensions["db_engine"]
    writes: Counter = Counter()

    def seen(_conn, _cursor, statement, parameters, _context, executemany):
        words = statement.split()
        verb = words[0].upper() if words else ""
        if verb not in ("INSERT", "UPDATE", "DELETE"):
            return
        table = (words[2] if verb in ("INSERT", "DELETE") else words[1]).strip('"').split("(")[0]
        if not table.startswith(ignore):
            writes[f"{verb.lower()} {table}"] += len(parameters) if executemany else 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def set_roles(lms: FakeLms, course: Course, user_id: str, roles: tuple[str, ...]) -> None:
    from sqlalchemy import update

    from lti_tool.db.demo_lms import DemoMember

    with lms.session() as session:
        demo = gradebook.find_course(session, course.id_on_platform)
        session.execute(update(DemoMember).where(DemoMember.course_id == demo.id, DemoMember.user_id == user_id)
                        .values(roles=list(roles)))
