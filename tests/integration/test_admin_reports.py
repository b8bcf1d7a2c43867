"""The administrator's reports over real HTTP: certifications, module-only enrolments, fees, their exports, access.

Two cohorts of one LMS: the example file's cohort 2027-ht (funded by R10, no module price in its
programme version) built by `build_cohort`, and 2028-vt (programme version 2: 6 000 kr a module),
whose participants pay for themselves unless R10 funds them, some of them SKNT members.
"""
from __future__ import annotations

import csv
import html
import io
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import event, select

from lti_tool.db.programmes import CohortRecord, FunderRecord, RegionRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.reports import (ReportFilter, certification_report, fees_report,
                                       module_only_enrolment_report, report_scope)
from lti_tool.services.results import enrol, recompute_cohort_statuses, record_result
from tests.support.admin import Console
from tests.support.cohorts import EXAMPLE, KEYS, NOW, build_cohort
from tests.support.lms import DemoLms

CERTIFIED_IN_SPRING = datetime(2028, 3, 15, 23, 30, tzinfo=timezone.utc)
SECOND_COHORT = """
[[cohorts]]
key = "2028-vt"
name = "Omgång 2, våren 2028"
starts_on = 2028-01-15
ends_on = 2028-05-10
"""
CERTIFICATION_COLUMNS = ["cohort", "cohort_name", "region", "region_name", "full_programme_participants",
                         "certified", "period_from", "period_to"]
MODULE_ONLY_COLUMNS = ["cohort", "cohort_name", "module", "module_name", "lms_user_id", "name", "email", "region",
                       "region_name", "sknt_member", "completed_at", "payer_kind", "payer", "payer_name",
                       "fee_sek", "discount_sek", "net_sek"]
FEES_COLUMNS = ["cohort", "cohort_name", "payer_kind", "payer", "payer_name", "lms_user_id", "name", "email",
                "region", "region_name", "sknt_member", "item", "module", "gross_sek", "discount_sek", "net_sek"]


def add_second_cohort(session, registration_id: int) -> None:
    """Version 2 prices modules at 6 000 kr; cohort 2028-vt follows it, 2027-ht keeps version 1."""
    text = EXAMPLE.read_text("utf-8").replace("# per_module_sek = 6000", "per_module_sek = 6000") + SECOND_COHORT
    import_programme(session, registration_id, parse_programme_file(text), NOW)
    cohort = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == registration_id,
                                                       CohortRecord.key == "2028-vt"))
    regions = {r.key: r.id for r in session.scalars(select(RegionRecord).where(
        RegionRecord.registration_id == registration_id))}
    r10 = session.scalar(select(FunderRecord).where(FunderRecord.registration_id == registration_id))
    people = [
        # sub, name, kind, modules, region, SKNT member, funded by R10, modules completed, exam passed
        ("s1", "Sara Ek", EnrolmentKind.FULL_PROGRAMME, (), "vasterbotten-inland", True, False, KEYS, True),
        ("s2", "Per Berg", EnrolmentKind.FULL_PROGRAMME, (), None, False, False, KEYS[:3], False),
        ("s3", "Lina Holm", EnrolmentKind.MODULE_ONLY, ("m01", "m02"), "vasterbotten-inland", True, False, ["m01"],
         False),
        ("s4", "Omar Ali", EnrolmentKind.MODULE_ONLY, ("m02",), "norrbotten-syd", False, False, ["m02"], False),
        ("s5", "Eva Strand", EnrolmentKind.FULL_PROGRAMME, (), "norrbotten-syd", True, True, [], False),
    ]
    for sub, name, kind, modules, region, member, funded, completed, passed in people:
        user = LmsUser(registration_id=registration_id, id_on_platform=sub, name=name,
                       email=f"{sub}@kommun.example", updated_at=NOW)
        session.add(user)
        session.flush()
        enrolment = enrol(session, registration_id=registration_id, cohort_id=cohort.id, lms_user_id=user.id,
                          kind=kind, module_keys=frozenset(modules), region_id=regions.get(region),
                          is_sknt_member=member, now=NOW)
        if funded:
            enrolment.funder_id = r10.id  # her employer's R10 funding, not the cohort's
        for key in completed:
            record_result(session, enrolment.id, ModuleResult(module_key=key, score=Score(Decimal(1), Decimal(1)),
                                                              graded_at=CERTIFIED_IN_SPRING, source=f"li:{key}"),
                          CERTIFIED_IN_SPRING)
        if passed:
            record_result(session, enrolment.id, ExamAttempt(score=Score(Decimal(75), Decimal(100)),
                                                             graded_at=CERTIFIED_IN_SPRING, source="li:exam"),
                          CERTIFIED_IN_SPRING)
    session.flush()
    recompute_cohort_statuses(session, registration_id, cohort.id, CERTIFIED_IN_SPRING + timedelta(days=1))


