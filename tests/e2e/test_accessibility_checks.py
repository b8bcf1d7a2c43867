"""The checks every journey relies on catch what they are meant to: a page without a language, an unlabelled field,
text too faint to read, a page wider than the phone, a focus nobody can see."""
from __future__ import annotations

import pytest

from tests.support.accessibility import (assert_accessible, assert_fits_width, assert_focus_visible, axe_violations,
                                         violation_report)

pytestmark = pytest.mark.browser

GOOD = """<!doctype html><html lang="sv"><head><title>Bra</title>
<style>:focus-visible { outline: 3px solid #1b1f24; } .wrap { overflow-x: auto; }</style></head>
<body><main><h1>Rubrik</h1><label>Sök <input name="q"></label>
<div class="wrap"><table><tr><th scope="col">A</th></tr><tr><td><a href="#x">En länk</a></td></tr></table></div>
</main></body></html>"""


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 320, "height": 600})
    yield context.new_page()
    context.close()


def test_a_sound_page_passes(page):
    page.set_content(GOOD)
    assert_accessible(page, "a sound page")
    assert_fits_width(page, "a sound page")
    assert assert_focus_visible(page, "a sound page") == 2


def test_axe_names_the_rule_and_the_element(page):
    page.set_content("""<!doctype html><html><head><title>x</title></head><body><main>
        <input id="nameless"><p style="color:#bbb">faint</p></main></body></html>""")
    violations = axe_violations(page)
    assert {"html-has-lang", "label", "color-contrast"} <= {v["id"] for v in violations}
    report = violation_report(violations)
    assert "#nameless" in report and "color-contrast (serious)" in report
    with pytest.raises(AssertionError, match="WCAG 2.1 A/AA violation"):
        assert_accessible(page, "a poor page")


def test_a_page_wider_than_the_screen_is_refused_but_a_table_scrolling_in_its_box_is_not(page):
    page.set_content(GOOD.replace("<h1>Rubrik</h1>", '<h1>Rubrik</h1><pre>' + "x" * 200 + "</pre>"))
    with pytest.raises(AssertionError, match="too wide: .*pre"):
        assert_fits_width(page, "a wide page")
    page.set_content(GOOD.replace("<th scope=\"col\">A</th>", '<th scope="col">' + "x" * 200 + "</th>"))
    assert_fits_width(page, "a wide table in its own scrolling box")


def test_an_invisible_focus_is_refused(page):
    page.set_content(GOOD.replace("<style>", "<style>:focus { outline: none !important; } "))
    with pytest.raises(AssertionError, match="no visible focus"):
        assert_focus_visible(page, "outline removed")
