"""Amounts in öre as people read them: "58 000 kr" in Swedish, "SEK 58,000" in English."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from lti_tool.web.money import money_text

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def request_context():
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield


@pytest.mark.parametrize("locale,ore,text", [
    ("sv", 5_800_000, "58 000 kr"),         # whole kronor: no ",00"
    ("sv", 5_220_050, "52 200,50 kr"),      # öre shown when there are some
    ("sv", 0, "0 kr"),
    ("sv", 5, "0,05 kr"),
    ("sv", 63_220_000, "632 200 kr"),
    ("en", 5_800_000, "SEK 58,000"),        # a letter currency is kept apart from the digits
    ("en", 5_220_050, "SEK 52,200.50"),
    ("en", 0, "SEK 0"),
])
def test_amounts_per_locale(request_context, locale, ore, text):
    with force_locale(locale):
        assert money_text(ore).replace(NBSP, " ") == text


def test_the_spaces_do_not_break_a_line(request_context):
    with force_locale("sv"):
        assert " " not in money_text(5_800_000)


def test_no_amount_is_empty(request_context):
    assert money_text(None) == ""
