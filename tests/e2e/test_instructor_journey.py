"""An instructor opens the tool from the demo platform (Debian's Chromium): links the course, syncs it, reads the
cohort dashboard, filters, searches and sorts it, opens a participant's grade history, switches to English and
downloads the exports; every page passes axe-core at 1280 and 320 px."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from lti_tool.services.exports import LEADING, TRAILING
from tests.support.accessibility import assert_focus_visible, check_page
from tests.support.certificates import ANNA, ERIK, INSTRUCTOR, seed
from tests.support.lms import DemoLms

pytestmark = pytest.mark.browser
GUSTAV = "demo-guest-gustav"  # in the cohort through another course: not on the demo course's roster
MODULES = [f"m{n:02}" for n in range(1, 13)]


@pytest.fixture
def context(browser, live_tool):
    context = browser.new_context(locale="en-GB", accept_downloads=True, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def rows(page) -> list[tuple[str, str]]:
    """The matrix as shown: (LMS user id, status) per row, top to bottom."""
    return [(row.get_attribute("data-user"), row.get_attribute("data-state"))
            for row in page.locator("table.matrix tbody tr").all()]


def show(page, **choices: str) -> None:
    """Set the dashboard's filter form as a person would, then submit it with Enter in the search box."""
    for name, value in choices.items():
        if name == "q":
            page.fill("form.filters input[name=q]", value)
        else:
            page.select_option(f"form.filters select[name={name}]", value)
    page.press("form.filters input[name=q]", "Enter")
    page.wait_for_load_state()


def test_an_instructor_links_syncs_reads_filters_and_exports_the_cohort(context, live_tool, tmp_path):
    lms = DemoLms(live_tool)
    seed(lms, {GUSTAV: {"name": "Gustav Gran", "module_keys": ("m01",), "passed": ("m01",), "exam": False}})
    page = context.new_page()
    page.goto(live_tool.url("/demo"))
    page.click(f"button[data-user='{INSTRUCTOR}']")
    page.wait_for_url("**/home?launch=*")
    assert page.locator("h1[data-audience='instructor']").is_visible()
    assert page.locator("[data-unlinked]").is_visible()
    check_page(page, "instructor", "home-unlinked")

    page.click("a[data-link-course]")
    page.wait_for_url("**/course/link?*")
    check_page(page, "instructor", "link-course")
    page.check("input[value='full_programme']")
    page.click("form[data-link-form] input[type=submit]")
    page.wait_for_url("**/home?*notice=linked*")
    page.click("button[data-sync-now]")
    page.wait_for_url("**/home?*notice=sync-started*")
    live_tool.app.extensions["sync_jobs"].wait(60)
    page.reload()
    assert page.locator("[data-last-sync='succeeded']").is_visible()
    check_page(page, "instructor", "home-synced")
    page.click("a[href*='/course/runs']")
    page.wait_for_url("**/course/runs?*")
    check_page(page, "instructor", "sync-history")
    page.go_back()
    page.click("a[href*='/course/line-items']")
    page.wait_for_url("**/course/line-items?*")
    assert page.locator("tr[data-line-item]").count() == 13 + 1  # 12 modules, the exam, the Certification column
    check_page(page, "instructor", "gradebook-columns")
    page.go_back()

    page.click("a[data-dashboard-link]")
    page.wait_for_url("**/instructor/dashboard?*")
    assert page.locator("html").get_attribute("lang") == "sv"  # the launch's locale, not the browser's
    assert rows(page) == [(ANNA, "certified"), (ERIK, "in_progress"), (GUSTAV, "not_eligible")]  # by name
    erik = page.locator(f"tr[data-user='{ERIK}']")
    cells = [erik.locator(f"td[data-module='{key}']") for key in ("m05", "m06", "m07")]
    assert [cell.locator("[aria-hidden=true]").inner_text() for cell in cells] == ["✓", "✗", "·"]
    assert [cell.locator(".visually-hidden").text_content() for cell in cells] == [  # what a screen reader says
        "Klar", "Bedömd under gränsen för godkänt", "Inte bedömd ännu"]
    assert page.locator("ul.counts li[data-state='certified'] strong").inner_text() == "1"
    assert page.locator("svg.chart rect[data-module='m01']").get_attribute("data-completed") == "3"
    check_page(page, "instructor", "dashboard")
    assert assert_focus_visible(page, "instructor dashboard") >= 10

    show(page, state="certified")
    assert rows(page) == [(ANNA, "certified")]
    show(page, state="", q="erik")
    assert rows(page) == [(ERIK, "in_progress")]
    show(page, q="", sort="progress", order="desc")
    assert [user for user, _ in rows(page)] == [ANNA, ERIK, GUSTAV]
    show(page, order="asc")
    assert [user for user, _ in rows(page)] == [GUSTAV, ERIK, ANNA]
    check_page(page, "instructor", "dashboard-sorted")

    page.click(f"tr[data-user='{ERIK}'] th a")
    page.wait_for_url("**/instructor/participants/*")
    history = page.locator("tbody tr[data-kind='module']")
    assert history.count() == 6
    m06 = history.filter(has_text="m06")
    assert "0 / 1" in " ".join(m06.inner_text().split())
    check_page(page, "instructor", "participant")

    page.click("nav[data-language-nav] a[data-lang='en']")
    page.wait_for_url("**/participants/*lang=en*")
    assert page.locator("h2").first.inner_text() == "Grade history"
    page.click("a[href*='/instructor/dashboard']")  # back to the dashboard: the choice of English is kept
    page.wait_for_url("**/instructor/dashboard?*lang=en*")
    assert page.locator("h1[data-audience='instructor']").inner_text().startswith("Cohort dashboard")
    check_page(page, "instructor", "dashboard-en")

    with page.expect_download() as download:
        page.click("a[data-export='csv']")
    csv_file = tmp_path / download.value.suggested_filename
    download.value.save_as(csv_file)
    assert csv_file.suffix == ".csv"
    table = list(csv.reader(io.StringIO(csv_file.read_bytes().decode("utf-8-sig"))))
    assert table[0] == [*LEADING, *MODULES, *TRAILING]
    by_user = {row[0]: dict(zip(table[0], row)) for row in table[1:]}
    assert set(by_user) == {ANNA, ERIK, GUSTAV}
    assert (by_user[ERIK]["m06"], by_user[ERIK]["status"]) == ("below_pass_mark", "in_progress")
    assert "pass mark" in by_user[ERIK]["status_reason"]  # in the language the instructor chose
    assert (by_user[ANNA]["exam_score"], by_user[ANNA]["status"]) == ("75", "certified")
    assert (by_user[GUSTAV]["m01"], by_user[GUSTAV]["m02"]) == ("completed", "not_taken")

    with page.expect_download() as download:
        page.click("a[data-export='xlsx']")
    xlsx_file = tmp_path / download.value.suggested_filename
    download.value.save_as(xlsx_file)
    assert xlsx_file.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(xlsx_file, read_only=True).active
    cells = [["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == table[0]
    assert sorted(row[0] for row in cells[1:]) == sorted(by_user)
