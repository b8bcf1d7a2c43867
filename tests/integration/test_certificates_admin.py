"""Revoking, re-issuing and bulk downloads, through the pages an administrator opens from the LMS.

A revoked certificate must read as revoked everywhere a verifier looks: the public page, its
JSON, the status list bit behind the signed credential, the PDF and the learner's own list.
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.programmes import CertificationStatusRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Registration
from tests.support.certificates import (ADMIN, ANNA, ANNA_NAME, ERIK, INSTRUCTOR, certificates, certification_of,
                                        csrf_token, import_example, issue, launch, pdf_text, seed, status_bit)
from tests.support.independent_platform import LIS, IndependentPlatform, User
from tests.support.lms import DemoLms

joserfc_jwt = pytest.importorskip("joserfc.jwt")
from joserfc.jwk import KeySet  # noqa: E402

REASON = "Slutprovet skrevs av någon annan"


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)


def detail(browser, live_tool, code: str, launch_id: str) -> requests.Response:
    return browser.get(live_tool.url(f"/certificates/{code}?launch={launch_id}"), headers={"Accept-Language": "en"})


def post_form(browser, live_tool, code: str, launch_id: str, form: str, **fields) -> requests.Response:
    page = detail(browser, live_tool, code, launch_id)
    data = {"csrf_token": csrf_token(page.text, form), **fields}
    return browser.post(live_tool.url(f"/certificates/{code}/{form}?launch={launch_id}"), data=data,
                        allow_redirects=False, headers={"Accept-Language": "en"})


def status_list_claims(live_tool, list_id: int) -> dict:
    """The status list as a verifier reads it: the signed credential checked with joserfc."""
    token = requests.get(live_tool.url(f"/status/{list_id}")).text
    jwks = requests.get(live_tool.url("/issuer/jwks")).json()
    return joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims


def is_revoked_by_status_list(live_tool, credential_token: str) -> bool:
    """An independent verifier's revocation check: the credential's own status entry, then the list's bit."""
    jwks = requests.get(live_tool.url("/issuer/jwks")).json()
    claims = joserfc_jwt.decode(credential_token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    entry = claims["credentialStatus"]
    token = requests.get(entry["statusListCredential"]).text
    status_list = joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    return status_bit(status_list["credentialSubject"]["encodedList"], int(entry["statusListIndex"]))


def test_a_revoked_certificate_shows_as_revoked_everywhere(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    code, token = certification.code, certification.credentials[-1].token
    assert is_revoked_by_status_list(live_tool, token) is False

    admin, admin_launch = launch(lms, ADMIN)
    response = post_form(admin, live_tool, code, admin_launch, "revoke", reason=REASON)
    assert response.status_code == 303
    page = admin.get(live_tool.url(response.headers["Location"]), headers={"Accept-Language": "en"}).text
    assert 'data-done="revoked"' in page and REASON in page and "Cecilia Carlsson" in page

    public = requests.get(live_tool.url(f"/verify/{code}"), headers={"Accept-Language": "en"}).text
    assert 'data-validity="revoked"' in public and "Revoked." in public
    assert REASON not in public  # the reason stays inside the tool
    as_json = requests.get(live_tool.url(f"/verify/{code}.json")).json()
    assert (as_json["status"], as_json["revoked"], as_json["revoked_on"]) == ("revoked", True, date.today().isoformat())
    assert REASON not in json.dumps(as_json)
    assert is_revoked_by_status_list(live_tool, token) is True  # the credential the learner holds

    learner, learner_launch = launch(lms, ANNA)
    listing = learner.get(live_tool.url(f"/certificates?launch={learner_launch}"), headers={"Accept-Language": "en"})
    row = listing.text[listing.text.index(f'data-code="{code}"'):]
    assert 'data-validity="revoked"' in row[:2000]
    pdf = learner.get(live_tool.url(f"/certificates/{code}/pdf?launch={learner_launch}&lang=en"))
    assert "REVOKED" in pdf_text(pdf.content)
    with lms.app.app_context():
        assert get_session().scalar(select(CertificationStatusRecord.state)) == "revoked"
    # an intyg of the same person is untouched
    intyg = next(c for c in certificates(lms.app, ANNA) if c.module_key == "m01")
    assert requests.get(live_tool.url(f"/verify/{intyg.code}.json")).json()["status"] == "valid"
    # and nothing revoked is issued again behind the administrator's back
    assert issue(lms, certification.cohort_id).issued == ()


@pytest.mark.parametrize("who,fields,status", [
    (ADMIN, {"reason": "   "}, 400),  # a reason is required
    (ADMIN, {"csrf_token": "forged"}, 400),  # a form from elsewhere
    # Roles come from the launch, not the browser: the same browser (and so a valid form token),
    # opened from the LMS as an instructor or a learner, may not revoke.
    (INSTRUCTOR, {}, 403),
    (ANNA, {}, 403),
])
def test_revoking_needs_an_administrator_a_reason_and_the_form(lms, live_tool, who, fields, status):
    issue(lms, seed(lms, {ANNA: {}}))
    code = certification_of(lms.app, ANNA).code
    browser, launch_id = launch(lms, ADMIN)
    token = csrf_token(detail(browser, live_tool, code, launch_id).text, "revoke")
    if who != ADMIN:
        browser, launch_id = launch(lms, who, browser)
    data = {"csrf_token": token, "reason": REASON, **fields}
    response = browser.post(live_tool.url(f"/certificates/{code}/revoke?launch={launch_id}"), data=data,
                            allow_redirects=False)
    assert response.status_code == status
    assert certification_of(lms.app, ANNA).revoked_at is None


def test_reissuing_corrects_the_name_keeps_the_code_and_revokes_the_old_credential(lms, live_tool):
    issue(lms, seed(lms, {ANNA: {"name": "Ana Anderson"}}))
    before = certification_of(lms.app, ANNA)
    admin, admin_launch = launch(lms, ADMIN)
    response = post_form(admin, live_tool, before.code, admin_launch, "reissue", name=ANNA_NAME,
                         reason="Namnet var felstavat")
    assert response.status_code == 303
    after = certification_of(lms.app, ANNA)
    assert (after.code, after.participant_name, after.revision) == (before.code, ANNA_NAME, 2)
    old_token, new_token = after.credentials[0].token, after.credentials[1].token
    assert is_revoked_by_status_list(live_tool, old_token) is True
    assert is_revoked_by_status_list(live_tool, new_token) is False
    jwks = requests.get(live_tool.url("/lti/jwks")).json()
    claims = joserfc_jwt.decode(new_token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == ANNA_NAME
    assert claims["id"].endswith("#r2")

    public = requests.get(live_tool.url(f"/verify/{before.code}.json")).json()
    assert (public["name"], public["status"], public["reissued_on"]) == (ANNA_NAME, "valid", date.today().isoformat())
    assert public["credential"]["signature_valid"] and public["credential"]["matches_record"]
    history = detail(admin, live_tool, before.code, admin_launch).text
    assert "Ana Anderson" in history and "Namnet var felstavat" in history
    learner, learner_launch = launch(lms, ANNA)
    pdf = learner.get(live_tool.url(f"/certificates/{before.code}/pdf?launch={learner_launch}&lang=sv")).content
    assert ANNA_NAME in pdf_text(pdf) and "Ana Anderson" not in pdf_text(pdf)


def test_the_administrator_issues_due_certificates_with_a_button_that_decides_nothing(lms, live_tool):
    cohort_id = seed(lms, {ANNA: {}, ERIK: {"module_keys": ("m01",), "passed": ()}})
    admin, admin_launch = launch(lms, ADMIN)
    page = admin.get(live_tool.url(f"/certificates?launch={admin_launch}"), headers={"Accept-Language": "en"}).text
    token = csrf_token(page, "issue")
    response = admin.post(live_tool.url(f"/certificates/cohorts/{cohort_id}/issue?launch={admin_launch}"),
                          data={"csrf_token": token}, allow_redirects=False)
    assert response.status_code == 303
    # The launch's locale (sv-SE) outranks the browser's: ask for English explicitly.
    page = admin.get(live_tool.url(response.headers["Location"] + "&lang=en")).text
    assert "Certificates issued: 13." in page
    assert len(certificates(lms.app, ANNA)) == 13 and certificates(lms.app, ERIK) == []
    learner, learner_launch = launch(lms, ANNA, admin)
    refused = learner.post(live_tool.url(f"/certificates/cohorts/{cohort_id}/issue?launch={learner_launch}"),
                           data={"csrf_token": token}, allow_redirects=False)
    assert refused.status_code == 403


def test_a_cohort_downloads_as_a_zip_of_pdfs_limited_to_what_the_viewer_may_see(lms, live_tool):
    # Pia never launched from the demo course: the course's instructor does not see her certificates.
    cohort_id = seed(lms, {ANNA: {}, "pia-elsewhere": {"name": "Pia Persson", "module_keys": ("m01",)}})
    issue(lms, cohort_id)
    launch(lms, ANNA)
    admin, admin_launch = launch(lms, ADMIN)
    response = admin.get(live_tool.url(f"/certificates/cohorts/{cohort_id}/certificates.zip?launch={admin_launch}"
                                       "&lang=sv"))
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert len(names) == 14 and all(name.endswith("-sv.pdf") for name in names)
    certification = certification_of(lms.app, ANNA)
    certification_file = next(name for name in names if certification.code in name)
    assert certification_file.startswith("anna-andersson-certification-")
    assert "Certifierad näringslivsutvecklare" in pdf_text(archive.read(certification_file))

    only = admin.get(live_tool.url(f"/certificates/cohorts/{cohort_id}/certificates.zip?launch={admin_launch}"
                                   "&kind=certification&lang=en"))
    assert zipfile.ZipFile(io.BytesIO(only.content)).namelist() == [certification_file.replace("-sv.pdf", "-en.pdf")]
    assert admin.get(live_tool.url(f"/certificates/cohorts/{cohort_id}/certificates.zip?launch={admin_launch}"
                                   "&kind=everything")).status_code == 400

    teacher, teacher_launch = launch(lms, INSTRUCTOR)
    mine = zipfile.ZipFile(io.BytesIO(teacher.get(live_tool.url(
        f"/certificates/cohorts/{cohort_id}/certificates.zip?launch={teacher_launch}")).content)).namelist()
    assert len(mine) == 13 and not any(name.startswith("pia-persson") for name in mine)
    learner, learner_launch = launch(lms, ANNA)
    assert learner.get(live_tool.url(f"/certificates/cohorts/{cohort_id}/certificates.zip?launch={learner_launch}")
                       ).status_code == 403


ISSUER = "https://other-lms.example"


@pytest.fixture
def other_platform(live_tool, runner):
    """Another LMS (built on lti1p3platform) registered with the same tool."""
    platform = IndependentPlatform(issuer=ISSUER, client_id="other-client", deployment_id="other-deployment",
                                   tool_base_url=live_tool.base_url).start()
    result = runner.invoke(args=[
        "platform", "add", "--issuer", ISSUER, "--client-id", "other-client", "--deployment-id", "other-deployment",
        "--auth-login-url", platform.auth_login_url, "--auth-token-url", platform.auth_token_url,
        "--key-set-url", platform.key_set_url])
    assert result.exit_code == 0, result.output
    yield platform
    platform.stop()


def launch_from(live_tool, platform: IndependentPlatform, user: User) -> tuple[requests.Session, str]:
    """Login at the tool, the platform (lti1p3platform) signs for the tool's nonce, then the launch."""
    browser = requests.Session()
    login = browser.post(live_tool.url("/lti/login"), data=platform.login_initiation(user), allow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlparse(login.headers["Location"]).query).items()}
    data = platform.launch_data(query, user)
    landing = browser.post(live_tool.url("/lti/launch"), data={"id_token": data["id_token"], "state": data["state"]},
                           allow_redirects=False)
    assert landing.status_code == 303, landing.text[:500]
    return browser, parse_qs(urlparse(landing.headers["Location"]).query)["launch"][0]


def test_another_platforms_administrator_can_neither_see_nor_revoke(lms, live_tool, other_platform):
    issue(lms, seed(lms, {ANNA: {}}))
    certification = certification_of(lms.app, ANNA)
    with lms.app.app_context():  # the other LMS runs a cohort of its own, so its administrator has forms
        session = get_session()
        other_id = session.scalar(select(Registration.id).where(Registration.issuer == ISSUER))
        other_cohort_id = import_example(session, other_id).id
        session.commit()

    stranger = User("other-admin", "Olle Other", "olle@other.example", [LIS + "membership#Administrator"])
    browser, launch_id = launch_from(live_tool, other_platform, stranger)
    listing = browser.get(live_tool.url(f"/certificates?launch={launch_id}")).text
    assert f"/certificates/cohorts/{other_cohort_id}/issue" in listing
    assert certification.code not in listing and ANNA_NAME not in listing
    for path in ("", "/pdf", "/credential"):
        assert browser.get(live_tool.url(f"/certificates/{certification.code}{path}?launch={launch_id}")
                           ).status_code == 404
    refused = browser.post(live_tool.url(f"/certificates/{certification.code}/revoke?launch={launch_id}"),
                           data={"csrf_token": csrf_token(listing, "issue"), "reason": REASON},
                           allow_redirects=False)
    assert refused.status_code == 404
    assert browser.get(live_tool.url(f"/certificates/cohorts/{certification.cohort_id}/certificates.zip"
                                     f"?launch={launch_id}")).status_code == 404
    assert certification_of(lms.app, ANNA).revoked_at is None


def test_operators_issue_revoke_and_reissue_from_the_command_line(lms, live_tool, runner):
    seed(lms, {ANNA: {}})
    platform = str(lms.registration_id)
    result = runner.invoke(args=["certificates", "issue", "--platform", platform, "--cohort", "2027-ht"])
    assert result.exit_code == 0, result.output
    assert "cohort 2027-ht: issued 13" in result.output
    code = certification_of(lms.app, ANNA).code
    listed = runner.invoke(args=["certificates", "list", "--platform", platform])
    assert code in listed.output and ANNA_NAME in listed.output

    result = runner.invoke(args=["certificates", "reissue", code.lower(), "--platform", platform,
                                 "--name", "Anna B. Andersson", "--by", "Operatören"])
    assert result.exit_code == 0, result.output
    assert requests.get(live_tool.url(f"/verify/{code}.json")).json()["name"] == "Anna B. Andersson"

    result = runner.invoke(args=["certificates", "revoke", code, "--platform", platform, "--reason", REASON])
    assert result.exit_code == 0, result.output
    assert requests.get(live_tool.url(f"/verify/{code}.json")).json()["status"] == "revoked"
    again = runner.invoke(args=["certificates", "revoke", code, "--platform", platform, "--reason", REASON])
    assert again.exit_code == 1 and "already revoked" in again.output and "Traceback" not in again.output
    wrong_platform = runner.invoke(args=["certificates", "revoke", code, "--platform", "999", "--reason", "x"])
    assert wrong_platform.exit_code == 1 and "no certificate" in wrong_platform.output
    unknown_cohort = runner.invoke(args=["certificates", "issue", "--platform", platform, "--cohort", "nope"])
    assert unknown_cohort.exit_code == 1 and "no cohort" in unknown_cohort.output

