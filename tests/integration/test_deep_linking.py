"""Deep Linking 2.0: an instructor picks modules and the exam; the LMS gets signed ltiResourceLinks with line items."""
from __future__ import annotations

import html
import re

import jwt
import pytest
import requests
from sqlalchemy import select

from lti_tool.db.demo_lms import DemoLineItem
from lti_tool.demo import seed
from tests.support.fake_lms import FakeLms

DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def follow(browser: requests.Session, lms: FakeLms, response: requests.Response) -> requests.Response:
    while response.status_code in (302, 303):
        response = browser.get(lms.tool.url(response.headers["Location"]) if response.headers["Location"].startswith("/")
                               else response.headers["Location"], allow_redirects=False)
    return response


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


def deep_linking_launch(lms: FakeLms, user: str = "demo-instructor-1", data: str = "opaque-data-42"):
    settings = {"deep_link_return_url": f"{lms.issuer}/deep-link-return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "data": data}
    browser, response = lms.demo.launch_as(user, message_type="LtiDeepLinkingRequest",
                                           **{DL_SETTINGS.replace("/", "__"): settings})
    return browser, follow(browser, lms, response)


def link_course(lms: FakeLms, browser: requests.Session, page: requests.Response) -> requests.Response:
    cohort = re.search(r'<option[^>]*value="(\d+)"', page.text).group(1)
    response = browser.post(page.url, data={"csrf_token": csrf(page.text), "cohort": cohort,
                                            "kind": "full_programme", "module": ""}, allow_redirects=False)
    return follow(browser, lms, response)


def test_picked_modules_come_back_to_the_lms_as_signed_links_with_line_items(lms):
    browser, page = deep_linking_launch(lms)
    assert "/course/link" in page.url and "next=deep-link" in page.url  # an unknown course is linked first
    picker = link_course(lms, browser, page)
    assert "/course/deep-link" in picker.url and 'value="module:m03"' in picker.text
    answer = browser.post(picker.url, data={"csrf_token": csrf(picker.text), "item": ["module:m03", "final-exam"]})
    assert answer.status_code == 200
    action = html.unescape(re.search(r'action="([^"]+)"', answer.text).group(1))
    token = html.unescape(re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1))
    assert action == f"{lms.issuer}/deep-link-return"

    header = jwt.get_unverified_header(token)
    tool_keys = requests.get(lms.tool.url("/lti/jwks")).json()["keys"]
    signing = next(k for k in tool_keys if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(signing).key, algorithms=["RS256"], audience=lms.issuer)
    assert claims["iss"] == seed.CLIENT_ID and claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "deployment_id"] == seed.DEPLOYMENT_ID
    assert claims[DL + "data"] == "opaque-data-42"  # the request's data, back untouched
    items = claims[DL + "content_items"]
    assert [(i["type"], i["custom"], i["lineItem"]["resourceId"], i["lineItem"]["tag"],
             i["lineItem"]["scoreMaximum"]) for i in items] == [
        ("ltiResourceLink", {"module": "m03"}, "module:m03", "module", 100),
        ("ltiResourceLink", {"exam": "final"}, "final-exam", "final-exam", 100)]
    assert all(i["url"] == lms.tool.url("/lti/launch") and i["lineItem"]["label"] == i["title"] for i in items)

    # The demo platform checks the signature against the tool's JWKS and creates the columns.
    returned = requests.post(action, data={"JWT": token})
    assert returned.status_code == 200 and 'data-created="2"' in returned.text
    with lms.session() as session:
        created = session.execute(select(DemoLineItem.resource_id, DemoLineItem.tag, DemoLineItem.score_maximum,
                                         DemoLineItem.label).where(DemoLineItem.resource_id.in_(
                                             ["module:m03", "final-exam"])).order_by(DemoLineItem.id.desc())
                                  .limit(2)).all()
    # Moodle keeps scoreMaximum, resourceId and tag, and names the column after the activity.
    assert {(r, t, m) for r, t, m, _ in created} == {("module:m03", "module", "100"),
                                                   ("final-exam", "final-exam", "100")}
    assert {label for *_, label in created} == {i["title"] for i in items}


def test_a_forged_response_is_refused_by_the_platform(lms):
    forged = jwt.encode({"iss": seed.CLIENT_ID, "aud": lms.issuer, "exp": 9999999999, "iat": 1, "nonce": "n",
                         CLAIM + "message_type": "LtiDeepLinkingResponse", CLAIM + "deployment_id": seed.DEPLOYMENT_ID},
                        lms.demo.keys.signing_key().private_pem, algorithm="RS256",
                        headers={"kid": lms.demo.keys.signing_key().kid})
    assert requests.post(f"{lms.issuer}/deep-link-return", data={"JWT": forged}).status_code == 400


def test_nothing_chosen_is_asked_again_and_a_post_without_csrf_is_refused(lms):
    browser, page = deep_linking_launch(lms)
    picker = link_course(lms, browser, page)
    assert browser.post(picker.url, data={"csrf_token": csrf(picker.text)}).status_code == 400
    assert browser.post(picker.url, data={"item": ["module:m01"]}).status_code == 400


def test_only_teachers_pick_content_and_only_from_a_deep_linking_launch(lms):
    _, learner_page = deep_linking_launch(lms, user="demo-learner-1")
    assert learner_page.status_code == 403
    browser, home = lms.demo.launch_as("demo-instructor-1")
    launch_id = re.search(r"launch=([\w-]+)", home.url).group(1)
    assert browser.get(lms.tool.url(f"/course/deep-link?launch={launch_id}")).status_code == 400
