"""Course sync over real HTTP: roster → enrolments, grades → history → statuses, on Moodle- and Canvas-shaped LMSes."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lti_tool.db.certificates import CertificateRecord
from lti_tool.db.course_sync import LineItemRecord, RosterMemberRecord, ScoreOutboxRecord, SyncRunRecord
from lti_tool.db.programmes import CertificationStatusRecord, EnrolmentRecord, ResultEventRecord
from lti_tool.db.service_health import ServiceHealth
from lti_tool.db.tenancy import LmsUser
from lti_tool.services.course_links import SINGLE_MODULE
from tests.support.fake_lms import FakeLms, counted_writes

MODULES = [f"m{i:02}" for i in range(1, 13)]


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


def full_gradebook(lms: FakeLms, course) -> dict[str, int]:
    columns = {key: lms.column(course, f"module:{key}", maximum="10") for key in MODULES}
    columns["final-exam"] = lms.column(course, "final-exam", maximum="100")
    return columns


def grade_everything(lms: FakeLms, columns: dict[str, int], user: str, exam: str = "80") -> None:
    for key in MODULES:
        lms.grade(columns[key], user, "10", "10")
    lms.grade(columns["final-exam"], user, exam, "100")


def enrolments(lms: FakeLms) -> dict[str, tuple]:
    with lms.session() as session:
        rows = session.execute(select(LmsUser.id_on_platform, EnrolmentRecord.kind, EnrolmentRecord.module_keys,
                                      EnrolmentRecord.withdrawn_at, EnrolmentRecord.upgraded_at)
                               .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)).all()
    return {sub: (kind, list(keys), withdrawn is not None, upgraded is not None)
            for sub, kind, keys, withdrawn, upgraded in rows}


def statuses(lms: FakeLms) -> dict[str, str]:
    with lms.session() as session:
        return dict(session.execute(select(LmsUser.id_on_platform, CertificationStatusRecord.state)
                                    .join(EnrolmentRecord, EnrolmentRecord.id == CertificationStatusRecord.enrolment_id)
                                    .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)).all())


def history(lms: FakeLms, sub: str, module_key: str) -> list[tuple[str, bool]]:
    with lms.session() as session:
        return [(given, replaces is not None) for given, replaces in session.execute(
            select(ResultEventRecord.score_given, ResultEventRecord.replaces_id)
            .join(EnrolmentRecord, EnrolmentRecord.id == ResultEventRecord.enrolment_id)
            .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
            .where(LmsUser.id_on_platform == sub, ResultEventRecord.module_key == module_key)
            .order_by(ResultEventRecord.id))]


def count(lms: FakeLms, model) -> int:
    with lms.session() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("flavour", ["moodle", "canvas"])
def test_learners_become_enrolments_and_grades_become_statuses(lms, flavour):
    course = lms.course("course-1", flavour)
    for user in ("anna", "erik"):
        lms.add_learner(course, user)
    lms.add_teacher(course, "bjorn")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    lms.grade(columns["m01"], "erik", "10", "10")
    lms.grade(columns["m02"], "erik", "3", "10")
    lms.grade(columns["m01"], "bjorn", "10", "10")  # a teacher testing the column: no enrolment, ignored

    outcome = lms.sync(course)

    assert outcome.state == "succeeded", outcome.error
    assert enrolments(lms) == {"anna": ("full_programme", [], False, False), "erik": ("full_programme", [], False, False)}
    assert statuses(lms) == {"anna": "certified", "erik": "in_progress"}
    assert history(lms, "erik", "m02") == [("3", False)]
    with lms.session() as session:
        roster = dict(session.execute(select(LmsUser.id_on_platform, RosterMemberRecord.is_instructor)
                                      .join(LmsUser, LmsUser.id == RosterMemberRecord.lms_user_id)).all())
    assert roster == {"anna": False, "erik": False, "bjorn": True}
    assert outcome.counts["results_recorded"] == 15 and outcome.counts["results_unmatched"] == 1


@pytest.mark.parametrize("flavour", ["moodle", "canvas"])
def test_a_second_sync_with_nothing_changed_writes_nothing(lms, flavour):
    course = lms.course("course-1", flavour)
    for user in ("anna", "erik", "cilla"):
        lms.add_learner(course, user)
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    lms.grade(columns["m05"], "erik", "4", "10")
    assert lms.sync(course).state == "succeeded"
    lms.clock.advance(hours=1)
    with counted_writes(lms.app) as writes:
        outcome = lms.sync(course)
    assert outcome.state == "succeeded"
    assert dict(writes) == {}
    assert outcome.counts["results_unchanged"] == 13 + 1 and "results_recorded" not in outcome.counts


def test_a_teacher_override_is_kept_in_the_history_and_changes_the_status(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    lms.sync(course)
    assert statuses(lms) == {"anna": "certified"}

    lms.clock.advance(days=1)
    lms.grade(columns["m03"], "anna", "2", "10", at=lms.clock())  # the teacher lowers module 3
    outcome = lms.sync(course)

    assert outcome.counts["results_recorded"] == 1
    assert history(lms, "anna", "m03") == [("10", False), ("2", True)]
    assert statuses(lms) == {"anna": "in_progress"}
    lms.grade(columns["m03"], "anna", "10", "10", at=lms.clock.advance(days=1))  # and back again
    lms.sync(course)
    assert history(lms, "anna", "m03") == [("10", False), ("2", True), ("10", True)]
    assert statuses(lms) == {"anna": "certified"}


def test_canvas_results_without_a_time_are_dated_when_first_seen_and_not_again(lms):
    course = lms.course("course-1", "canvas")
    lms.add_learner(course, "anna")
    column = lms.column(course, "module:m01", maximum="10")
    lms.grade(column, "anna", "6", "10")
    lms.sync(course)
    first_seen = lms.clock()
    lms.clock.advance(hours=2)
    lms.sync(course)
    lms.grade(column, "anna", "9", "10")
    lms.clock.advance(hours=2)
    lms.sync(course)
    with lms.session() as session:
        dated = session.execute(select(ResultEventRecord.score_given, ResultEventRecord.graded_at)
                                .order_by(ResultEventRecord.id)).all()
    assert [(given, at) for given, at in dated] == [("6", first_seen), ("9", lms.clock())]


@pytest.mark.parametrize("leaves", ["removed", "inactive"])
def test_a_learner_who_leaves_is_withdrawn_and_kept_then_reinstated_on_return(lms, leaves):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    lms.add_learner(course, "erik")
    column = lms.column(course, "module:m01")
    lms.grade(column, "erik", "1")
    lms.sync(course)
    if leaves == "removed":
        lms.remove(course, "erik")
    else:
        lms.set_status(course, "erik", "Inactive")
    outcome = lms.sync(course)
    assert outcome.counts["withdrawn"] == 1
    assert enrolments(lms)["erik"] == ("full_programme", [], True, False)
    assert history(lms, "erik", "m01") == [("1", False)]  # nothing deleted
    with lms.session() as session:
        status = session.scalar(select(RosterMemberRecord.status).join(LmsUser)
                                .where(LmsUser.id_on_platform == "erik"))
    assert status == ("gone" if leaves == "removed" else "inactive")

    if leaves == "removed":
        lms.add_learner(course, "erik")
    else:
        lms.set_status(course, "erik", "Active")
    assert lms.sync(course).counts["reinstated"] == 1
    assert enrolments(lms)["erik"] == ("full_programme", [], False, False)


def test_single_module_courses_make_module_only_enrolments_unless_in_a_full_course(lms):
    full = lms.course("full-course", "moodle")
    single = lms.course("module-3-course", "canvas", kind=SINGLE_MODULE, module_key="m03")
    lms.add_learner(full, "anna")
    lms.add_learner(single, "anna")
    lms.add_learner(single, "erik")
    lms.sync(full)
    lms.sync(single)
    assert enrolments(lms) == {"anna": ("full_programme", [], False, False),
                               "erik": ("module_only", ["m03"], False, False)}
    assert statuses(lms)["erik"] == "not_eligible"

    # Erik joins the full-programme course: upgraded, and the module he bought is kept.
    lms.add_learner(full, "erik")
    assert lms.sync(full).counts["upgraded"] == 1
    assert enrolments(lms)["erik"] == ("full_programme", ["m03"], False, True)

    # Anna leaves the single-module course but is still in the full one: not withdrawn.
    lms.remove(single, "anna")
    assert "withdrawn" not in lms.sync(single).counts
    assert enrolments(lms)["anna"][2] is False


def test_exam_columns_count_as_attempts_and_unbound_columns_are_ignored(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    first = lms.column(course, "final-exam", maximum="100")
    second = lms.column(course, "final-exam:2", maximum="100")
    other = lms.column(course, "something-else", maximum="5")
    lms.grade(first, "anna", "40", "100")
    lms.grade(second, "anna", "70", "100")
    lms.grade(other, "anna", "5", "5")
    lms.sync(course)
    with lms.session() as session:
        attempts = session.execute(select(ResultEventRecord.kind, ResultEventRecord.attempt,
                                          ResultEventRecord.score_given).order_by(ResultEventRecord.attempt)).all()
        bound = dict(session.execute(select(LineItemRecord.resource_id, LineItemRecord.binding)).all())
    assert [tuple(a) for a in attempts] == [("exam", 1, "40"), ("exam", 2, "70")]
    assert bound == {"final-exam": "exam", "final-exam:2": "exam", "something-else": None,
                     "certification": "certification"}


def test_the_tool_creates_its_certification_column_once(lms):
    course = lms.course("course-1", "canvas")
    lms.add_learner(course, "anna")
    lms.sync(course)
    lms.sync(course)
    columns = [(item.label, item.resource_id, item.score_maximum) for item in lms.line_items(course)]
    assert columns == [("Certifiering", "certification", "1")]  # named in the default language (sv)


def test_a_failure_halfway_leaves_the_data_as_it_was(lms):
    course = lms.course("course-1", "moodle")
    for user in ("anna", "erik"):
        lms.add_learner(course, user)
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    # The 7th column's results fail on every attempt: roster, six columns' grades were already read.
    lms.fail(course, f"/lineitems/{columns['m07']}/results", status=503, times=3)
    outcome = lms.sync(course)
    assert outcome.state == "failed" and "503" in outcome.error
    assert (count(lms, EnrolmentRecord), count(lms, ResultEventRecord), count(lms, RosterMemberRecord),
            count(lms, CertificationStatusRecord), count(lms, ScoreOutboxRecord), count(lms, LineItemRecord)) == \
        (0, 0, 0, 0, 0, 0)
    with lms.session() as session:
        run = session.scalar(select(SyncRunRecord))
        health = session.scalar(select(ServiceHealth).where(ServiceHealth.service == "ags"))
    assert (run.state, run.running_context_id, run.finished_at is not None) == ("failed", None, True)
    assert health.consecutive_failures >= 1 and health.last_status == 503
    # Once the LMS is well again, the next run does everything.
    assert lms.sync(course).state == "succeeded"
    assert statuses(lms) == {"anna": "certified", "erik": "in_progress"}


def test_two_syncs_of_one_course_at_once_record_every_grade_once(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    lms.fail(course, "/nrps/", delay_seconds=1.0)  # the first run holds the lock a second
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(lms.sync(course))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.state for o in outcomes) == ["skipped", "succeeded"]
    assert count(lms, ResultEventRecord) == 13
    assert count(lms, SyncRunRecord) == 1


def test_a_lock_left_by_a_dead_worker_is_taken_over(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    with lms.session() as session:
        session.add(SyncRunRecord(context_id=course.context_id, running_context_id=course.context_id, trigger="cli",
                                  state="running", started_at=lms.clock() - timedelta(hours=2), counts={}))
    assert lms.sync(course).state == "succeeded"
    with lms.session() as session:
        assert [r.state for r in session.scalars(select(SyncRunRecord).order_by(SyncRunRecord.id))] == \
            ["abandoned", "succeeded"]


def test_an_unlinked_course_is_not_synced_and_says_why(lms):
    course = lms.course("course-1", "moodle", link=False)
    outcome = lms.sync(course)
    assert outcome.state == "failed" and "not linked" in outcome.error


def test_certification_scores_are_queued_once_per_change(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna")
    lms.add_learner(course, "erik")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    assert lms.sync(course).counts["scores_queued"] == 2
    assert lms.sync(course).counts.get("scores_queued", 0) == 0
    lms.grade(columns["m01"], "erik", "10", "10")
    assert lms.sync(course).counts["scores_queued"] == 1  # Erik's reason changed (m01 is graded now)
    with lms.session() as session:
        queued = session.execute(select(LmsUser.id_on_platform, ScoreOutboxRecord.version, ScoreOutboxRecord.score_given)
                                 .join(EnrolmentRecord, EnrolmentRecord.id == ScoreOutboxRecord.enrolment_id)
                                 .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
                                 .order_by(ScoreOutboxRecord.id)).all()
    assert [tuple(q) for q in queued] == [("anna", 1, "1"), ("erik", 1, "0"), ("erik", 2, "0")]


def test_a_learner_sync_reads_only_that_learners_results(lms):
    from lti_tool.services.sync import LearnerScope

    course = lms.course("course-1", "canvas")
    for user in ("anna", "erik"):
        lms.add_learner(course, user)
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    grade_everything(lms, columns, "erik")
    with lms.session() as session:
        anna = LmsUser(registration_id=lms.registration_id, id_on_platform="anna", updated_at=lms.clock())
        session.add(anna)
        session.flush()
        learner = LearnerScope(anna.id, "anna", ("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",))
    outcome = lms.sync(course, learner=learner)
    assert outcome.state == "succeeded", outcome.error
    assert set(enrolments(lms)) == {"anna"} and statuses(lms) == {"anna": "certified"}
    assert outcome.counts["results_seen"] == 13 and "members_seen" not in outcome.counts


def test_a_lowered_grade_after_a_certificate_was_issued_flags_it_for_review(lms):
    course = lms.course("course-1", "moodle")
    lms.add_learner(course, "anna", name="Anna Andersson")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    assert lms.sync(course).counts["certificates_issued"] == 13  # the certificate and 12 intyg
    lms.grade(columns["m03"], "anna", "2", "10", at=lms.clock.advance(days=1))  # a teacher's override
    lms.sync(course)
    with lms.session() as session:
        status = session.scalar(select(CertificationStatusRecord))
    assert status.needs_admin_review is True
    assert "issued_certificate_unsupported" in [reason["code"] for reason in status.reasons]


def test_a_sync_that_certifies_a_learner_issues_their_certificates_once(lms):
    course = lms.course("course-1", "canvas")
    lms.add_learner(course, "anna", name="Anna Andersson")
    lms.add_learner(course, "erik", name="Erik Eriksson")
    columns = full_gradebook(lms, course)
    grade_everything(lms, columns, "anna")
    lms.grade(columns["m01"], "erik", "10", "10")

    first = lms.sync(course)

    with lms.session() as session:
        held = session.execute(select(LmsUser.id_on_platform, CertificateRecord.kind, CertificateRecord.module_key)
                               .join(LmsUser, LmsUser.id == CertificateRecord.lms_user_id)).all()
    assert sorted(held) == sorted([("anna", "certification", "")] + [("anna", "module", key) for key in MODULES]
                                  + [("erik", "module", "m01")])
    assert first.counts["certificates_issued"] == 14
    lms.clock.advance(hours=1)
    second = lms.sync(course)
    assert "certificates_issued" not in second.counts and count(lms, CertificateRecord) == 14
