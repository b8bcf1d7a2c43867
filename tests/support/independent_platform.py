"""An LTI 1.3 platform built on the independent `lti1p3platform` package, served over real HTTP.

The package builds the OIDC login initiation URL, validates the tool's authorisation request
and signs the id_token; we only supply what it leaves abstract (a request wrapper, a config
holding one Registration, and a form renderer). Its JWKS and its OIDC authorisation endpoint
are served from a small `http.server` on 127.0.0.1, so the tool fetches the keys over HTTP.
"""
from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


def rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


class _DictRequest(Request):
    """lti1p3platform's request over the query (GET) or form (POST) of the tool's auth request."""

    def build_metadata(self, request: dict[str, Any]):
        return {"method": request.get("method", "GET"), "form_data": request.get("form", {}),
                "get_data": request.get("query", {}), "headers": {}, "content_type": None,
                "path": request.get("path", "/"), "json": None}


class _PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class _OidcLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


@dataclass
class User:
    sub: str
    name: str
    email: str
    roles: list[str] = field(default_factory=lambda: [LIS + "membership#Learner"])


class IndependentPlatform:
    """One platform (issuer, client_id, deployment) as lti1p3platform models it."""

    def __init__(self, *, issuer: str, client_id: str, deployment_id: str, tool_base_url: str):
        self.private_pem, self.public_pem = rsa_key_pair()
        self.registration = (
            Registration()
            .set_iss(issuer)
            .set_client_id(client_id)
            .set_deployment_id(deployment_id)
            .set_launch_url(tool_base_url + "/lti/launch")
            .set_oidc_login_url(tool_base_url + "/lti/login")
            .set_tool_key_set_url(tool_base_url + "/lti/jwks")
            .set_platform_private_key(self.private_pem)
            .set_platform_public_key(self.public_pem)
        )
        self.config = _PlatformConf(registration=self.registration)
        self.user = User("indep-user-1", "Ingrid Independent", "ingrid@independent.example")
        self.context = {"context_id": "indep-course-7", "context_title": "Independent course 7",
                        "context_label": "IND-7"}
        self.resource_link_id = "indep-link-1"
        self.auth_requests: list[dict[str, str]] = []
        self.extra_jwks_entries: list[dict] = []  # published next to the package's own key
        self._server: ThreadingHTTPServer | None = None

    # --- the platform side of "click the tool link" -----------------------------------------
    def login_initiation(self, user: User | None = None) -> dict[str, str]:
        """The third-party login initiation parameters, as lti1p3platform builds them."""
        user = user or self.user
        login = _OidcLogin(None, self.config)
        login.set_lti_message_hint(hint=f"resource-link:{self.resource_link_id}")
        url = login.initiate_login(user.sub)
        return dict(parse_qsl(urlparse(url).query))

    def launch_data(self, auth_request: dict[str, str], user: User | None = None) -> dict[str, Any]:
        """Answer the tool's OIDC auth request: {'id_token', 'state', 'launch_url'} signed by the package."""
        user = user or self.user
        launch = _Launch(_DictRequest({"method": "GET", "query": auth_request}), self.config)
        launch.set_user_data(user.sub, list(user.roles), full_name=user.name, email_address=user.email)
        launch.set_resource_link_claim(self.resource_link_id, title="Independent link")
        launch.set_launch_context_claim(self.context["context_id"],
                                        context_types=[LIS + "course#CourseOffering"],
                                        context_title=self.context["context_title"],
                                        context_label=self.context["context_label"])
        launch.set_launch_presentation_claim(document_target="iframe")
        return launch.lti_launch()

    def jwks(self) -> dict:
        document = self.config.get_jwks()
        return {"keys": list(self.extra_jwks_entries) + list(document["keys"])}

    # --- its HTTP server: JWKS and the OIDC authorisation endpoint ---------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the platform first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def key_set_url(self) -> str:
        return self.base_url + "/jwks"

    @property
    def auth_login_url(self) -> str:
        return self.base_url + "/auth"

    @property
    def auth_token_url(self) -> str:
        return self.base_url + "/token"

    def start(self) -> "IndependentPlatform":
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parsed = urlparse(self.path)
                if parsed.path == "/jwks":
                    self._send(200, "application/json", json.dumps(platform.jwks()))
                elif parsed.path == "/auth":
                    query = dict(parse_qsl(parsed.query))
                    platform.auth_requests.append(query)
                    try:
                        data = platform.launch_data(query)
                    except Exception as exc:  # the package refused the tool's auth request
                        self._send(400, "text/plain", f"{type(exc).__name__}: {exc}")
                        return
                    self._send(200, "text/html", autopost_page(data["launch_url"],
                                                              {"id_token": data["id_token"],
                                                               "state": data["state"]}))
                else:
                    self._send(404, "text/plain", "not found")

            def _send(self, status: int, content_type: str, body: str) -> None:
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def autopost_page(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return f'<html><body><form method="post" action="{html.escape(action)}">{inputs}</form></body></html>'
