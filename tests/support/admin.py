"""Drives the admin console over real HTTP: operators' accounts, signing in, reading and posting its forms."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import requests

from lti_tool.db.session import get_session
from lti_tool.services.admin import cli_actor
from lti_tool.services.operators import create_operator

PASSWORD = "correct horse battery staple"


def add_operator(app, email: str = "operator@example.se", password: str = PASSWORD) -> str:
    with app.app_context():
        create_operator(get_session(), email, password, cli_actor("test"), datetime.now(timezone.utc))
        get_session().commit()
    return email


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


class _FormReader(HTMLParser):
    """The fields of the form whose action contains `action`: what a browser would submit."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._selected: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action in (attributes.get("action") or ""):
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind in ("submit", "file"):
                return
            if kind == "checkbox" and "checked" not in attributes:
                return
            self.fields.append((attributes["name"], attributes.get("value", "y" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._selected, self._first_option = attributes.get("name"), None, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = attributes.get("value", "")
            if "selected" in attributes:
                self._selected = attributes.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._selected if self._selected is not None else self._first_option))
            self._select = None


def form_values(page: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.fields, f"no form posting to {action}"
    return dict(reader.fields)


class Console:
    """A browser on the console: an operator's session, or an LMS administrator's launch (`launch_id`)."""

    def __init__(self, live_tool, browser: requests.Session | None = None, launch_id: str | None = None):
        self.tool = live_tool
        self.browser = browser or requests.Session()
        self.launch_id = launch_id

    @classmethod
    def from_launch(cls, live_tool, browser: requests.Session, landing: requests.Response) -> "Console":
        launch_id = parse_qs(urlparse(landing.url).query)["launch"][0]
        return cls(live_tool, browser, launch_id)

    def url(self, path: str) -> str:
        return self.tool.url(path)

    def _params(self, params: dict | None) -> dict:
        params = {"lang": "en", **(params or {})}
        if self.launch_id:
            params.setdefault("launch", self.launch_id)
        return params

    def get(self, path: str, **params) -> requests.Response:
        return self.browser.get(self.url(path), params=self._params(params), allow_redirects=False)

    def token(self) -> str:
        """A CSRF token of this browser's session (any console page carries one)."""
        page = self.get("/admin/login")
        if page.status_code != 200:  # an operator already signed in is sent on; any form will do
            page = self.get(page.headers["Location"])
        return csrf_token(page.text)

    def post(self, path: str, data: dict | None = None, *, with_token: bool = True, files=None,
             params: dict | None = None) -> requests.Response:
        data = dict(data or {})
        if with_token and "csrf_token" not in data:
            data["csrf_token"] = self.token()
        return self.browser.post(self.url(path), params=self._params(params), data=data, files=files,
                                 allow_redirects=False)

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        page = self.get("/admin/login")
        return self.browser.post(self.url("/admin/login"), params={"lang": "en"}, data={
            "csrf_token": csrf_token(page.text), "email": email, "password": password}, allow_redirects=False)

    def submit(self, path: str, action_part: str, changes: dict[str, str | None] | None = None,
               **extra) -> requests.Response:
        """Open the page at `path`, fill its form (posting to a URL containing `action_part`) and submit it.

        A change to None leaves the field out, as an unchecked box or a removed row would be.
        """
        page = self.get(path)
        assert page.status_code == 200, page.text[:300]
        values = form_values(page.text, action_part)
        for name, value in (changes or {}).items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        values.update(extra)
        return self.post(path, values)
