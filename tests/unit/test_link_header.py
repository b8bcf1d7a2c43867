"""Paging through AGS/NRPS results depends on finding rel=next in Link headers as LMSes send them."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from lti_tool.lti.link_header import next_page, parse_links

MOODLE_URL = "https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&limit=10&from=10"


@pytest.mark.parametrize("header", [
    # Moodle: HTML-escaped ampersands and typographic quotes
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&amp;limit=10&amp;from=10>; rel=“next”',
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&amp;limit=10&amp;from=10>; rel=”next”',
    # RFC 8288 as Canvas and Blackboard send it
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&limit=10&from=10>; rel="next"',
    # unquoted
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&limit=10&from=10>; rel=next',
    "<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&limit=10&from=10>;rel='next'",
    # spacing and case
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&limit=10&from=10> ;  REL = "Next"',
    # Moodle's quotes as an HTTP client hands them over: UTF-8 bytes read as Latin-1
    '<https://moodle.example/mod/lti/services.php/2/lineitems?type_id=3&amp;limit=10&amp;from=10>; '
    'rel=“next”'.encode("utf-8").decode("latin-1"),
], ids=["moodle-curly", "moodle-right-quotes", "rfc8288", "unquoted", "single-quotes", "spacing-and-case",
        "moodle-on-the-wire"])
def test_next_is_found_in_every_dialect(header):
    assert next_page(header) == MOODLE_URL


def test_several_links_in_one_header():
    header = ('<https://canvas.example/api/lti/courses/1/names_and_roles?page=1>; rel="current",'
              '<https://canvas.example/api/lti/courses/1/names_and_roles?page=2>; rel="next",'
              '<https://canvas.example/api/lti/courses/1/names_and_roles?page=1>; rel="first",'
              '<https://canvas.example/api/lti/courses/1/names_and_roles?page=5>; rel="last"')
    links = parse_links(header)
    assert links == {
        "current": "https://canvas.example/api/lti/courses/1/names_and_roles?page=1",
        "next": "https://canvas.example/api/lti/courses/1/names_and_roles?page=2",
        "first": "https://canvas.example/api/lti/courses/1/names_and_roles?page=1",
        "last": "https://canvas.example/api/lti/courses/1/names_and_roles?page=5",
    }


def test_next_is_not_taken_from_a_neighbouring_link():
    header = '<https://lms.example/p?page=1>; rel="prev", <https://lms.example/p?page=3>; rel="next"'
    assert next_page(header) == "https://lms.example/p?page=3"


def test_one_link_with_several_relations():
    links = parse_links('<https://lms.example/members?page=3>; rel="next last"')
    assert links["next"] == links["last"] == "https://lms.example/members?page=3"


def test_other_parameters_around_rel_are_ignored():
    header = '<https://lms.example/x?p=2>; type="application/json"; rel="next"; title="Page 2"'
    assert next_page(header) == "https://lms.example/x?p=2"


def test_the_first_link_of_a_relation_wins():
    header = '<https://lms.example/a>; rel="next", <https://lms.example/b>; rel="next"'
    assert next_page(header) == "https://lms.example/a"


@pytest.mark.parametrize("header", [
    None,
    "",
    '<https://lms.example/members?page=1>; rel="first", <https://lms.example/members?page=1>; rel="last"',
    '<https://lms.example/members?page=1>; rel="prev"',
    '<https://lms.example/members?page=2>; rel="nextish"',
    '<https://lms.example/members?page=2>',
    '<https://lms.example/members?page=2>; title="next"',
], ids=["none", "empty", "first-last", "prev-only", "similar-name", "no-params", "next-in-title"])
def test_no_next_means_the_last_page(header):
    assert next_page(header) is None


@pytest.mark.parametrize("header", [
    "rel=next",
    "https://lms.example/members?page=2; rel=next",
    "<https://lms.example/members?page=2; rel=next",
    ";;;,,,<<>>;rel=",
    "\x00\xff garbage \u201c\u201d",
    "<>; rel",
])
def test_garbage_is_no_next_and_no_exception(header):
    assert next_page(header) is None


def test_header_folded_over_lines():
    header = ('<https://lms.example/members?page=1>;\n rel="prev",\n'
              '<https://lms.example/members?page=3&amp;limit=50>;\r\n\trel="next"')
    assert next_page(header) == "https://lms.example/members?page=3&limit=50"


@given(st.text())
def test_any_text_parses_without_exception(text):
    links = parse_links(text)
    assert isinstance(links, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in links.items())