@pytest.fixture
def registration_id(live_tool) -> int:
    """15 participants in 2027-ht (certified: u5 in Södra Norrbotten, u10 in no region) and 5 in 2028-vt."""
    with live_tool.app.app_context():
        session = get_session()
        registration_id, _ = build_cohort(session, 15)
        add_second_cohort(session, registration_id)
        session.commit()
    return registration_id


def page_text(response) -> str:
    return html.unescape(response.text).replace("\u00a0", " ").replace("\u202f", " ")


def rows_with(page: str, attribute: str) -> list[dict[str, str]]:
    """The data-* attributes of every element that has `attribute`."""
    return [dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag))
            for tag in re.findall(r"<tr[^>]*\b" + re.escape(attribute) + r'="[^"]*"[^>]*>', page)]


def reports_path(registration_id: int, report: str = "") -> str:
    return f"/admin/registrations/{registration_id}/reports" + (f"/{report}" if report else "")


# --- certification --------------------------------------------------------------------------
def test_certified_per_cohort_and_region_at_any_time(operator, registration_id):
    response = operator.get(reports_path(registration_id, "certification"))
    assert response.status_code == 200
    rows = {(r["cohort"], r["region"]): (int(r["participants"]), int(r["certified"]))
            for r in rows_with(response.text, "data-cohort")}
    assert rows == {
        ("2027-ht", "norrbotten-syd"): (5, 1), ("2027-ht", ""): (5, 1),
        ("2028-vt", "vasterbotten-inland"): (1, 1), ("2028-vt", "norrbotten-syd"): (1, 0), ("2028-vt", ""): (1, 0),
    }
    assert "3 of 13 full-programme participants certified at any time." in page_text(response)


@pytest.mark.parametrize("period,expected", [
    ({"from": "2027-10-01", "to": "2027-12-31"}, {"2027-ht": 2, "2028-vt": 0}),
    ({"from": "2028-03-15", "to": "2028-03-15"}, {"2027-ht": 0, "2028-vt": 1}),  # both days count, whole UTC day
    ({"from": "2028-03-16"}, {"2027-ht": 0, "2028-vt": 0}),
    ({"to": "2027-09-30"}, {"2027-ht": 0, "2028-vt": 0}),
])
def test_certified_in_a_period(operator, registration_id, period, expected):
    page = operator.get(reports_path(registration_id, "certification"), **period).text
    certified: dict[str, int] = {}
    for row in rows_with(page, "data-cohort"):
        certified[row["cohort"]] = certified.get(row["cohort"], 0) + int(row["certified"])
    assert certified == expected


def test_certification_filtered_by_region_and_cohort(operator, registration_id):
    page = operator.get(reports_path(registration_id, "certification"), region="norrbotten-syd").text
    assert {(r["cohort"], r["region"], r["certified"]) for r in rows_with(page, "data-cohort")} == {
        ("2027-ht", "norrbotten-syd", "1"), ("2028-vt", "norrbotten-syd", "0")}
    page = operator.get(reports_path(registration_id, "certification"), cohort="2028-vt").text
    assert {r["cohort"] for r in rows_with(page, "data-cohort")} == {"2028-vt"}


def test_the_period_is_shown_with_dates_in_the_page_language(operator, registration_id):
    period = {"from": "2028-03-01", "to": "2028-03-31"}
    english = page_text(operator.get(reports_path(registration_id, "certification"), **period))
    assert "1 of 13 full-programme participants certified from Mar 1, 2028 to Mar 31, 2028." in english
    swedish = page_text(operator.get(reports_path(registration_id, "certification"), lang="sv", **period))
    assert "1 mars 2028" in swedish and "31 mars 2028" in swedish


