"""Programme configuration in the console: the edit form, its validation, and the TOML file both ways."""
from __future__ import annotations

import html
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lti_tool.db.admin import AdminAuditEntry
from lti_tool.db.programmes import CohortRecord, ProgrammeVersionRecord
from lti_tool.db.session import get_session
from lti_tool.services.programme_file import format_programme_file, parse_programme_file
from lti_tool.services.programmes import export_document, import_programme, load_programme
from tests.support.admin import Console, form_values
from tests.support.lms import DemoLms

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
NOW = datetime.now(timezone.utc)


@pytest.fixture
def lms(live_tool):
    lms = DemoLms(live_tool)
    with live_tool.app.app_context():
        import_programme(get_session(), lms.registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), NOW)
        get_session().commit()
    return lms


def edit_path(lms) -> str:
    return f"/admin/registrations/{lms.registration_id}/programmes/FEI-NLU/edit"


def versions(app, registration_id: int) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count(ProgrammeVersionRecord.id)))


def programme(app, registration_id: int):
    with app.app_context():
        return load_programme(get_session(), registration_id, "FEI-NLU")


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(get_session().scalars(select(AdminAuditEntry.action).where(
            AdminAuditEntry.action.like("programme.%")).order_by(AdminAuditEntry.id)))


def test_the_programme_pages_show_the_configuration_cohorts_regions_and_funders(operator, lms):
    listing = operator.get(f"/admin/registrations/{lms.registration_id}/programmes")
    assert 'data-programme="FEI-NLU"' in listing.text and "Certified Business Development Officer" in listing.text
    page = html.unescape(operator.get(f"/admin/registrations/{lms.registration_id}/programmes/FEI-NLU").text)
    assert "<h1>Certified Business Development Officer <span" in page
    assert "SEK\u00a058,000" in page and "60 %" in page and "16 weeks" in page
    assert page.count("data-module=") == 12 and 'data-cohort="2027-ht"' in page
    assert "R10 – tio inlandskommuner" in page and "Västerbottens inland (exempel)" in page
    assert 'data-version="1"' in page


def test_editing_the_exam_pass_mark_saves_a_new_version_and_started_cohorts_keep_theirs(live_tool, operator, lms):
    response = operator.submit(edit_path(lms), "/edit", {"exam_pass_mark_percent": "70", "save": "Save"})
    assert response.status_code == 302, html.unescape(response.text)[:2000]
    saved = programme(live_tool.app, lms.registration_id)
    assert (saved.version, saved.final_exam.pass_mark) == (2, Fraction(7, 10))
    example = parse_programme_file(EXAMPLE.read_text("utf-8")).programme
    assert (saved.modules, saved.prices, saved.name) == (example.modules, example.prices, example.name)
    with live_tool.app.app_context():
        cohort = get_session().scalar(select(CohortRecord).where(CohortRecord.key == "2027-ht"))
        assert cohort.programme_version.version == 1
    page = html.unescape(operator.get(response.headers["Location"]).text)
    assert "Saved as version 2" in page and 'data-field="exam_pass_mark">70 %' in page
    assert audit_actions(live_tool.app) == ["programme.edit"]


def test_saving_the_form_unchanged_makes_no_new_version(live_tool, operator, lms):
    response = operator.submit(edit_path(lms), "/edit", {"save": "Save"})
    assert response.status_code == 302
    assert versions(live_tool.app, lms.registration_id) == 1
    assert "Nothing changed" in html.unescape(operator.get(response.headers["Location"]).text)
    assert audit_actions(live_tool.app) == []


def test_swedish_number_formats_are_understood(live_tool, operator, lms):
    response = operator.submit(edit_path(lms), "/edit", {
        "full_programme_sek": "59 500,50", "member_discount_percent": "12,5", "save": "Save"})
    assert response.status_code == 302
    saved = programme(live_tool.app, lms.registration_id)
    assert (saved.prices.full_programme_ore, saved.prices.member_discount) == (5_950_050, Fraction(1, 8))


