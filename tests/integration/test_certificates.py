"""Certificates issued from results, downloaded by their holder over real HTTP, checked independently.

The PDF's text is read back with pypdf, its QR code decoded with zxing-cpp (a decoder the tool
does not use), and the signed credential verified with joserfc against the tool's published
JWKS: none of them shares code with the way the tool writes these things.
"""
from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import select

from lti_tool.db.programmes import CertificationStatusRecord
from lti_tool.db.session import get_session
from lti_tool.services.results import record_result
from tests.support.certificates import (ADMIN, ANNA, ANNA_NAME, ERIK, ERIK_NAME, EXAM_PASSED, INSTRUCTOR, MODULE_KEYS,
                                        certificates, certification_of, issue, launch, lms_user, module_grade, now,
                                        pdf_text, seed, status_bit)
from tests.support.lms import DemoLms

zxingcpp = pytest.importorskip("zxingcpp")
joserfc_jwt = pytest.importorskip("joserfc.jwt")
from joserfc.errors import BadSignatureError  # noqa: E402
from joserfc.jwk import KeySet  # noqa: E402


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)


def test_a_certified_participant_gets_the_certificate_and_an_intyg_per_module(lms):
    cohort_id = seed(lms, {ANNA: {}})
    outcome = issue(lms, cohort_id)
    mine = certificates(lms.app, ANNA)
    assert len(outcome.issued) == len(mine) == 13
    kinds = sorted((c.kind, c.module_key) for c in mine)
    assert kinds == [("certification", "")] + [("module", key) for key in MODULE_KEYS]
    certification = certification_of(lms.app, ANNA)
    assert (certification.participant_name, certification.exam_passed_at, certification.revision) == (
        ANNA_NAME, EXAM_PASSED, 1)
    assert issue(lms, cohort_id).issued == ()  # issuing again issues nothing twice


def test_module_only_participants_get_intyg_but_never_a_certification(lms):
    # Erik bought two modules, yet has every module and the exam graded as passed.
    cohort_id = seed(lms, {ERIK: {"module_keys": ("m01", "m02")}})
    issue(lms, cohort_id)
    assert sorted((c.kind, c.module_key) for c in certificates(lms.app, ERIK)) == [("module", "m01"),
                                                                                  ("module", "m02")]
    with lms.app.app_context():
        assert get_session().scalar(select(CertificationStatusRecord.state)) == "not_eligible"


def test_a_page_view_never_issues_a_certificate(lms, live_tool):
    seed(lms, {ANNA: {}})
    browser, launch_id = launch(lms, ANNA)
    for path in ("/home", "/certificates"):
        assert browser.get(live_tool.url(f"{path}?launch={launch_id}")).status_code == 200
    admin, admin_launch = launch(lms, ADMIN)
    assert admin.get(live_tool.url(f"/certificates?launch={admin_launch}")).status_code == 200
    # the issue action is a POST; a link (GET) to it does nothing
    assert admin.get(live_tool.url(f"/certificates/cohorts/1/issue?launch={admin_launch}")).status_code == 405
    assert certificates(lms.app) == []


