"""Which origins may frame the tool: only what a launch or a registration shows, written as a CSP source."""
from __future__ import annotations

import pytest

from lti_tool.lti.launch import AGS_CLAIM, CLAIM, DL_CLAIM, NRPS_CLAIM
from lti_tool.lti.origins import launch_origins, origin_of
from lti_tool.web.csp import policy


@pytest.mark.parametrize("url,origin", [
    ("https://moodle.region.se/mod/lti/auth.php", "https://moodle.region.se"),
    ("https://Canvas.Region.SE:443/api/lti", "https://canvas.region.se"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("http://lms.example:80/x", "http://lms.example"),
    ("https://lms.example:8443", "https://lms.example:8443"),
    # What cannot be a frame ancestor, or could break out of the directive, is no origin.
    ("null", None),
    ("", None),
    (None, None),
    (42, None),
    ("javascript:alert(1)", None),
    ("data:text/html,x", None),
    ("ftp://lms.example/", None),
    ("https://[2001:db8::1]/", None),
    ("https://lms.example;script-src *", None),
    ("https://lms.example, https://evil.example", None),
    ("https://user@lms.example:99999/", None),
    ("https://bad_host.example/", None),
    ("/relative/path", None),
])
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_a_canvas_launch_shows_the_customers_domain_beside_instructures():
    claims = {
        CLAIM + "tool_platform": {"guid": "x", "product_family_code": "canvas"},
        DL_CLAIM + "deep_linking_settings": {"deep_link_return_url": "https://region.instructure.com/courses/1/dl"},
        AGS_CLAIM: {"lineitems": "https://region.instructure.com/api/lti/courses/1/line_items"},
        NRPS_CLAIM: {"context_memberships_url": "https://region.instructure.com/api/lti/courses/1/names_and_roles"},
    }
    assert launch_origins("https://canvas.instructure.com", "https://sso.canvaslms.com/api/lti/authorize_redirect",
                          claims, "https://canvas.region.se") == (
        "https://canvas.instructure.com", "https://sso.canvaslms.com", "https://canvas.region.se",
        "https://region.instructure.com")


def test_claims_of_the_wrong_shape_add_nothing():
    claims = {CLAIM + "tool_platform": "https://evil.example", AGS_CLAIM: ["https://evil.example"],
              NRPS_CLAIM: {"context_memberships_url": {"url": "https://evil.example"}}}
    assert launch_origins("https://moodle.region.se", "https://moodle.region.se/auth", claims, None) == (
        "https://moodle.region.se",)


def test_the_policy_allows_scripts_by_nonce_only_and_nothing_from_elsewhere():
    header = policy("abc", ["'self'", "https://moodle.region.se"], ["https://moodle.region.se"])
    directives = dict(part.split(" ", 1) for part in header.split("; "))
    assert directives == {
        "default-src": "'none'", "script-src": "'nonce-abc'", "style-src": "'self' 'nonce-abc'",
        "img-src": "'self' data:", "connect-src": "'self'", "form-action": "'self' https://moodle.region.se",
        "frame-ancestors": "'self' https://moodle.region.se", "base-uri": "'none'", "object-src": "'none'"}
