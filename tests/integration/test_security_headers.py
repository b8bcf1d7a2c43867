"""The Content-Security-Policy: inline code only by the response's nonce, nothing from elsewhere, framed by LMSs."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import event

from lti_tool.db.course_sync import ContextServiceRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Context, Registration
from lti_tool.lti.launch import AGS_CLAIM, CLAIM
from lti_tool.services.platforms import NewPlatform, add_platform, set_registration_active
from lti_tool.web.csp import RegisteredOrigins
from tests.integration.test_deep_linking import DL_SETTINGS, csrf, follow, link_course
from tests.integration.test_instructor_dashboard import linked_course_with_learners
from tests.support.admin import Console, add_operator
from tests.support.fake_lms import FakeLms
from tests.support.lms import DemoLms, form_fields, launch_id
from tests.support.registration_platforms import FakeMoodle

NOW = datetime.now(timezone.utc)
# A Canvas-like customer: its issuer is Instructure's, its pages live on the customer's domain.
CANVAS_ISSUER = "https://canvas.instructure.com"
CUSTOMER = "https://canvas.region-a.example"
OTHER_LMS = "https://moodle.region-b.example"
SWITCHED_OFF_LMS = "https://moodle.region-c.example"


class PageParts(HTMLParser):
    """What a CSP governs in a page: inline code, inline event handlers and style attributes, foreign assets."""

    ASSET_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src",
                        "embed": "src", "object": "data", "audio": "src", "video": "src"}

    def __init__(self, own_origin: str):
        super().__init__()
        self.own_origin = own_origin
        self.inline_code: list[tuple[str, str | None]] = []  # (tag, nonce)
        self.handlers: list[str] = []
        self.style_attributes: list[str] = []
        self.foreign_assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self.inline_code.append((tag, attributes.get("nonce")))
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]
        if "style" in attributes:
            self.style_attributes.append(f"<{tag} style={attributes['style']!r}>")
        source = attributes.get(self.ASSET_ATTRIBUTES.get(tag, "")) or ""
        if source.startswith(("http:", "https:", "//")) and not source.startswith(self.own_origin + "/"):
            self.foreign_assets.append(source)


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.url}: no Content-Security-Policy"
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def check_page(response, own_origin: str) -> dict[str, list[str]]:
    """The page's policy, after checking that the page keeps to it."""
    policy = policy_of(response)
    [script_source] = policy["script-src"]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{20,}'", script_source), policy["script-src"]
    nonce = script_source[len("'nonce-"):-1]
    assert "'unsafe-inline'" not in policy["style-src"] and "'unsafe-eval'" not in policy["style-src"]
    assert policy["default-src"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["connect-src"] == ["'self'"]
    parts = PageParts(own_origin)
    parts.feed(response.text)
    assert [code for code in parts.inline_code if code[1] != nonce] == [], response.url
    assert parts.handlers == [] and parts.style_attributes == [], response.url
    assert parts.foreign_assets == [], response.url
    return policy


def is_page(response) -> bool:
    return response.status_code != 404 and response.headers.get("Content-Type", "").startswith("text/html")


def crawl(browser: requests.Session, start: requests.Response, base_url: str, limit: int = 30) -> list:
    """The pages reachable by links from `start` on the tool (GET only: nothing is changed)."""
    pages, seen, queue = [start], {start.url}, [start]
    while queue and len(pages) < limit:
        page = queue.pop(0)
        for href in re.findall(r'<a [^>]*href="([^"]+)"', page.text):
            url = urljoin(page.url, href.replace("&amp;", "&"))
            if not url.startswith(base_url + "/") or url in seen or "/pdf" in url or url.endswith(".zip"):
                continue
            seen.add(url)
            response = browser.get(url)
            if is_page(response):
                pages.append(response)
                queue.append(response)
    return pages


@pytest.fixture
def lms(live_tool):
    return DemoLms(live_tool)


@pytest.fixture
def fresh_origins(live_tool):
    """Pages of no launch read the registrations anew (the process caches them for a minute)."""
    cache: RegisteredOrigins = live_tool.app.extensions["csp_registered_origins"]
    cache.forget()
    yield cache
    cache.forget()


def add_registration(app, issuer: str, client_id: str = "c", *, is_active: bool = True,
                     login_url: str | None = None) -> int:
    with app.app_context():
        session = get_session()
        registration = add_platform(session, NewPlatform(
            issuer=issuer, client_id=client_id, auth_login_url=login_url or issuer + "/auth",
            auth_token_url=issuer + "/token", key_set_url=issuer + "/jwks", deployment_ids=("d1",)), NOW)
        if not is_active:
            set_registration_active(session, registration.id, False)
        session.commit()
        return registration.id


def launch_from(lms: DemoLms, user_id: str, origin: str | None, **claims) -> requests.Response:
    """A complete launch whose form post comes from an LMS page at `origin`; returns the landing page."""
    browser = lms.browser()
    login = lms.login(browser, user_id)
    token = lms.sign(lms.claims(login.nonce, user_id, **claims))
    headers = {"Origin": origin} if origin else {}
    response = browser.post(lms.tool.url("/lti/launch"), data={"id_token": token, "state": login.state},
                            headers=headers, allow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return browser.get(lms.tool.url(response.headers["Location"]))


# --- every page keeps to the policy ------------------------------------------------------------------------
@pytest.mark.parametrize("user_id", ["demo-learner-1", "demo-instructor-1", "demo-admin-1"])
def test_every_launched_page_carries_the_policy_and_its_inline_code_the_nonce(live_tool, lms, user_id):
    linked_course_with_learners(lms)  # a programme, a linked course, grades: the pages have something to show
    browser, landing = lms.launch_as(user_id)
    assert landing.status_code == 200
    pages = crawl(browser, landing, live_tool.base_url, limit=40)
    assert len(pages) > 5  # the landing page and the pages it links to
    for page in pages:
        check_page(page, live_tool.base_url)


def test_every_page_of_no_launch_carries_the_policy(live_tool, lms):
    operator = Console(live_tool)
    operator.sign_in(add_operator(live_tool.app))
    console = crawl(operator.browser, operator.browser.get(live_tool.url("/admin/")), live_tool.base_url)
    assert any("/admin/keys" in page.url for page in console)
    public = [requests.get(live_tool.url(path)) for path in (
        "/demo", "/registration", "/verify", "/verify/NOT-A-CODE", "/admin/login", "/no-such-page",
        "/home?launch=ended")]
    assert [page.status_code for page in public] == [200, 200, 200, 404, 200, 404, 401]
    for page in console + public:
        check_page(page, live_tool.base_url)


def test_the_auto_posting_pages_run_their_script_by_nonce(live_tool, lms):
    """The demo platform's form posts, LTI Platform Storage, and the deep-linking answer to the LMS."""
    browser = requests.Session()
    demo = browser.get(live_tool.url("/demo"))
    demo_login = browser.post(live_tool.url("/demo/launch"), data={"user": "demo-learner-1",
                                                                   "csrf_token": csrf(demo.text)})
    storage = requests.post(live_tool.url("/lti/login"), data=lms.login_params(lti_storage_target="_parent"))
    assert "lti.put_data" in storage.text
    for page in (demo_login, storage):
        assert page.status_code == 200 and "<script nonce=" in page.text
        check_page(page, live_tool.base_url)


def test_the_nonce_is_new_on_every_response(live_tool):
    nonces = {policy_of(requests.get(live_tool.url("/registration")))["script-src"][0] for _ in range(3)}
    assert len(nonces) == 3


def test_documents_that_are_not_pages_carry_no_page_policy(live_tool, lms):
    assert "Content-Security-Policy" not in requests.get(live_tool.url("/lti/jwks")).headers
    login = requests.post(live_tool.url("/lti/login"), data=lms.login_params(), allow_redirects=False)
    assert login.status_code == 302 and "Content-Security-Policy" not in login.headers


# --- who may frame which page ----------------------------------------------------------------------------
def test_a_launched_page_may_be_framed_by_its_own_lms_only(live_tool, lms, fresh_origins):
    add_registration(live_tool.app, OTHER_LMS)
    landing = launch_from(lms, "demo-learner-1", CUSTOMER, **{
        AGS_CLAIM: {"lineitems": "https://canvas.region-a.example/api/lti/courses/7/line_items", "scope": []}})
    ancestors = check_page(landing, live_tool.base_url)["frame-ancestors"]
    assert "'self'" in ancestors and CUSTOMER in ancestors
    assert OTHER_LMS not in ancestors
    # So are the pages it links to, and its error pages (here: a role that does not fit).
    progress = requests.get(live_tool.url("/learner"), params={"launch": launch_id(landing)})
    refused = requests.get(live_tool.url("/instructor/dashboard"), params={"launch": launch_id(landing)})
    assert refused.status_code == 403
    for page in (progress, refused):
        assert policy_of(page)["frame-ancestors"] == ancestors


def test_the_launch_origin_counts_only_when_it_is_a_web_origin(live_tool, lms):
    landing = launch_from(lms, "demo-learner-1", "null", **{
        CLAIM + "tool_platform": {"guid": "g", "url": "javascript:alert(1)"}})
    assert policy_of(landing)["frame-ancestors"] == ["'self'", live_tool.base_url]


def test_pages_of_no_launch_may_be_framed_by_every_active_lms(live_tool, lms, fresh_origins):
    add_registration(live_tool.app, OTHER_LMS, login_url="https://login.region-b.example/auth")
    add_registration(live_tool.app, SWITCHED_OFF_LMS, is_active=False)
    canvas_id = add_registration(live_tool.app, CANVAS_ISSUER, login_url="https://sso.canvaslms.com/api/lti/authorize")
    with live_tool.app.app_context():  # a course of the Canvas customer, as its launches left it
        session = get_session()
        [deployment] = session.get(Registration, canvas_id).deployments
        deployment.is_active = True
        context = Context(deployment_id=deployment.id, id_on_platform="course-7", updated_at=NOW)
        session.add(context)
        session.flush()
        session.add(ContextServiceRecord(context_id=context.id, ags_scopes=[], memberships_url=None, updated_at=NOW,
                                         lineitems_url=CUSTOMER + "/api/lti/courses/7/line_items"))
        session.commit()
    fresh_origins.forget()
    for path in ("/verify", "/no-such-page", "/home?launch=ended", "/registration"):
        ancestors = policy_of(requests.get(live_tool.url(path)))["frame-ancestors"]
        assert ancestors[0] == "'self'"
        assert {OTHER_LMS, "https://login.region-b.example", CANVAS_ISSUER, CUSTOMER} <= set(ancestors), path
        assert SWITCHED_OFF_LMS not in ancestors


def test_the_console_is_framed_by_nobody_unless_an_lms_administrator_launched_it(live_tool, lms):
    operator = Console(live_tool)
    operator.sign_in(add_operator(live_tool.app))
    for response in (operator.get("/admin/"), operator.get("/admin/keys"), requests.get(live_tool.url("/admin/login")),
                     operator.get("/admin/registrations/new")):
        assert policy_of(response)["frame-ancestors"] == ["'none'"], response.url

    landing = launch_from(lms, "demo-admin-1", CUSTOMER)
    console = Console.from_launch(live_tool, requests.Session(), landing)
    page = console.get(f"/admin/registrations/{lms.registration_id}")
    assert page.status_code == 200
    assert CUSTOMER in policy_of(page)["frame-ancestors"]


def test_the_login_answer_may_be_framed_by_the_lms_page_that_posted_it(live_tool, lms):
    storage = requests.post(live_tool.url("/lti/login"), data=lms.login_params(lti_storage_target="_parent"),
                            headers={"Origin": CUSTOMER})
    assert storage.status_code == 200
    assert CUSTOMER in policy_of(storage)["frame-ancestors"]


def test_the_registration_pages_may_be_framed_by_the_lms_registering(live_tool):
    moodle = FakeMoodle().start()
    try:
        browser = requests.Session()
        start = browser.get(moodle.register_url(live_tool.base_url, moodle.registration_token()))
        assert start.status_code == 200
        assert moodle.base_url in check_page(start, live_tool.base_url)["frame-ancestors"]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]*)"', start.text).group(1)
        done = browser.post(live_tool.url("/lti/register"), data={"csrf_token": token})
        assert done.status_code == 200 and "data-registered" in done.text
        assert moodle.base_url in check_page(done, live_tool.base_url)["frame-ancestors"]
    finally:
        moodle.stop()