def test_the_learner_downloads_a_pdf_whose_text_holds_the_facts_in_swedish_and_english(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    browser, launch_id = launch(lms, ANNA)
    page = browser.get(live_tool.url(f"/certificates?launch={launch_id}"))
    assert certification.code in page.text

    texts = {}
    for lang in ("sv", "en"):
        response = browser.get(live_tool.url(f"/certificates/{certification.code}/pdf?launch={launch_id}&lang={lang}"))
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
        assert "attachment" in response.headers["Content-Disposition"]
        texts[lang] = pdf_text(response.content)
    verify_url = live_tool.url(f"/verify/{certification.code}")
    for text in texts.values():
        assert ANNA_NAME in text and "FEI" in text and certification.code in text and verify_url in text
        assert "FEI-NLU" in text
    sv, en = texts["sv"], texts["en"]
    assert "Certifierad näringslivsutvecklare" in sv and "Certified Business Development Officer" not in sv
    assert "Certified Business Development Officer" in en and "Certifierad näringslivsutvecklare" not in en
    assert "Exempelmodul 7: Kompetensförsörjning" in sv and "Example module 7: Skills supply" in en
    # the exam was passed on 2 June 2026, the certificate issued today
    assert "2 juni 2026" in sv and "June 2, 2026" in en
    assert certification.issued_at.strftime("%Y") in sv


def test_the_qr_code_in_the_pdf_decodes_to_the_verification_url(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    for certificate in certificates(lms.app, ANNA)[:2]:  # an intyg and the certification alike
        browser, launch_id = launch(lms, ANNA)
        body = browser.get(live_tool.url(f"/certificates/{certificate.code}/pdf?launch={launch_id}")).content
        images = PdfReader(io.BytesIO(body)).pages[0].images
        assert len(images) == 1
        decoded = zxingcpp.read_barcodes(images[0].image)
        assert [(d.format.name, d.text) for d in decoded] == [("QRCode", live_tool.url(f"/verify/{certificate.code}"))]


def test_the_credential_verifies_with_an_independent_library_against_the_published_jwks(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    browser, launch_id = launch(lms, ANNA)
    response = browser.get(live_tool.url(f"/certificates/{certification.code}/credential?launch={launch_id}"))
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/vc+jwt")
    token = response.text

    jwks = requests.get(live_tool.url("/lti/jwks")).json()
    verified = joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    signing_kid = lms.app.extensions["lti_services"].tool_keys.signing_key().kid
    assert verified.header["alg"] == "RS256" and verified.header["kid"] == signing_kid
    claims = verified.claims
    assert "VerifiableCredential" in claims["type"] and "OpenBadgeCredential" in claims["type"]
    assert claims["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert claims["issuer"]["id"] == claims["iss"] == live_tool.url("/issuer")
    assert claims["issuer"]["name"] == "FEI"
    assert claims["jti"] == claims["id"] == live_tool.url(f"/verify/{certification.code}#r1")
    subject = claims["credentialSubject"]
    assert subject["identifier"][0]["identityHash"] == ANNA_NAME
    assert subject["achievement"]["name"] == "Certified Business Development Officer"
    assert subject["achievement"]["criteria"]["narrative"]
    status = claims["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"].startswith(live_tool.url("/status/"))
    assert requests.get(live_tool.url("/issuer")).json()["id"] == claims["iss"]

    header, payload, signature = token.split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed["credentialSubject"]["identifier"][0]["identityHash"] = "Anna Anderssom"  # one byte
    forged_payload = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        joserfc_jwt.decode(f"{header}.{forged_payload}.{signature}", KeySet.import_key_set(jwks))
    raw_signature = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw_signature[10] ^= 0x01
    forged_signature = base64.urlsafe_b64encode(bytes(raw_signature)).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        joserfc_jwt.decode(f"{header}.{payload}.{forged_signature}", KeySet.import_key_set(jwks))


def test_the_status_list_is_signed_and_has_the_bit_clear_for_a_valid_credential(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    credential = certification.credentials[-1]
    response = requests.get(live_tool.url(f"/status/{credential.status_list_id}"))
    assert response.headers["Content-Type"].startswith("application/vc+jwt")
    jwks = requests.get(live_tool.url("/issuer/jwks")).json()
    status_list = joserfc_jwt.decode(response.text, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = status_list["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    assert status_bit(subject["encodedList"], credential.status_list_index) is False
    plain = requests.get(live_tool.url(f"/status/{credential.status_list_id}"),
                         headers={"Accept": "application/json"}).json()
    assert plain["credentialSubject"]["encodedList"] == subject["encodedList"]
    assert requests.get(live_tool.url("/status/999")).status_code == 404


def test_a_lowered_grade_after_issue_flags_review_and_does_not_revoke(lms, live_tool):
    cohort_id = seed(lms, {ANNA: {}})
    issue(lms, cohort_id)
    certification = certification_of(lms.app, ANNA)
    with lms.app.app_context():
        session = get_session()
        record_result(session, certification.enrolment_id, module_grade("m03", "0", EXAM_PASSED + timedelta(days=9)),
                      now())
        session.commit()
    outcome = issue(lms, cohort_id)
    assert certification.code in outcome.flagged_for_review
    intyg_m03 = next(c for c in certificates(lms.app, ANNA) if c.module_key == "m03")
    assert intyg_m03.code in outcome.flagged_for_review
    with lms.app.app_context():
        stored = get_session().get(CertificationStatusRecord, certification.enrolment_id)
        assert (stored.state, stored.needs_admin_review) == ("in_progress", True)
    public = requests.get(live_tool.url(f"/verify/{certification.code}.json")).json()
    assert public["status"] == "valid"  # an administrator decides; nothing is revoked silently
    assert certification_of(lms.app, ANNA).needs_review is True


def test_a_participant_without_a_name_waits_for_one(lms):
    cohort_id = seed(lms, {ERIK: {"name": None}})
    outcome = issue(lms, cohort_id)
    assert outcome.issued == () and len(outcome.waiting_for_name) == 1
    with lms.app.app_context():
        lms_user(get_session(), lms.registration_id, ERIK, ERIK_NAME)
        get_session().commit()
    assert len(issue(lms, cohort_id).issued) == 13


def test_a_learner_sees_and_downloads_only_their_own(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}, ERIK: {"module_keys": ("m01",)}}))
    anna_code = certification_of(lms.app, ANNA).code
    erik, erik_launch = launch(lms, ERIK)
    listing = erik.get(live_tool.url(f"/certificates?launch={erik_launch}"))
    assert anna_code not in listing.text and ANNA_NAME not in listing.text
    for path in ("", "/pdf", "/credential"):
        response = erik.get(live_tool.url(f"/certificates/{anna_code}{path}?launch={erik_launch}"))
        assert response.status_code == 404, path
    # no launch, no download
    assert requests.get(live_tool.url(f"/certificates/{anna_code}/pdf")).status_code == 401
    # the instructor of the course sees the participants who launched from it
    launch(lms, ANNA)
    teacher, teacher_launch = launch(lms, INSTRUCTOR)
    assert teacher.get(live_tool.url(f"/certificates/{anna_code}/pdf?launch={teacher_launch}")).status_code == 200
    listing = teacher.get(live_tool.url(f"/certificates?launch={teacher_launch}"))
    assert anna_code in listing.text
