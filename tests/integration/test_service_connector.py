"""Access tokens from the platform: cached per issuer + client_id + scopes, with a User-Agent."""
from __future__ import annotations


import pytest

from lti_tool.db.session import get_session
from lti_tool.lti.errors import LmsServiceError
from lti_tool.lti.http import USER_AGENT, TimeoutSession
from lti_tool.lti.platforms import PlatformRegistration, service_connector
from lti_tool.lti.service_connector import SharedTokenConnector
from tests.support.lms import DemoLms

SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]


class CountingSession(TimeoutSession):
    def __init__(self):
        super().__init__(timeout=5)
        self.sent: list = []

    def request(self, method, url, **kwargs):
        response = super().request(method, url, **kwargs)
        self.sent.append(response.request)
        return response


def demo_registration(lms: DemoLms, client_id: str = "demo-tool") -> PlatformRegistration:
    return PlatformRegistration(id=lms.registration_id, issuer=lms.issuer, client_id=client_id,
                                auth_login_url=lms.issuer + "/auth", auth_token_url=lms.issuer + "/token",
                                key_set_url=lms.issuer + "/jwks", auth_audience=None, is_active=True)


def test_token_is_fetched_once_then_cached_in_the_shared_store(live_tool):
    lms = DemoLms(live_tool)
    http = CountingSession()
    services = live_tool.app.extensions["lti_services"]
    with live_tool.app.app_context():
        first = service_connector(demo_registration(lms), services.tool_keys, http, services.store)
        token = first.get_access_token(SCOPES)
        # A new connector (another request, another worker) finds the token in the shared store.
        second = service_connector(demo_registration(lms), services.tool_keys, http, services.store)
        assert second.get_access_token(SCOPES) == token
        get_session().commit()
    assert len(http.sent) == 1
    assert http.sent[0].headers["User-Agent"] == USER_AGENT


def test_the_same_issuer_with_another_client_id_gets_its_own_token(live_tool):
    """Canvas serves every customer from one issuer: a token must never cross client_ids."""
    lms = DemoLms(live_tool)
    services = live_tool.app.extensions["lti_services"]
    keys = services.tool_keys
    with live_tool.app.app_context():
        ours = service_connector(demo_registration(lms), keys, CountingSession(), services.store)
        ours.get_access_token(SCOPES)
        theirs = service_connector(demo_registration(lms, client_id="another-customer"), keys, CountingSession(),
                                   services.store)
        # The demo platform knows no such client: the token request must really be made, and fail.
        with pytest.raises(LmsServiceError) as failure:
            theirs.get_access_token(SCOPES)
        assert failure.value.status == 401 and failure.value.is_permanent


def test_scope_keys_differ_by_client_id_and_not_by_scope_order():
    class Store(dict):
        def get(self, key):
            return super().get(key)

    def key(client_id, scopes):
        registration = PlatformRegistration(1, "https://canvas.instructure.com", client_id, "https://a", "https://t",
                                            "https://k", None, True)
        from lti_tool.lti.platforms import to_library_registration

        class Keys:
            def signing_key(self):
                class K:
                    private_pem = "x"
                    public_pem = None
                return K()

        connector = SharedTokenConnector(to_library_registration(registration, Keys()), TimeoutSession(), Store())
        return connector._scope_key(scopes)

    assert key("1000001", ["a", "b"]) == key("1000001", ["b", "a"])
    assert key("1000001", ["a"]) != key("1000002", ["a"])