@pytest.mark.parametrize("params,field,message", [
    ({"from": "2027-13-01"}, "from", "Write a date as YYYY-MM-DD"),
    ({"from": "2028-01-01", "to": "2027-01-01"}, "to", "The end of the period is before its start."),
    ({"cohort": "no-such-cohort"}, "cohort", "There is no such cohort."),
    ({"region": "gotland"}, "region", "There is no such region."),
])
def test_a_wrong_filter_is_a_400_that_says_what_is_wrong(operator, registration_id, params, field, message):
    response = operator.get(reports_path(registration_id, "certification"), **params)
    assert response.status_code == 400
    page = page_text(response)
    assert message in page[page.index(f'data-error-for="{field}"'):].split("</span>")[0]
    assert 'data-certified="' not in page
    export = operator.get(reports_path(registration_id, "certification.csv"), **params)
    assert export.status_code == 400 and message in page_text(export)


# --- module-only enrolments ------------------------------------------------------------------
def test_module_only_participants_completion_payer_and_fee_per_module(operator, registration_id):
    page = operator.get(reports_path(registration_id, "module-only")).text
    sections = dict(re.findall(r'<section data-cohort="([^"]+)"(.*?)</section>', page, re.S))
    first = {r["module"]: r for r in rows_with(sections["2027-ht"], "data-module")}
    assert (first["m01"]["participants"], first["m01"]["completed"], first["m01"]["net-ore"]) == ("5", "4", "")
    assert list(first) == ["m01"]  # modules nobody takes on its own are left out
    assert "sets no module price" in sections["2027-ht"]
    assert 'data-payer="r10"' in sections["2027-ht"]  # the cohort's funder pays for its module-only participants
    second = {r["module"]: r for r in rows_with(sections["2028-vt"], "data-module")}
    # Lina (SKNT member) 6 000 − 10 % = 5 400 kr for each module; Omar 6 000 kr.
    figures = {key: (row["participants"], row["completed"], row["net-ore"]) for key, row in second.items()}
    assert figures == {"m01": ("1", "1", "540000"), "m02": ("2", "1", "1140000")}
    m02 = page_text(operator.get(reports_path(registration_id, "module-only"), cohort="2028-vt"))
    assert "Lina Holm (the participant): 1" in m02 and "Omar Ali (the participant): 1" in m02
    assert "SEK 6,000" in m02 and "SEK 11,400" in m02


def test_module_only_amounts_in_swedish(operator, registration_id):
    page = page_text(operator.get(reports_path(registration_id, "module-only"), cohort="2028-vt", lang="sv"))
    assert "6 000 kr" in page and "11 400 kr" in page and "5 400 kr" in page


# --- fees ---------------------------------------------------------------------------------
def test_fees_per_payer_with_the_r10_cohort_and_the_sknt_discount(operator, registration_id):
    page = operator.get(reports_path(registration_id, "fees")).text
    sections = dict(re.findall(r'<section data-cohort="([^"]+)"(.*?)</section>', page, re.S))
    funded = rows_with(sections["2027-ht"], "data-payer")
    # R10 pays the whole programme for every full-programme participant of its cohort; they pay nothing.
    assert [(r["payer"], r["payer-kind"], r["net-ore"]) for r in funded] == [("r10", "funder", str(10 * 5_800_000))]
    assert 'data-unpriced="5"' in sections["2027-ht"]
    own = {r["payer"]: (r["payer-kind"], int(r["net-ore"]), int(r["discount-ore"]))
           for r in rows_with(sections["2028-vt"], "data-payer")}
    assert own == {
        "r10": ("funder", 5_220_000, 580_000),         # Eva, funded by R10 and an SKNT member: 52 200 kr
        "s1": ("participant", 5_220_000, 580_000),      # Sara, SKNT member: 52 200 kr
        "s2": ("participant", 5_800_000, 0),            # Per: 58 000 kr
        "s3": ("participant", 1_080_000, 120_000),      # Lina, two modules as a member: 10 800 kr
        "s4": ("participant", 600_000, 0),              # Omar, one module: 6 000 kr
    }
    assert 'data-total-net-ore="17920000"' in sections["2028-vt"]
    overall = {r["payer"]: int(r["net-ore"]) for r in rows_with(page.split("<section data-all-cohorts>")[1]
                                                                .split("</section>")[0], "data-payer")}
    assert overall["r10"] == 58_000_000 + 5_220_000


def test_fee_amounts_follow_the_page_language(operator, registration_id):
    swedish = page_text(operator.get(reports_path(registration_id, "fees"), cohort="2028-vt", lang="sv"))
    assert "52 200 kr" in swedish and "58 000 kr" in swedish and "179 200 kr" in swedish
    english = page_text(operator.get(reports_path(registration_id, "fees"), cohort="2028-vt", lang="en"))
    assert "SEK 52,200" in english and "SEK 179,200" in english


