"""The public verification page and its JSON: no login, only what verification needs, rate-limited."""
from __future__ import annotations

import html
from datetime import datetime, timezone

import pytest
import requests

from lti_tool.domain.certificates import new_certificate_code
from tests.support.certificates import ANNA, ANNA_NAME, ERIK, certification_of, certificates, issue, seed
from tests.support.lms import DemoLms

EMAIL = "anna.andersson@example.se"  # what the demo platform shares about Anna


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)


def visit(live_tool, path: str, lang: str = "en", **headers) -> requests.Response:
    return requests.get(live_tool.url(path), headers={"Accept-Language": lang, **headers})


@pytest.mark.parametrize("lang,expected", [
    ("sv", ["Giltigt.", "Certifierad näringslivsutvecklare", "2 juni 2026", "Exempelmodul 7: Kompetensförsörjning"]),
    ("en", ["Valid.", "Certified Business Development Officer", "June 2, 2026", "Example module 7: Skills supply"]),
])
def test_anyone_verifies_a_certificate_without_logging_in(lms, live_tool, lang, expected):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    lms.launch_as(ANNA)  # the LMS has shared Anna's e-mail address with the tool
    response = visit(live_tool, f"/verify/{certification.code}", lang)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert 'data-validity="valid"' in page and 'data-signature="valid"' in page
    assert ANNA_NAME in page and certification.code in page and "FEI" in page
    for text in expected[1:]:
        assert text in page
    if lang == "en":
        assert expected[0] in page
    # only what is needed to verify: no e-mail address, no LMS identifiers
    assert EMAIL not in page and ANNA not in page and "demo-course" not in page
    assert response.headers["X-Robots-Tag"].startswith("noindex")


def test_the_json_says_the_same_and_nothing_more(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    lms.launch_as(ANNA)
    certification = certification_of(lms.app, ANNA)
    by_suffix = visit(live_tool, f"/verify/{certification.code}.json")
    by_accept = visit(live_tool, f"/verify/{certification.code}", Accept="application/json")
    assert by_suffix.headers["Content-Type"] == by_accept.headers["Content-Type"] == "application/json"
    body = by_suffix.json()
    assert body == by_accept.json()
    assert (body["status"], body["kind"], body["name"], body["revoked"]) == ("valid", "certification", ANNA_NAME,
                                                                               False)
    assert body["programme"] == {"code": "FEI-NLU", "version": 1,
                                 "name": {"sv": "Certifierad näringslivsutvecklare",
                                          "en": "Certified Business Development Officer"}}
    assert (body["exam_passed_on"], body["valid_until"], body["revoked_on"]) == ("2026-06-02", None, None)
    assert len(body["modules"]) == 12 and body["verification_url"] == live_tool.url(f"/verify/{certification.code}")
    assert body["credential"]["signature_valid"] and body["credential"]["matches_record"]
    assert EMAIL not in by_suffix.text and ANNA not in by_suffix.text


def test_codes_are_read_as_typed_and_unknown_ones_are_a_clear_404(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    code = certification_of(lms.app, ANNA).code
    typed = visit(live_tool, f"/verify?code={code.lower().replace('-', ' ')}")
    assert typed.status_code == 200 and typed.url == live_tool.url(f"/verify/{code}")
    compact = visit(live_tool, f"/verify/{code.replace('-', '').lower()}")  # the page accepts any spelling too
    assert compact.status_code == 200 and 'data-validity="valid"' in compact.text
    unknown = new_certificate_code(bytes(16))  # well formed, never issued
    for path in (f"/verify/{unknown}", "/verify/NOT-A-CODE", f"/verify/{code[:-1]}X"):
        response = visit(live_tool, path)
        assert response.status_code == 404
        assert "No certificate has this code" in html.unescape(response.text)
    as_json = visit(live_tool, f"/verify/{unknown}.json")
    assert as_json.status_code == 404 and as_json.json()["error"] == "not_found"
    form = visit(live_tool, "/verify?code=nonsense")
    assert form.status_code == 404 and 'name="code"' in form.text
    assert visit(live_tool, "/verify").status_code == 200


def test_an_expired_certificate_says_so(lms, live_tool):
    # Certified in 2024 on a programme whose certificates are valid for one year.
    spring_2024 = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)
    cohort_id = seed(lms, {ANNA: {"modules_done": spring_2024, "exam_passed": spring_2024}},
                     edit=("duration_weeks = 16", "duration_weeks = 16\nvalidity_years = 1"))
    issue(lms, cohort_id, when=datetime(2024, 6, 1, tzinfo=timezone.utc))
    code = certification_of(lms.app, ANNA).code
    page = html.unescape(visit(live_tool, f"/verify/{code}").text)
    assert 'data-validity="expired"' in page and "May 6, 2025" in page
    body = visit(live_tool, f"/verify/{code}.json").json()
    assert (body["status"], body["valid_until"]) == ("expired", "2025-05-06")
    assert body["credential"]["signature_valid"]  # expired, not forged


def test_an_intyg_is_verified_like_a_certificate(lms, live_tool):
    issue(lms, seed(lms, {ERIK: {"module_keys": ("m04",)}}))
    (intyg,) = certificates(lms.app, ERIK)
    body = visit(live_tool, f"/verify/{intyg.code}.json").json()
    assert (body["kind"], body["status"], body["exam_passed_on"]) == ("module", "valid", None)
    assert [m["name"]["sv"] for m in body["modules"]] == [
        "Exempelmodul 4: Etableringar och investeringsfrämjande"]


def test_verification_is_rate_limited_per_client(lms, live_tool):
    unknown = new_certificate_code(bytes(16))
    statuses = [visit(live_tool, f"/verify/{unknown}").status_code for _ in range(61)]
    assert statuses[:60] == [404] * 60 and statuses[60] == 429
    limited = visit(live_tool, f"/verify/{unknown}.json")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_the_issuer_publishes_its_profile_and_keys(lms, live_tool):
    profile = visit(live_tool, "/issuer").json()
    assert (profile["id"], profile["type"], profile["name"]) == (live_tool.url("/issuer"), ["Profile"], "FEI")
    kids = {key["kid"] for key in visit(live_tool, "/issuer/jwks").json()["keys"]}
    assert lms.app.extensions["lti_services"].tool_keys.signing_key().kid in kids
    assert all("d" not in key for key in visit(live_tool, "/issuer/jwks").json()["keys"])  # public parts only