def test_the_deep_linking_answer_may_post_to_the_lms_only(live_tool, lms):
    fake = FakeLms(live_tool)
    settings = {"deep_link_return_url": CUSTOMER + "/courses/7/deep_linking_response",
                "accept_types": ["ltiResourceLink"], "accept_presentation_document_targets": ["iframe"]}
    browser, page = fake.demo.launch_as("demo-instructor-1", message_type="LtiDeepLinkingRequest", **{
        DL_SETTINGS.replace("/", "__"): settings})
    picker = link_course(fake, browser, follow(browser, fake, page))
    answer = browser.post(picker.url, data={"csrf_token": csrf(picker.text), "item": ["module:m03"]})
    assert answer.status_code == 200
    action, _ = form_fields(answer.text)
    assert action == settings["deep_link_return_url"]
    policy = check_page(answer, live_tool.base_url)
    assert CUSTOMER in policy["form-action"] and "'self'" in policy["form-action"]
    # Other pages post nowhere but to the tool.
    assert CUSTOMER not in policy_of(picker)["form-action"]


# --- the registered origins cost no query per page ---------------------------------------------------------
def test_pages_of_no_launch_read_the_registrations_once_a_minute_not_once_a_page(live_tool, lms):
    engine = live_tool.app.extensions["db_engine"]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    clock = [0.0]
    cache = RegisteredOrigins(engine, ttl_seconds=60, clock=lambda: clock[0])
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = cache.get()
        for _ in range(5):
            assert cache.get() == first
        queries_while_fresh = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert queries_while_fresh == 2  # the registrations and their deployments' endpoints, once
    add_registration(live_tool.app, OTHER_LMS)
    assert OTHER_LMS not in cache.get()
    clock[0] += 61
    assert OTHER_LMS in cache.get()