def test_the_fees_of_one_region(operator, registration_id):
    page = operator.get(reports_path(registration_id, "fees"), region="vasterbotten-inland").text
    payers = {r["payer"] for r in rows_with(page, "data-payer")}
    assert payers == {"s1", "s3"}


# --- exports -------------------------------------------------------------------------------
def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader)
    return [dict(zip(header, row)) for row in reader], header


def read_xlsx(response) -> tuple[list[dict], list[str]]:
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[0])
    return [dict(zip(header, row)) for row in values[1:]], header


def test_certification_export(operator, registration_id):
    rows, header = read_csv(operator.get(reports_path(registration_id, "certification.csv"),
                                         **{"from": "2027-10-01", "to": "2027-10-31"}))
    assert header == CERTIFICATION_COLUMNS
    first = {r["region"]: r for r in rows if r["cohort"] == "2027-ht"}
    assert first["norrbotten-syd"] == {
        "cohort": "2027-ht", "cohort_name": "Omgång 1, hösten 2027", "region": "norrbotten-syd",
        "region_name": "Södra Norrbotten (exempel)", "full_programme_participants": "5", "certified": "1",
        "period_from": "2027-10-01", "period_to": "2027-10-31"}
    sheet, header = read_xlsx(operator.get(reports_path(registration_id, "certification.xlsx")))
    assert header == CERTIFICATION_COLUMNS
    assert sum(row["certified"] for row in sheet) == 3  # numbers, not text


def test_module_only_export(operator, registration_id):
    rows, header = read_csv(operator.get(reports_path(registration_id, "module-only.csv"), cohort="2028-vt"))
    assert header == MODULE_ONLY_COLUMNS
    lina = [r for r in rows if r["lms_user_id"] == "s3"]
    assert [(r["module"], r["fee_sek"], r["discount_sek"], r["net_sek"], r["payer_kind"], r["payer"])
            for r in lina] == [("m01", "6000.00", "600.00", "5400.00", "participant", "s3"),
                               ("m02", "6000.00", "600.00", "5400.00", "participant", "s3")]
    assert lina[0]["completed_at"] == CERTIFIED_IN_SPRING.isoformat() and lina[1]["completed_at"] == ""
    assert lina[0]["module_name"].startswith("Example module 1") and lina[0]["sknt_member"] == "true"
    sheet, header = read_xlsx(operator.get(reports_path(registration_id, "module-only.xlsx"), lang="sv"))
    assert header == MODULE_ONLY_COLUMNS
    funded = [row for row in sheet if row["cohort"] == "2027-ht"]
    assert len(funded) == 5 and {row["payer_name"] for row in funded} == {
        "R10 – tio inlandskommuner i Västerbotten och södra Norrbotten"}
    assert all(row["fee_sek"] is None for row in funded)  # not priced in version 1
    assert funded[0]["module_name"].startswith("Exempelmodul 1")
    omar = next(row for row in sheet if row["lms_user_id"] == "s4")
    assert omar["net_sek"] == 6000


def test_fees_export_is_the_invoice_basis_line_by_line(operator, registration_id):
    rows, header = read_csv(operator.get(reports_path(registration_id, "fees.csv")))
    assert header == FEES_COLUMNS
    funded = [r for r in rows if r["cohort"] == "2027-ht"]
    assert {r["payer"] for r in funded if r["item"] == "full_programme"} == {"r10"}
    assert len([r for r in funded if r["item"] == "full_programme"]) == 10
    assert [(r["lms_user_id"], r["module"]) for r in funded if r["item"] == "not_priced"] == [
        (f"u{n}", "m01") for n in (0, 3, 6, 9, 12)]
    eva = next(r for r in rows if r["lms_user_id"] == "s5")
    assert (eva["payer_kind"], eva["payer"], eva["gross_sek"], eva["discount_sek"], eva["net_sek"]) == (
        "funder", "r10", "58000.00", "5800.00", "52200.00")
    sheet, header = read_xlsx(operator.get(reports_path(registration_id, "fees.xlsx"), cohort="2028-vt"))
    assert header == FEES_COLUMNS
    assert sum(Decimal(str(row["net_sek"])) for row in sheet) == Decimal("179200")
    assert {row["payer"]: row["item"] for row in sheet if row["payer"] == "s3"} == {"s3": "module"}


