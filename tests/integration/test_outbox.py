"""The score outbox: certification scores reach the LMS once, survive failures, respect Moodle's rules.

Time is an injected clock: retries are due when the clock says so, nothing sleeps.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lti_tool.db.course_sync import ScoreOutboxRecord
from lti_tool.demo.gradebook import INSTRUCTOR
from lti_tool.services.outbox import OutboxPolicy
from tests.support.fake_lms import FakeLms, RecordingSession, set_roles

MODULES = [f"m{i:02}" for i in range(1, 13)]


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


def certified_course(lms: FakeLms, flavour: str = "moodle", learners=("anna",)):
    course = lms.course("course-1", flavour)
    for user in learners:
        lms.add_learner(course, user)
    columns = {key: lms.column(course, f"module:{key}") for key in MODULES}
    columns["final-exam"] = lms.column(course, "final-exam", maximum="100")
    for key in MODULES:
        lms.grade(columns[key], "anna", "1")
    lms.grade(columns["final-exam"], "anna", "90", "100")
    assert lms.sync(course).state == "succeeded"
    return course, columns


def certification_column(lms: FakeLms, course) -> int:
    return next(item.id for item in lms.line_items(course) if item.resource_id == "certification")


def rows(lms: FakeLms) -> list[tuple]:
    with lms.session() as session:
        return [(r.version, r.score_given, r.state, r.attempts) for r in
                session.scalars(select(ScoreOutboxRecord).order_by(ScoreOutboxRecord.id))]


def recording(lms: FakeLms, timeout: float = 5.0):
    http = RecordingSession(timeout)
    return http, (lambda: http)


@pytest.mark.parametrize("flavour", ["moodle", "canvas"])
def test_scores_reach_the_certification_column_once(lms, flavour):
    course, _ = certified_course(lms, flavour, learners=("anna", "erik"))
    http, factory = recording(lms)
    report = lms.send(course, http_factory=factory)
    assert report.counts == {"sent": 2}
    column = certification_column(lms, course)
    anna, erik = lms.cell(column, "anna"), lms.cell(column, "erik")
    assert (anna.score_given, erik.score_given) == ("1", "0")
    assert "2027" in anna.comment and "m01" in erik.comment  # the status and its reasons, in words
    assert len(http.urls("/scores")) == 2
    assert lms.send(course, http_factory=factory).counts == {} and len(http.urls("/scores")) == 2
    assert [r[2] for r in rows(lms)] == ["sent", "sent"]


def test_429_waits_for_retry_after_then_sends(lms):
    course, _ = certified_course(lms)
    lms.fail(course, "/scores", status=429, retry_after=120)
    start = lms.clock()
    assert lms.send(course).counts == {"retrying": 1}
    with lms.session() as session:
        row = session.scalar(select(ScoreOutboxRecord))
        assert (row.state, row.attempts, row.last_status, row.next_attempt_at) == (
            "pending", 1, 429, start + timedelta(seconds=120))
    lms.clock.advance(seconds=60)
    assert lms.send(course).counts == {}  # not due yet
    lms.clock.advance(seconds=61)
    assert lms.send(course).counts == {"sent": 1}
    assert lms.cell(certification_column(lms, course), "anna").score_given == "1"


def test_5xx_and_time_outs_back_off_exponentially_with_jitter(lms):
    course, _ = certified_course(lms)
    policy = OutboxPolicy(base_delay=30, random=lambda: 0.5)
    lms.fail(course, "/scores", status=500, times=2)
    waits = []
    for _ in range(2):
        before = lms.clock()
        assert lms.send(course, policy).counts == {"retrying": 1}
        with lms.session() as session:
            waits.append((session.scalar(select(ScoreOutboxRecord.next_attempt_at)) - before).total_seconds())
        lms.clock.advance(hours=1)
    lms.fail(course, "/scores", delay_seconds=1.5)
    assert lms.send(course, policy, http_factory=recording(lms, timeout=0.5)[1]).counts == {"retrying": 1}
    with lms.session() as session:
        row = session.scalar(select(ScoreOutboxRecord))
        assert row.last_status is None and "timed out" in row.last_error
    # Steps of 30 s, 60 s, (120 s): half the step plus the jitter's half of the other half.
    assert waits == [22.5, 45.0]
    lms.clock.advance(hours=1)
    assert lms.send(course, policy).counts == {"sent": 1} and rows(lms) == [(1, "1", "sent", 4)]


@pytest.mark.parametrize("flavour,status", [("moodle", 400), ("canvas", 422)])
def test_scoring_someone_who_is_not_a_student_is_refused_for_good(lms, flavour, status):
    course, _ = certified_course(lms, flavour)
    set_roles(lms, course, "anna", (INSTRUCTOR,))  # the LMS made Anna a teacher before the score went out
    assert lms.send(course).counts == {"rejected": 1}
    with lms.session() as session:
        row = session.scalar(select(ScoreOutboxRecord))
        assert (row.state, row.last_status, row.sent_at) == ("rejected", status, None)
        assert "not a student" in row.last_error
    lms.clock.advance(days=1)
    assert lms.send(course).counts == {}  # never retried


def test_moodle_refuses_a_score_not_newer_than_a_teachers_grade(lms):
    course, _ = certified_course(lms)
    column = certification_column(lms, course)
    # A teacher typed a grade into the Certification column after the tool's score was queued.
    lms.grade(column, "anna", "0", "1", at=lms.clock() + timedelta(minutes=5))
    assert lms.send(course).counts == {"rejected": 1}
    with lms.session() as session:
        assert session.scalar(select(ScoreOutboxRecord.last_status)) == 409
    assert lms.cell(column, "anna").score_given == "0"  # the teacher's grade stands


def test_a_score_whose_commit_was_lost_is_not_sent_twice(lms):
    course, _ = certified_course(lms)
    assert lms.send(course).counts == {"sent": 1}
    with lms.session() as session:  # as if the sender died after the post, before its commit
        session.execute(update(ScoreOutboxRecord).values(state="pending", sent_at=None, lease_until=None))
    http, factory = recording(lms)
    assert lms.send(course, http_factory=factory).counts == {"sent": 1}
    # Moodle answered the repeat with 409; the read-back shows the LMS already holds this score.
    assert [(m, u.rsplit("/", 1)[-1].split("?")[0], s) for m, u, _, s in http.sent if "token" not in u] == [
        ("POST", "scores", 409), ("GET", "results", 200)]


def test_a_newer_version_supersedes_one_not_yet_sent(lms):
    course, columns = certified_course(lms)
    lms.fail(course, "/scores", status=503)
    assert lms.send(course).counts == {"retrying": 1}
    lms.grade(columns["m05"], "anna", "0", "1", at=lms.clock.advance(minutes=10))
    lms.sync(course)
    lms.clock.advance(hours=1)
    assert lms.send(course).counts == {"superseded": 1, "sent": 1}
    assert [r[:3] for r in rows(lms)] == [(1, "1", "superseded"), (2, "0", "sent")]
    assert lms.cell(certification_column(lms, course), "anna").score_given == "0"


def test_two_senders_at_once_post_each_score_once(lms):
    course, _ = certified_course(lms, learners=("anna", "erik", "cilla", "david"))
    lms.fail(course, "/scores", delay_seconds=0.5)  # the first post is slow: both senders are busy together
    sessions, reports = [], []

    def sender():
        http, factory = recording(lms)
        sessions.append(http)
        reports.append(lms.send(course, http_factory=factory))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(http.urls("/scores")) for http in sessions) == 4
    assert sum(r.counts.get("sent", 0) for r in reports) == 4


def test_an_expired_token_is_renewed_and_the_score_sent(lms):
    course, _ = certified_course(lms)
    lms.expire_tokens(course)
    assert lms.send(course).counts == {"sent": 1}
