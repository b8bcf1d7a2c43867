"""Chromium enforces the Content-Security-Policy: the tool's pages keep to it, other sites cannot frame them."""
from __future__ import annotations

import html
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from lti_tool.db.session import get_session
from lti_tool.services.platforms import NewPlatform, add_platform
from tests.support.browser import launch_from_demo, playwright_api
from tests.support.fake_lms import FakeLms

pytestmark = pytest.mark.browser
expect = playwright_api.expect
# Reports every violation to the test, across navigations (init scripts run before the page's own).
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation",
    e => window.reportViolation(e.violatedDirective + " " + (e.blockedURI || "inline")));"""


class Violations(list):
    """CSP violations seen by a page: its `securitypolicyviolation` events and Chromium's console reports."""

    def __init__(self, page):
        super().__init__()
        page.expose_binding("reportViolation", lambda source, text: self.append(text))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda message: self.append(message.text)
                if "Content Security Policy" in message.text else None)


def test_the_browser_refuses_a_script_without_the_nonce(page, live_tool):
    """The check below is real: Chromium enforces the policy and the test hears of each violation."""
    violations = Violations(page)
    launch_from_demo(page, live_tool, "demo-learner-1")
    page.evaluate("""() => { const s = document.createElement("script");
                             s.textContent = "document.body.dataset.injected = 'yes'"; document.head.append(s); }""")
    expect(page.locator("body")).not_to_have_attribute("data-injected", "yes")
    page.wait_for_timeout(200)
    assert any("script-src" in text for text in violations), violations


@pytest.mark.parametrize("user_id,link", [
    ("demo-learner-1", "a[data-progress-link]"),
    ("demo-instructor-1", "a[data-certificates-link]"),
    ("demo-admin-1", "a[data-console-link]"),
])
def test_the_demo_launch_pages_break_no_rule_of_the_policy(page, live_tool, user_id, link):
    violations = Violations(page)
    launch_from_demo(page, live_tool, user_id)
    page.click(link)
    page.wait_for_load_state()
    assert "launch=" in page.url
    page.wait_for_timeout(200)  # a violation report arrives asynchronously
    assert violations == []


def test_deep_linking_posts_back_to_the_lms_within_the_policy(page, live_tool):
    """Demo platform → auto-posted login and launch → link the course → pick → auto-post back to the platform."""
    FakeLms(live_tool)  # the demo platform with the example programme imported
    violations = Violations(page)
    page.goto(live_tool.url("/demo"))
    page.click("button[data-deep-link]")
    page.wait_for_url("**/course/link?*")
    page.check("input[value='full_programme']")
    page.click("form[data-link-form] input[type=submit]")
    page.wait_for_url("**/course/deep-link?*")
    page.check("input[value='module:m03']")
    page.click("form[data-deep-link-form] input[type=submit]")
    page.wait_for_url("**/demo/deep-link-return*")
    expect(page.locator("[data-created]")).to_have_attribute("data-created", "1")
    page.wait_for_timeout(200)
    assert violations == []


class FramingSite:
    """A web page on 127.0.0.1 that shows `?src=` in an iframe: an LMS's course page, or any other site."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                src = html.escape(parse_qs(urlsplit(self.path).query)["src"][0])
                body = f'<!doctype html><title>LMS</title><iframe id="tool" src="{src}"></iframe>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def frame(self, page, host: str, src: str):
        page.goto(f"http://{host}:{self.port}/course?" + urlencode({"src": src}))
        return page.frame_locator("#tool")


@pytest.fixture
def site():
    framing = FramingSite()
    yield framing
    framing.server.shutdown()
    framing.server.server_close()


def test_a_registered_lms_frames_the_tool_and_other_sites_cannot(page, live_tool, site):
    registered = f"http://127.0.0.1:{site.port}"  # the same page at http://localhost:{port} is another site
    with live_tool.app.app_context():
        add_platform(get_session(), NewPlatform(
            issuer=registered, client_id="c", auth_login_url=registered + "/auth",
            auth_token_url=registered + "/token", key_set_url=registered + "/jwks"), datetime.now(timezone.utc))
        get_session().commit()
    live_tool.app.extensions["csp_registered_origins"].forget()
    launch_from_demo(page, live_tool, "demo-learner-1")
    launched = page.url  # a page of the demo platform's launch, not of the registered LMS's

    violations = Violations(page)
    expect(site.frame(page, "127.0.0.1", live_tool.url("/registration")).locator("h1")).to_be_visible()
    assert page.frames[1].url == live_tool.url("/registration") and violations == []

    for host, src in (("127.0.0.1", launched), ("localhost", live_tool.url("/registration")), ("localhost", launched)):
        violations.clear()
        site.frame(page, host, src)
        page.wait_for_timeout(300)
        assert any("frame-ancestors" in text for text in violations), (host, src, violations)
        assert page.frames[1].url.startswith("chrome-error://")  # Chromium's "blocked" page instead of the tool
