"""A language picked on a launched page stays picked on the pages it links to; URLs given to an LMS never carry it."""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlparse

import pytest

from lti_tool.web.i18n import this_page_in
from tests.support.lms import DemoLms, launch_id


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)


def hrefs(page: str, containing: str) -> list[dict[str, list[str]]]:
    """The query of every link whose address contains `containing`."""
    return [parse_qs(urlparse(html.unescape(href)).query)
            for href in re.findall(r'href="([^"]+)"', page) if containing in html.unescape(href)]


def test_the_launch_locale_speaks_first_and_the_switch_changes_it(lms):
    browser, landing = lms.launch_as("demo-learner-1")  # the demo platform's launch locale: sv-SE
    launch = launch_id(landing)
    swedish = browser.get(lms.tool.url(f"/learner?launch={launch}"), headers={"Accept-Language": "en"}).text
    assert '<html lang="sv">' in swedish and "Mina framsteg" in swedish
    switch = hrefs(swedish, "/learner?")
    assert {"launch": [launch], "lang": ["en"]} in switch and {"launch": [launch], "lang": ["sv"]} in switch
    english = browser.get(lms.tool.url(f"/learner?launch={launch}&lang=en")).text
    assert '<html lang="en">' in english and "My progress" in english


def test_links_from_a_page_in_english_stay_in_english(lms):
    browser, landing = lms.launch_as("demo-learner-1")
    launch = launch_id(landing)
    home = browser.get(lms.tool.url(f"/home?launch={launch}&lang=en")).text
    assert hrefs(home, "/learner?") == [{"launch": [launch], "lang": ["en"]}]
    assert all(query.get("lang") == ["en"] for query in hrefs(home, "/certificates?"))
    untouched = browser.get(lms.tool.url(f"/home?launch={launch}")).text  # nobody picked: nothing added
    assert hrefs(untouched, "/learner?") == [{"launch": [launch]}]


def test_urls_an_lms_is_given_do_not_carry_the_language(lms, client):
    page = client.get("/registration?lang=en").get_data(as_text=True)
    assert "Install the tool in an LMS" in page
    shown = re.findall(r'<code data-value="[^"]+">([^<]+)</code>', page)
    assert shown and not any("lang=" in value for value in shown)



def test_a_query_argument_named_like_a_path_argument_does_not_break_the_switch(app):
    with app.test_request_context("/instructor/participants/5?launch=L&enrolment_id=7&q=anna"):
        url = this_page_in("en")
    path, query = url.split("?")
    assert path == "/instructor/participants/5"
    assert parse_qs(query) == {"launch": ["L"], "q": ["anna"], "lang": ["en"]}  # the path names the participant
