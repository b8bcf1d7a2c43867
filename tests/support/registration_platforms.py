"""Fake LMSes with the platform side of LTI Dynamic Registration, served over real HTTP.

Two shapes, as the real ones behave:

- `FakeMoodle`: a public OpenID configuration; the registration token is a JWT the platform
  signed with its own key (scope `reg`, an hour's life), accepted once; the answer carries the
  client_id and, inside the tool configuration, the deployment_id; the tool is added *pending*,
  and the platform refuses to launch it until `activate()` (what Moodle's administrator does).
- `FakeCanvas`: the OpenID configuration needs the registration token as Bearer; the answer has
  a client_id but no deployment_id: Canvas names the deployment only in the first launch. Canvas
  also refuses placements it does not know and an `openid` scope (422).

Both serve their JWKS and an OIDC authorisation endpoint that signs id_tokens with the
platform's key, so a registered tool can really be launched: `launch_as()` for a requests
session, `/launch?client_id=…&user=…` for a browser. `/admin/register?tool=…` is the LMS's
administration page that opens the tool's registration URL in an iframe (as Canvas does) and
records the `org.imsglobal.lti.close` message it receives.
"""
from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from lti_tool.lti.tool_description import SCOPES
from tests.support.independent_platform import rsa_key_pair
from tests.support.lms import form_fields

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class Person:
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]


LEARNER = Person("lms-learner-17", "Lisa Lindqvist", "Lisa", "Lindqvist", "lisa@kommun.example",
                 (LIS + "membership#Learner",))
ADMINISTRATOR = Person("lms-admin-1", "Adam Ahl", "Adam", "Ahl", "adam@kommun.example",
                       (LIS + "system/person#Administrator", LIS + "membership#Instructor"))
PEOPLE = {person.sub: person for person in (LEARNER, ADMINISTRATOR)}


@dataclass
class ToolInLms:
    """The tool as the LMS registered it."""

    client_id: str
    deployment_id: str
    registration: dict
    is_pending: bool


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