@pytest.mark.parametrize("changes,field,message", [
    ({"full_programme_sek": "-5"}, "full_programme_sek", "Must not be negative."),
    ({"exam_pass_mark_percent": "120"}, "exam_pass_mark_percent", "Must be between 0 and 100 %."),
    ({"exam_pass_mark_percent": ""}, "exam_pass_mark_percent", "Required."),
    ({"duration_weeks": "sixteen"}, "duration_weeks", "Write a whole number."),
    ({"full_programme_sek": "1250.505"}, "full_programme_sek", "At most two decimals (öre)."),
    ({"modules-0-key": ""}, "modules-0-key", "Required."),
    ({"modules-3-key": "m01"}, "modules-3-key", "m01 is used twice."),
    ({"modules-2-pass_mark_percent": "NaN"}, "modules-2-pass_mark_percent", "Write a number, such as 62.5."),
    ({"name_sv": "x" * 301}, "name_sv", "Field cannot be longer than 300 characters."),
])
def test_an_invalid_edit_shows_the_message_at_the_field_and_saves_nothing(live_tool, operator, lms, changes, field,
                                                                         message):
    response = operator.submit(edit_path(lms), "/edit", {**changes, "exam_max_attempts": "5", "save": "Save"})
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Nothing was saved" in page
    error = page[page.index(f'data-error-for="{field}"'):].split("</span>")[0]
    assert message in error
    # the form keeps what was typed, so one correction fixes it
    assert 'value="5"' in page[page.index('name="exam_max_attempts"') - 200:page.index('name="exam_max_attempts"') + 200]
    assert versions(live_tool.app, lms.registration_id) == 1
    assert programme(live_tool.app, lms.registration_id).final_exam.max_attempts == 3
    assert audit_actions(live_tool.app) == []


def test_removing_every_module_is_refused(live_tool, operator, lms):
    changes = {f"modules-{i}-remove": "y" for i in range(12)}
    response = operator.submit(edit_path(lms), "/edit", {**changes, "save": "Save"})
    assert response.status_code == 422
    assert "modules: At least one module is required." in html.unescape(response.text)
    assert versions(live_tool.app, lms.registration_id) == 1


def test_adding_and_removing_modules(live_tool, operator, lms):
    page = operator.submit(edit_path(lms), "/edit", {"add_module": "Add a module"})
    assert page.status_code == 200 and 'data-module-row="12"' in page.text
    assert versions(live_tool.app, lms.registration_id) == 1  # adding a row saves nothing
    values = form_values(page.text, "/edit")
    values.update({"modules-12-key": "m13", "modules-12-name_sv": "Exempelmodul 13: Hållbar utveckling",
                   "modules-12-name_en": "Example module 13: Sustainability", "modules-12-pass_mark_percent": "80",
                   "modules-0-remove": "y", "save": "Save"})
    values.pop("add_module", None)
    saved = operator.post(edit_path(lms), values)
    assert saved.status_code == 302, html.unescape(saved.text)[:3000]
    result = programme(live_tool.app, lms.registration_id)
    assert [m.key for m in result.modules] == [f"m{i:02d}" for i in range(2, 14)]
    assert result.modules[-1].pass_mark == Fraction(4, 5)


def test_a_stale_form_saves_nothing(live_tool, operator, lms):
    stale = operator.get(edit_path(lms))
    assert operator.submit(edit_path(lms), "/edit", {"duration_weeks": "18", "save": "Save"}).status_code == 302
    values = form_values(stale.text, "/edit")
    values.update({"exam_pass_mark_percent": "75", "save": "Save"})
    response = operator.post(edit_path(lms), values)
    assert response.status_code == 409 and "Someone saved version 2" in html.unescape(response.text)
    saved = programme(live_tool.app, lms.registration_id)
    assert (saved.version, saved.duration_weeks, saved.final_exam.pass_mark) == (2, 18, Fraction(3, 5))


