"""Drives the built-in demo platform over real HTTP, and forges id_tokens for the attack cases."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lti_tool.db.session import get_session
from lti_tool.demo import seed
from lti_tool.demo.platform import launch_claims
from lti_tool.extensions import demo_keys_dir
from lti_tool.lti.tool_keys import KeyRing

DROP = object()  # a claim override that removes the claim


@dataclass
class Login:
    state: str
    nonce: str
    redirect_uri: str
    client_id: str
    auth_url: str


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the first form on an auto-posting page."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
    fields = {html.unescape(k): html.unescape(v)
              for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    return action, fields


class DemoLms:
    def __init__(self, live_tool):
        self.tool = live_tool
        self.app = live_tool.app
        self.settings = self.app.config["LTI_SETTINGS"]
        self.issuer = seed.issuer(self.settings)
        self.keys = KeyRing(demo_keys_dir(self.settings))
        self.keys.ensure_key(datetime.now(timezone.utc))
        with self.app.app_context():
            self.registration_id = seed.ensure_demo_registration(get_session(), self.settings,
                                                                 datetime.now(timezone.utc))
            get_session().commit()

    def browser(self) -> requests.Session:
        return requests.Session()

    def login_params(self, user_id: str = "demo-learner-1", **overrides) -> dict[str, str]:
        params = {"iss": self.issuer, "login_hint": user_id, "target_link_uri": self.tool.url("/lti/launch"),
                  "lti_message_hint": "hint", "client_id": seed.CLIENT_ID,
                  "lti_deployment_id": seed.DEPLOYMENT_ID}
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def login(self, browser: requests.Session, user_id: str = "demo-learner-1", method: str = "POST",
              **overrides) -> Login:
        params = self.login_params(user_id, **overrides)
        if method == "POST":
            response = browser.post(self.tool.url("/lti/login"), data=params, allow_redirects=False)
        else:
            response = browser.get(self.tool.url("/lti/login"), params=params, allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
        location = response.headers["Location"]
        query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        return Login(query["state"], query["nonce"], query["redirect_uri"], query["client_id"], location)

    def claims(self, login_nonce: str, user_id: str = "demo-learner-1", message_type: str | None = None,
               **overrides) -> dict:
        claims = launch_claims(self.settings, seed.USERS_BY_ID[user_id], login_nonce, message_type)
        for name, value in overrides.items():
            name = name.replace("__", "/") if name.startswith("http") else name
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict, *, headers: dict | None = None, private_pem: str | None | object = None,
             algorithm: str = "RS256", kid: str | None | object = None) -> str:
        key = self.keys.signing_key()
        header = {"kid": key.kid if kid is None else kid}
        if kid is DROP:
            header = {}
        header.update(headers or {})
        material = key.private_pem if private_pem is None else (None if private_pem is DROP else private_pem)
        return jwt.encode(claims, material, algorithm=algorithm, headers=header)

    def post_launch(self, browser: requests.Session, id_token: str | None, state: str | None) -> requests.Response:
        data = {k: v for k, v in (("id_token", id_token), ("state", state)) if v is not None}
        return browser.post(self.tool.url("/lti/launch"), data=data, allow_redirects=False)

    def launch_as(self, user_id: str = "demo-learner-1", browser: requests.Session | None = None,
                  message_type: str | None = None, **claim_overrides) -> tuple[requests.Session, requests.Response]:
        """A complete launch: login, a signed id_token for its nonce, the form post; follows to the page."""
        browser = browser or self.browser()
        login = self.login(browser, user_id)
        token = self.sign(self.claims(login.nonce, user_id, message_type, **claim_overrides))
        response = self.post_launch(browser, token, login.state)
        if response.status_code == 303:
            response = browser.get(self.tool.url(response.headers["Location"]), allow_redirects=False)
        return browser, response


def other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def launch_id(response: requests.Response) -> str:
    """The launch id a landing page (or any page it links to) carries in its URL."""
    return parse_qs(urlparse(response.url).query)["launch"][0]


def launch_log(app) -> list:
    """Every launch-log entry, oldest first, detached from the session so tests can read them."""
    from sqlalchemy import select

    from lti_tool.db.tenancy import LaunchLog

    with app.app_context():
        session = get_session()
        entries = list(session.scalars(select(LaunchLog).order_by(LaunchLog.id)))
        session.expunge_all()
        return entries