class FakeLms:
    family = ""
    configuration_path = "/.well-known/openid-configuration"
    registration_path = "/register"
    scopes_supported: tuple[str, ...] = SCOPES

    def __init__(self) -> None:
        self.private_pem, self.public_pem = rsa_key_pair()
        self.kid = uuid.uuid4().hex
        self.tools: dict[str, ToolInLms] = {}
        self.received: list[Received] = []
        self.used_tokens: set[str] = set()
        self.withheld_scopes: set[str] = set()  # what the "administrator" unticks before the tool is added
        self.configuration_changes: dict[str, Any] = {}  # a value None removes the member
        self.configuration_body: bytes | None = None  # served instead of the configuration when set
        self.registration_failure: tuple[int, dict] | None = None
        self.published_keys: list[dict] | None = None  # served at /jwks instead of the platform's own key
        self.closed_messages: list[Any] = []
        self._server: ThreadingHTTPServer | None = None

    # --- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the platform first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def configuration_url(self) -> str:
        return self.base_url + self.configuration_path

    def register_url(self, tool_base_url: str, token: str | None) -> str:
        """The URL the LMS opens: the tool's registration URL with the configuration and the token."""
        params = {"openid_configuration": self.configuration_url}
        if token is not None:
            params["registration_token"] = token
        return tool_base_url + "/lti/register?" + urlencode(params)

    # --- the platform's documents ----------------------------------------------------------
    def jwks(self) -> dict:
        public = RSAAlgorithm.to_jwk(serialization.load_pem_public_key(self.public_pem.encode()), as_dict=True)
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def messages_supported(self) -> list[dict]:
        raise NotImplementedError

    def platform_configuration(self) -> dict:
        return {"product_family_code": self.family, "version": "test", "messages_supported": self.messages_supported()}

    def configuration(self) -> dict:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": self.base_url + "/auth",
            "token_endpoint": self.base_url + "/token",
            "jwks_uri": self.base_url + "/jwks",
            "registration_endpoint": self.base_url + self.registration_path,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", *self.scopes_supported],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email", "locale"],
            "subject_types_supported": ["public"],
            PLATFORM_CONFIGURATION: self.platform_configuration(),
        }
        for name, value in self.configuration_changes.items():
            if value is None:
                document.pop(name, None)
            else:
                document[name] = value
        return document

    # --- the registration token ------------------------------------------------------------
    def registration_token(self, expires_in: int = 3600) -> str:
        raise NotImplementedError

    def foreign_token(self) -> str:
        """A token that looks right but another platform signed it."""
        other_private, _ = rsa_key_pair()
        now = int(time.time())
        return jwt.encode({"sub": uuid.uuid4().hex, "scope": "reg", "uuid": uuid.uuid4().hex, "iat": now,
                           "exp": now + 3600}, other_private, algorithm="RS256", headers={"kid": "someone-else"})

    def token_id(self, token: str) -> str | None:
        """The token's identity if this platform issued it and it is still valid, else None."""
        raise NotImplementedError

    # --- registering the tool --------------------------------------------------------------
    def check_registration(self, body: dict) -> tuple[int, dict] | None:
        """The platform's objections to a registration request, as (status, answer), or None."""
        required = ("application_type", "response_types", "grant_types", "initiate_login_uri", "redirect_uris",
                    "client_name", "jwks_uri", "token_endpoint_auth_method", "scope", TOOL_CONFIGURATION)
        missing = [name for name in required if name not in body]
        if missing:
            return 400, {"error": "invalid_client_metadata", "error_description": f"missing {missing}"}
        if body["token_endpoint_auth_method"] != "private_key_jwt" or "id_token" not in body["response_types"]:
            return 400, {"error": "invalid_client_metadata", "error_description": "unsupported auth or response"}
        if not {"implicit", "client_credentials"} <= set(body["grant_types"]):
            return 400, {"error": "invalid_client_metadata", "error_description": "grant_types"}
        return None

    def new_tool(self, body: dict) -> ToolInLms:
        raise NotImplementedError

    def answer(self, body: dict, tool: ToolInLms) -> dict:
        granted = [s for s in body["scope"].split() if s not in self.withheld_scopes]
        return {**body, "client_id": tool.client_id, "scope": " ".join(granted)}

    def activate(self, client_id: str | None = None) -> None:
        """The LMS administrator switches the tool on (Moodle adds it pending)."""
        for tool in self.tools.values():
            if client_id in (None, tool.client_id):
                tool.is_pending = False

    @property
    def only_tool(self) -> ToolInLms:
        assert len(self.tools) == 1, f"{len(self.tools)} tools registered"
        return next(iter(self.tools.values()))

    def registration_requests(self) -> list[Received]:
        return [r for r in self.received if r.path == self.registration_path]

    # --- launching the registered tool -----------------------------------------------------
    def login_initiation(self, tool: ToolInLms, person: Person) -> tuple[str, dict[str, str]]:
        registration = tool.registration
        configuration = registration[TOOL_CONFIGURATION]
        return registration["initiate_login_uri"], {
            "iss": self.issuer, "login_hint": person.sub, "target_link_uri": configuration["target_link_uri"],
            "lti_message_hint": f"{tool.client_id}|{tool.deployment_id}|{person.sub}", "client_id": tool.client_id,
            "lti_deployment_id": tool.deployment_id,
        }

    def id_token(self, tool: ToolInLms, person: Person, nonce: str) -> str:
        now = int(time.time())
        configuration = tool.registration[TOOL_CONFIGURATION]
        custom = {name: ("course-2025-copy-of-course-2024" if value == "$Context.id.history" else value)
                  for name, value in configuration.get("custom_parameters", {}).items()}
        claims = {
            "iss": self.issuer, "aud": tool.client_id, "azp": tool.client_id, "sub": person.sub, "iat": now,
            "exp": now + 60, "nonce": nonce, "name": person.name, "given_name": person.given_name,
            "family_name": person.family_name, "email": person.email, "locale": "sv-SE",
            CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": tool.deployment_id,
            CLAIM + "target_link_uri": configuration["target_link_uri"],
            CLAIM + "roles": list(person.roles),
            CLAIM + "context": {"id": "course-2025", "label": "NLU-25", "title": "Näringslivsutvecklare 2025",
                                "type": [LIS + "course#CourseOffering"]},
            CLAIM + "resource_link": {"id": "link-1", "title": "Certifiering"},
            CLAIM + "custom": custom,
        }
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": self.kid})

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The OIDC authorisation endpoint: an auto-posting form with the id_token, or an error."""
        client_id, deployment_id, sub = (query.get("lti_message_hint", "").split("|") + ["", "", ""])[:3]
        tool = self.tools.get(query.get("client_id", ""))
        if tool is None or tool.client_id != client_id or tool.is_pending:
            return 400, "unknown or inactive tool"
        tool = replace(tool, deployment_id=deployment_id)  # the installation the link was clicked in
        if query.get("redirect_uri") not in tool.registration["redirect_uris"]:
            return 400, "redirect_uri not registered"
        if query.get("response_type") != "id_token" or query.get("scope") != "openid":
            return 400, "bad authorisation request"
        person = PEOPLE.get(sub)
        if person is None or query.get("login_hint") != sub:
            return 400, "unknown person"
        id_token = self.id_token(tool, person, query.get("nonce", ""))
        return 200, autopost_page(query["redirect_uri"], {"id_token": id_token, "state": query.get("state", "")})

    def launch_as(self, person: Person, tool: ToolInLms | None = None,
                  browser: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
        """A complete launch over HTTP: login initiation, the tool's redirect here, the form post back."""
        tool = tool or self.only_tool
        browser = browser or requests.Session()
        login_url, params = self.login_initiation(tool, person)
        response = browser.post(login_url, data=params, allow_redirects=False)
        if response.status_code != 302:
            return browser, response
        response = browser.get(response.headers["Location"], allow_redirects=False)
        if response.status_code != 200:
            return browser, response
        action, fields = form_fields(response.text)
        response = browser.post(action, data=fields, allow_redirects=False)
        if response.status_code == 303:
            response = browser.get(urljoin_base(action, response.headers["Location"]), allow_redirects=False)
        return browser, response

    # --- the LMS's own pages (for the browser) ---------------------------------------------
    def admin_registration_page(self, tool_base_url: str, token: str | None) -> str:
        src = html.escape(self.register_url(tool_base_url, token))
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>{self.family}: add a tool</title></head>
<body><h1>Add an LTI Advantage tool</h1><p id="status">registering</p>
<iframe id="tool" src="{src}" style="width:100%;height:900px"></iframe>
<script>
window.addEventListener("message", function (event) {{
  fetch("/admin/closed", {{method: "POST", body: JSON.stringify(event.data)}});
  if (event.data && event.data.subject === "org.imsglobal.lti.close") {{
    document.getElementById("status").textContent = "closed";
    document.getElementById("tool").remove();
  }}
}});
</script></body></html>"""

    def browser_launch_page(self, client_id: str, sub: str) -> tuple[int, str]:
        tool = self.tools.get(client_id)
        person = PEOPLE.get(sub)
        if tool is None or person is None:
            return 404, "no such tool or person"
        if tool.is_pending:
            return 409, "the tool is pending: an administrator must activate it first"
        login_url, params = self.login_initiation(tool, person)
        return 200, autopost_page(login_url, params)

    # --- HTTP ------------------------------------------------------------------------------
    def start(self) -> "FakeLms":
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                platform._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                platform._handle(self, "POST")

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stop() waits for it, once per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlsplit(handler.path)
        query = dict(parse_qsl(parsed.query))
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = raw
        if raw and "json" in (handler.headers.get("Content-Type") or ""):
            body = json.loads(raw)
        self.received.append(Received(method, parsed.path, dict(handler.headers.items()), body))
        route = self._routes().get((method, parsed.path))
        if route is None:
            _send(handler, 404, "text/plain", "not found")
            return
        status, content_type, text = route(handler, query, body)
        _send(handler, status, content_type, text)

    def _routes(self) -> dict[tuple[str, str], Callable]:
        return {
            ("GET", self.configuration_path): self._serve_configuration,
            ("POST", self.registration_path): self._serve_registration,
            ("GET", "/jwks"): lambda *_: (200, "application/json", json.dumps(
                self.jwks() if self.published_keys is None else {"keys": self.published_keys})),
            ("GET", "/auth"): lambda _h, query, _b: _html(*self.authorize(query)),
            ("GET", "/launch"): lambda _h, query, _b: _html(*self.browser_launch_page(query.get("client_id", ""),
                                                                                    query.get("user", ""))),
            ("GET", "/admin/register"): lambda _h, query, _b: _html(200, self.admin_registration_page(
                query["tool"], self.registration_token())),
            ("POST", "/admin/closed"): self._record_closed,
        }

    def _record_closed(self, _handler, _query, body) -> tuple[int, str, str]:
        self.closed_messages.append(json.loads(body) if body else None)
        return 204, "text/plain", ""

    def _serve_configuration(self, handler, _query, _body) -> tuple[int, str, str]:
        refused = self.refuse_configuration(handler.headers.get("Authorization", ""))
        if refused:
            return refused
        if self.configuration_body is not None:
            return 200, "text/html", self.configuration_body.decode()
        return 200, "application/json", json.dumps(self.configuration())

    def refuse_configuration(self, authorization: str) -> tuple[int, str, str] | None:
        return None

    def _serve_registration(self, handler, _query, body) -> tuple[int, str, str]:
        authorization = handler.headers.get("Authorization", "")
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
        token_id = self.token_id(token)
        if token_id is None or token_id in self.used_tokens:
            return 401, "application/json", json.dumps({"error": "invalid_token"})
        if not isinstance(body, dict):
            return 400, "application/json", json.dumps({"error": "invalid_client_metadata"})
        if self.registration_failure is not None:
            status, answer = self.registration_failure
            return status, "application/json", json.dumps(answer)
        objection = self.check_registration(body)
        if objection:
            return objection[0], "application/json", json.dumps(objection[1])
        self.used_tokens.add(token_id)
        tool = self.new_tool(body)
        self.tools[tool.client_id] = tool
        return 200, "application/json", json.dumps(self.answer(body, tool))


class FakeMoodle(FakeLms):
    family = "moodle"
    configuration_path = "/mod/lti/openid-configuration.php"
    registration_path = "/mod/lti/openid-registration.php"

    def messages_supported(self) -> list[dict]:
        return [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]}]

    def registration_token(self, expires_in: int = 3600) -> str:
        now = int(time.time())
        return jwt.encode({"sub": secrets.token_hex(8), "scope": "reg", "iat": now, "exp": now + expires_in},
                          self.private_pem, algorithm="RS256", headers={"kid": self.kid})

    def token_id(self, token: str) -> str | None:
        try:
            claims = jwt.decode(token, self.public_pem, algorithms=["RS256"])
        except jwt.PyJWTError:
            return None
        return claims["sub"] if claims.get("scope") == "reg" else None

    def check_registration(self, body: dict) -> tuple[int, dict] | None:
        objection = super().check_registration(body)
        if objection:
            return objection
        configuration = body[TOOL_CONFIGURATION]
        # Moodle: the domain must be the target_link_uri's host[:port].
        if configuration.get("domain") != urlsplit(configuration.get("target_link_uri", "")).netloc:
            return 400, {"error": "invalid_client_metadata", "error_description": "domain_mismatch"}
        return None

    def new_tool(self, body: dict) -> ToolInLms:
        number = len(self.tools) + 1
        return ToolInLms(client_id=secrets.token_urlsafe(11), deployment_id=str(number), registration=body,
                         is_pending=True)

    def answer(self, body: dict, tool: ToolInLms) -> dict:
        answer = super().answer(body, tool)
        answer[TOOL_CONFIGURATION] = {**body[TOOL_CONFIGURATION], "deployment_id": tool.deployment_id}
        return answer


CANVAS_PLACEMENTS = {"LtiResourceLinkRequest": ["account_navigation", "course_navigation", "user_navigation"],
                     "LtiDeepLinkingRequest": ["assignment_selection", "link_selection", "editor_button"]}


class FakeCanvas(FakeLms):
    family = "canvas"
    configuration_path = "/api/lti/security/openid-configuration"
    registration_path = "/api/lti/registrations"

    def __init__(self) -> None:
        super().__init__()
        self.secret = secrets.token_bytes(32)  # Canvas signs its registration tokens with a secret of its own

    def messages_supported(self) -> list[dict]:
        return [{"type": kind, "placements": placements} for kind, placements in CANVAS_PLACEMENTS.items()]

    def platform_configuration(self) -> dict:
        return {**super().platform_configuration(),
                "https://canvas.instructure.com/lti/account_name": "Region Västerbotten"}

    def registration_token(self, expires_in: int = 3600) -> str:
        now = int(time.time())
        return jwt.encode({"uuid": str(uuid.uuid4()), "initiated_at": now, "user_id": 1, "exp": now + expires_in},
                          self.secret, algorithm="HS256")

    def token_id(self, token: str) -> str | None:
        try:
            return jwt.decode(token, self.secret, algorithms=["HS256"])["uuid"]
        except (jwt.PyJWTError, KeyError):
            return None

    def refuse_configuration(self, authorization: str) -> tuple[int, str, str] | None:
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
        if self.token_id(token) is None:
            return 401, "application/json", json.dumps({"errors": [{"message": "Invalid access token"}]})
        return None

    def check_registration(self, body: dict) -> tuple[int, dict] | None:
        objection = super().check_registration(body)
        if objection:
            return objection
        if "openid" in body["scope"].split():
            return 422, {"errors": [{"field": "scopes", "message": "cannot contain openid"}]}
        for message in body[TOOL_CONFIGURATION].get("messages", []):
            unknown = set(message.get("placements", [])) - set(CANVAS_PLACEMENTS.get(message["type"], []))
            if unknown:
                return 422, {"errors": [{"field": "placements", "message": f"unknown {sorted(unknown)}"}]}
        return None

    def new_tool(self, body: dict) -> ToolInLms:
        # Canvas installs the new developer key in the account; the deployment shows at the first launch.
        return ToolInLms(client_id=str(10000000000000 + len(self.tools) + 1),
                         deployment_id=f"{len(self.tools) + 1}:{secrets.token_hex(20)}", registration=body,
                         is_pending=False)


def autopost_page(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return (f'<html><body><form method="post" action="{html.escape(action)}">{inputs}</form>'
            f'<script>document.forms[0].submit();</script></body></html>')


def urljoin_base(absolute: str, location: str) -> str:
    if location.startswith("http"):
        return location
    parts = urlsplit(absolute)
    return f"{parts.scheme}://{parts.netloc}{location}"


def _html(status: int, text: str) -> tuple[int, str, str]:
    return status, "text/html; charset=utf-8", text


def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, text: str) -> None:
    payload = text.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