def test_the_toml_file_downloads_and_uploads_round_trip(live_tool, operator, lms):
    download = operator.get(f"/admin/registrations/{lms.registration_id}/programmes/FEI-NLU/export")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("application/toml")
    assert 'attachment; filename=FEI-NLU.toml' in download.headers["Content-Disposition"]
    with live_tool.app.app_context():
        assert download.text == format_programme_file(export_document(get_session(), lms.registration_id, "FEI-NLU"))
    assert parse_programme_file(download.text) == parse_programme_file(EXAMPLE.read_text("utf-8"))

    upload = f"/admin/registrations/{lms.registration_id}/programmes/upload"
    same = operator.post(upload, files={"file": ("FEI-NLU.toml", download.content, "application/toml")})
    assert same.status_code == 302
    assert versions(live_tool.app, lms.registration_id) == 1

    edited = download.text.replace("pass_mark_percent = 60", "pass_mark_percent = 65")
    edited += '\n[[cohorts]]\nkey = "2028-vt"\nname = "Omgång 2, våren 2028"\nstarts_on = 2028-01-17\n' \
              'ends_on = 2028-05-05\n'
    changed = operator.post(upload, files={"file": ("FEI-NLU.toml", edited.encode(), "application/toml")})
    assert changed.status_code == 302
    saved = programme(live_tool.app, lms.registration_id)
    assert (saved.version, saved.final_exam.pass_mark) == (2, Fraction(13, 20))
    page = operator.get(f"/admin/registrations/{lms.registration_id}/programmes/FEI-NLU").text
    assert 'data-cohort="2028-vt"' in page
    again = operator.get(f"/admin/registrations/{lms.registration_id}/programmes/FEI-NLU/export").text
    assert parse_programme_file(again).programme.final_exam.pass_mark == Fraction(13, 20)
    assert audit_actions(live_tool.app) == ["programme.import", "programme.import"]


@pytest.mark.parametrize("content,problem", [
    (b"[programme]\ncode = 'X'\n", "programme.duration_weeks: Required."),
    (b"not = [valid toml", "file: not valid TOML"),
    ("[programme]\nname = 'Å'".encode("latin-1"), "file: not UTF-8 text"),
    (b"x" * (256 * 1024 + 1), "file: larger than 256 KiB"),
])
def test_an_invalid_upload_lists_its_problems_and_saves_nothing(live_tool, operator, lms, content, problem):
    response = operator.post(f"/admin/registrations/{lms.registration_id}/programmes/upload",
                             files={"file": ("p.toml", content, "application/toml")})
    assert response.status_code == 422
    assert problem in html.unescape(response.text)
    assert versions(live_tool.app, lms.registration_id) == 1


def test_an_upload_without_a_file_is_refused(live_tool, operator, lms):
    response = operator.post(f"/admin/registrations/{lms.registration_id}/programmes/upload", {})
    assert response.status_code == 422


def test_an_upload_that_the_database_could_not_hold_is_refused_with_a_message(live_tool, operator, lms):
    text = EXAMPLE.read_text("utf-8").replace('code = "FEI-NLU"', 'code = "' + "C" * 101 + '"')
    response = operator.post(f"/admin/registrations/{lms.registration_id}/programmes/upload",
                             files={"file": ("p.toml", text.encode(), "application/toml")})
    assert response.status_code == 422
    assert "programme.code: At most 100 characters." in html.unescape(response.text)


def test_an_lms_administrator_edits_their_own_programme(live_tool, lms):
    console = Console.from_launch(live_tool, *lms.launch_as("demo-admin-1"))
    response = console.submit(edit_path(lms), "/edit", {"validity_years": "3", "save": "Save"})
    assert response.status_code == 302
    assert programme(live_tool.app, lms.registration_id).validity_years == 3
    with live_tool.app.app_context():
        entry = get_session().scalar(select(AdminAuditEntry).where(AdminAuditEntry.action == "programme.edit"))
        assert (entry.actor_kind, entry.actor, entry.registration_id) == ("lms_admin", "demo-admin-1",
                                                                         lms.registration_id)


def test_two_saves_at_the_same_moment_give_a_clear_conflict_not_an_error(live_tool, operator, lms, monkeypatch):
    """The database refuses the second of two equal version numbers; the page says so (409), nothing is half-saved."""
    from sqlalchemy.exc import IntegrityError

    from lti_tool.services import admin as console

    def lost_the_race(session, *args, **kwargs):
        session.execute(select(func.count(ProgrammeVersionRecord.id)))
        raise IntegrityError("INSERT INTO programme_version", {}, Exception("duplicate key"))

    monkeypatch.setattr(console, "import_programme", lost_the_race)
    response = operator.submit(edit_path(lms), "/edit", {"duration_weeks": "20", "save": "Save"})
    assert response.status_code == 409
    assert "at the same moment" in html.unescape(response.text)
    assert versions(live_tool.app, lms.registration_id) == 1
