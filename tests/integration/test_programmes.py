"""Programme configuration, enrolments, grade history and stored statuses, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lti_tool.db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord, ProgrammeVersionRecord,
                                    ResultEventRecord)
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser
from lti_tool.domain.certification import CertificationState
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from lti_tool.services.platforms import NewPlatform, add_platform
from lti_tool.services.programme_file import InvalidProgrammeFile, format_programme_file, parse_programme_file
from lti_tool.services.programmes import export_document, import_programme, load_programme
from lti_tool.services.results import enrol, recompute_cohort_statuses, record_result

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
NOW = datetime(2027, 9, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(app):
    with app.app_context():
        yield get_session()


def platform(session, issuer="https://moodle.example", client_id="c1") -> int:
    return add_platform(session, NewPlatform(issuer=issuer, client_id=client_id, auth_login_url=issuer + "/a",
                                             auth_token_url=issuer + "/t", key_set_url=issuer + "/k"), NOW).id


def user(session, registration_id: int, sub: str, name: str = "Deltagare") -> LmsUser:
    row = LmsUser(registration_id=registration_id, id_on_platform=sub, name=name, updated_at=NOW)
    session.add(row)
    session.flush()
    return row


def example_document():
    return parse_programme_file(EXAMPLE.read_text(encoding="utf-8"))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_example_programme_imports_and_exports_losslessly(session):
    registration_id = platform(session)
    original = example_document()
    import_programme(session, registration_id, original, NOW)
    exported = export_document(session, registration_id, "FEI-NLU")
    assert exported == original
    assert parse_programme_file(format_programme_file(exported)) == original
    programme = load_programme(session, registration_id, "FEI-NLU")
    assert (programme.duration_weeks, len(programme.modules), programme.prices.full_programme_ore) == (16, 12, 5_800_000)
    assert exported.cohorts[0].funder.key == "r10"


def test_reimporting_the_same_file_changes_nothing(session):
    registration_id = platform(session)
    first = import_programme(session, registration_id, example_document(), NOW)
    again = import_programme(session, registration_id, example_document(), NOW)
    assert (first.is_new_version, again.is_new_version, again.version) == (True, False, 1)
    assert count(session, ProgrammeVersionRecord) == 1


def test_editing_the_programme_adds_a_version_and_existing_cohorts_keep_theirs(session):
    registration_id = platform(session)
    import_programme(session, registration_id, example_document(), NOW)
    text = EXAMPLE.read_text(encoding="utf-8").replace("pass_mark_percent = 60", "pass_mark_percent = 70")
    text += '\n[[cohorts]]\nkey = "2028-vt"\nname = "Omgång 2"\nstarts_on = 2028-01-17\nends_on = 2028-05-05\n'
    outcome = import_programme(session, registration_id, parse_programme_file(text), NOW)
    assert (outcome.version, outcome.is_new_version, outcome.cohorts_added) == (2, True, ("2028-vt",))
    versions = {c.key: c.programme_version.version for c in session.scalars(select(CohortRecord))}
    assert versions == {"2027-ht": 1, "2028-vt": 2}
    assert load_programme(session, registration_id, "FEI-NLU", version=1).final_exam.pass_mark == Decimal("0.6")


@pytest.mark.parametrize("edit,field", [
    (('key = "m03"', 'key = ""'), "modules[2].key"),
    (("full_programme_sek = 58000", "full_programme_sek = -1"), "prices.full_programme_sek"),
    (("pass_mark_percent = 60", "pass_mark_percent = 160"), "final_exam.pass_mark_percent"),
    (("pass_mark_percent = 60\n", "\n"), "final_exam.pass_mark_percent"),
    (('key = "m04"', 'key = "m03"'), "modules[3].key"),
    (("member_discount_percent = 10", "member_discount_percent = 10.5"), "prices.member_discount_percent"),
    (('funder = "r10"', 'funder = "nobody"'), "cohorts[0].funder"),
    (("ends_on = 2027-12-10", "ends_on = 2027-01-01"), "cohorts[0].ends_on"),
    (("[programme]", "[programme"), "file"),
])
def test_invalid_programme_is_refused_naming_the_field_and_nothing_is_saved(session, edit, field):
    registration_id = platform(session)
    text = EXAMPLE.read_text(encoding="utf-8").replace(*edit)
    with pytest.raises(InvalidProgrammeFile) as refused:
        import_programme(session, registration_id, parse_programme_file(text), NOW)
    assert any(problem.startswith(field) for problem in refused.value.problems), refused.value.problems
    assert count(session, ProgrammeVersionRecord) == 0 and count(session, CohortRecord) == 0


def test_cli_import_refuses_an_invalid_file_in_one_message(app, tmp_path, session):
    registration_id = platform(session)
    session.commit()
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace('key = "m03"', 'key = ""'), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["programme", "import", str(bad), "--platform", str(registration_id)])
    assert result.exit_code == 1
    assert "modules[2].key: required" in result.output and "Traceback" not in result.output


def test_cli_import_then_export(app, tmp_path, session):
    registration_id = platform(session)
    session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["programme", "import", str(EXAMPLE), "--platform", str(registration_id)]).exit_code == 0
    out = tmp_path / "out.toml"
    result = runner.invoke(args=["programme", "export", "FEI-NLU", "--platform", str(registration_id), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert parse_programme_file(out.read_text(encoding="utf-8")) == example_document()


def test_programmes_of_two_platforms_are_independent(session):
    moodle, canvas = platform(session), platform(session, "https://canvas.instructure.com", "10000000001")
    import_programme(session, moodle, example_document(), NOW)
    edited = EXAMPLE.read_text(encoding="utf-8").replace("duration_weeks = 16", "duration_weeks = 20")
    import_programme(session, canvas, parse_programme_file(edited), NOW)
    assert load_programme(session, moodle, "FEI-NLU").duration_weeks == 16
    assert load_programme(session, canvas, "FEI-NLU").duration_weeks == 20


def test_schema_refuses_an_enrolment_that_mixes_tenants(session):
    moodle, canvas = platform(session), platform(session, "https://canvas.instructure.com", "10000000001")
    import_programme(session, moodle, example_document(), NOW)
    cohort = session.scalar(select(CohortRecord))
    stranger = user(session, canvas, "canvas-user")
    session.add(EnrolmentRecord(registration_id=moodle, cohort_id=cohort.id, lms_user_id=stranger.id,
                                kind="full_programme", module_keys=[], created_at=NOW))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def module_result(key: str, given: str, when: datetime, maximum: str = "1") -> ModuleResult:
    return ModuleResult(score=Score(Decimal(given), Decimal(maximum)), graded_at=when,
                        source=f"lineitem:{key}", module_key=key)


def test_grade_history_is_append_only_and_statuses_follow_regrades(session):
    registration_id = platform(session)
    import_programme(session, registration_id, example_document(), NOW)
    cohort = session.scalar(select(CohortRecord))
    anna = enrol(session, registration_id=registration_id, cohort_id=cohort.id,
                 lms_user_id=user(session, registration_id, "anna").id, kind=EnrolmentKind.FULL_PROGRAMME, now=NOW)
    erik = enrol(session, registration_id=registration_id, cohort_id=cohort.id,
                 lms_user_id=user(session, registration_id, "erik").id, kind=EnrolmentKind.MODULE_ONLY,
                 module_keys=frozenset({"m01"}), now=NOW)
    for i in range(1, 13):
        record_result(session, anna.id, module_result(f"m{i:02}", "1", NOW), NOW)
        record_result(session, erik.id, module_result(f"m{i:02}", "1", NOW), NOW)
    exam = ExamAttempt(score=Score(Decimal("75"), Decimal("100")), graded_at=NOW + timedelta(days=1),
                       source="lineitem:final-exam", attempt=1)
    record_result(session, anna.id, exam, NOW)
    assert record_result(session, anna.id, exam, NOW) is None  # syncing twice equals once

    statuses = recompute_cohort_statuses(session, registration_id, cohort.id, NOW + timedelta(days=2))
    assert statuses[anna.id].state is CertificationState.CERTIFIED
    assert statuses[erik.id].state is CertificationState.NOT_ELIGIBLE  # module-only, however many done

    lowered = module_result("m03", "0", NOW + timedelta(days=3))
    replaced = record_result(session, anna.id, lowered, NOW + timedelta(days=3))
    assert replaced.replaces_id is not None
    statuses = recompute_cohort_statuses(session, registration_id, cohort.id, NOW + timedelta(days=4))
    assert statuses[anna.id].state is CertificationState.IN_PROGRESS
    stored = session.get(CertificationStatusRecord, anna.id)
    assert stored.state == "in_progress" and stored.modules_completed == 11
    assert {"code": "module_below_pass_mark",
            "params": {"module_key": "m03", "score": {"given": "0", "maximum": "1"}, "pass_mark": "1"}} in stored.reasons
    history = session.scalars(select(ResultEventRecord).where(ResultEventRecord.enrolment_id == anna.id,
                                                              ResultEventRecord.module_key == "m03")).all()
    assert [(h.score_given, h.replaces_id is None) for h in history] == [("1", True), ("0", False)]