def test_a_name_that_looks_like_a_formula_stays_text_in_the_csv(live_tool, operator, registration_id):
    with live_tool.app.app_context():
        session = get_session()
        session.scalar(select(LmsUser).where(LmsUser.id_on_platform == "s4")).name = "=HYPERLINK(\"http://x\")"
        session.commit()
    rows, _ = read_csv(operator.get(reports_path(registration_id, "fees.csv")))
    assert next(r for r in rows if r["lms_user_id"] == "s4")["name"] == "'=HYPERLINK(\"http://x\")"


# --- the service's queries --------------------------------------------------------------------
@contextmanager
def counted_queries(engine):
    counter = {"count": 0}

    def count(*_args):
        counter["count"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_number_of_queries_does_not_grow_with_the_cohorts(app):
    counts = []
    with app.app_context():
        session = get_session()
        for learners, issuer in ((6, "https://small.example"), (45, "https://large.example")):
            registration_id, _ = build_cohort(session, learners, issuer)
            add_second_cohort(session, registration_id)
            session.commit()
            session.expunge_all()
            with counted_queries(app.extensions["db_engine"]) as counter:
                scope = report_scope(session, registration_id, ReportFilter())
                certification_report(session, registration_id, scope, ReportFilter())
                module_only_enrolment_report(session, registration_id, scope)
                fees_report(session, registration_id, scope)
            counts.append(counter["count"])
    assert counts[0] == counts[1] and counts[0] <= 8, counts


# --- who may see them -------------------------------------------------------------------------
@pytest.fixture
def lms(live_tool) -> DemoLms:
    lms = DemoLms(live_tool)
    with live_tool.app.app_context():
        build_cohort(get_session(), 6, registration_id=lms.registration_id)
        get_session().commit()
    return lms


def test_an_lms_administrator_sees_their_own_reports_and_exports(lms):
    browser, landing = lms.launch_as("demo-admin-1")
    console = Console.from_launch(lms.tool, browser, landing)
    registration = console.get(f"/admin/registrations/{lms.registration_id}")
    assert f'href="/admin/registrations/{lms.registration_id}/reports?' in registration.text
    index = console.get(reports_path(lms.registration_id))
    assert index.status_code == 200 and "Module-only enrolments" in index.text
    page = console.get(reports_path(lms.registration_id, "certification"))
    assert page.status_code == 200
    assert {(r["cohort"], r["certified"]) for r in rows_with(page.text, "data-cohort")} == {
        ("2027-ht", "0"), ("2027-ht", "1")}
    # The filter form and the export links keep the launch, so they work inside the LMS's iframe.
    assert f'name="launch" value="{console.launch_id}"' in page.text
    export = browser.get(lms.tool.url(re.search(r'href="([^"]+)"[^>]*data-export="csv"', page.text)
                                      .group(1).replace("&amp;", "&")))
    assert export.status_code == 200 and export.content.decode("utf-8").startswith("\ufeffcohort,")


def test_an_lms_administrator_cannot_open_another_registrations_reports(lms, registration_id):
    browser, landing = lms.launch_as("demo-admin-1")
    console = Console.from_launch(lms.tool, browser, landing)
    for report in ("", "certification", "module-only", "fees", "certification.csv", "module-only.xlsx",
                   "fees.csv"):
        response = console.get(reports_path(registration_id, report))
        assert response.status_code == 404, report
        assert "Sara Ek" not in response.text and "R10" not in response.text


@pytest.mark.parametrize("user", ["demo-learner-1", "demo-instructor-1"])
def test_learners_and_instructors_are_refused(lms, user):
    browser, landing = lms.launch_as(user)
    console = Console.from_launch(lms.tool, browser, landing)
    for report in ("fees", "module-only.csv"):
        response = console.get(reports_path(lms.registration_id, report))
        assert response.status_code == 403, (user, report)
        assert "Deltagare" not in response.text


def test_without_a_sign_in_the_console_asks_for_one(live_tool, registration_id):
    response = Console(live_tool).get(reports_path(registration_id, "fees.csv"))
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_the_programme_page_links_each_cohort_to_its_reports(operator, registration_id):
    page = operator.get(f"/admin/registrations/{registration_id}/programmes/FEI-NLU").text
    assert f"/admin/registrations/{registration_id}/reports?cohort=2028-vt" in page
