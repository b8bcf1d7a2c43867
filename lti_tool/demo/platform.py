"""The demo platform's endpoints: pick a person, OIDC authorisation, JWKS and access tokens."""
from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import datetime, timezone

import jwt
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from ..db import get_session
from ..extensions import demo_keys_dir, services
from ..lti.tool_keys import KeyRing
from . import seed
from .services import bp as services_bp

bp = Blueprint("demo", __name__, url_prefix="/demo", template_folder="../web/templates")
bp.register_blueprint(services_bp)  # AGS and NRPS with Moodle's and Canvas's quirks (demo/services.py)
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ID_TOKEN_SECONDS = 60  # as Moodle


def platform_keys() -> KeyRing:
    ring = current_app.extensions.get("demo_keys")
    if ring is None:
        ring = current_app.extensions["demo_keys"] = KeyRing(demo_keys_dir(services().settings))
    return ring


def _hints() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="demo-lti-message-hint")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.get("")
def index():
    settings = services().settings
    try:
        seed.ensure_demo_registration(get_session(), settings, _now())
        get_session().commit()
    except IntegrityError:  # another worker registered it at the same moment
        get_session().rollback()
    platform_keys().ensure_key(_now())
    return render_template("demo/index.html", users=seed.USERS, course=seed.COURSE)


@bp.post("/launch")
def start_launch():
    """The platform side of 'click the tool link': a third-party login initiation to the tool."""
    user = seed.USERS_BY_ID.get(request.form.get("user", ""))
    if user is None:
        abort(400, description="unknown demo user")
    message_type = request.form.get("message_type", "LtiResourceLinkRequest")
    settings = services().settings
    tool = settings.BASE_URL.rstrip("/")
    params = {
        "iss": seed.issuer(settings),
        "login_hint": user.id,
        "target_link_uri": tool + "/lti/launch",
        "lti_message_hint": _hints().dumps({"user": user.id, "message_type": message_type}),
        "client_id": seed.CLIENT_ID,
        "lti_deployment_id": seed.DEPLOYMENT_ID,
    }
    return render_template("demo/autopost.html", action=tool + "/lti/login", fields=params)


@bp.route("/auth", methods=["GET", "POST"])
def authorize():
    """OIDC authorisation endpoint: answers the tool's auth request with a signed id_token."""
    source = request.values
    settings = services().settings
    tool = settings.BASE_URL.rstrip("/")
    expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
                "client_id": seed.CLIENT_ID, "redirect_uri": tool + "/lti/launch"}
    for name, value in expected.items():
        if source.get(name) != value:
            abort(400, description=f"invalid authorisation request: {name}")
    try:
        hint = _hints().loads(source.get("lti_message_hint", ""), max_age=600)
    except BadSignature:
        abort(400, description="invalid lti_message_hint")
    user = seed.USERS_BY_ID.get(hint["user"])
    if user is None or source.get("login_hint") != user.id:
        abort(400, description="login_hint does not match")
    claims = launch_claims(settings, user, source.get("nonce", ""), hint.get("message_type"))
    return render_template("demo/autopost.html", action=source["redirect_uri"],
                           fields={"id_token": sign(claims), "state": source.get("state", "")})


def launch_claims(settings, user: seed.DemoUser, nonce: str, message_type: str | None) -> dict:
    now = int(time.time())
    tool = settings.BASE_URL.rstrip("/")
    base = seed.issuer(settings)
    claims = {
        "iss": base, "aud": seed.CLIENT_ID, "sub": user.id, "iat": now, "exp": now + ID_TOKEN_SECONDS,
        "nonce": nonce, "name": user.name, "given_name": user.given_name, "family_name": user.family_name,
        "email": user.email, "locale": "sv-SE",
        CLAIM + "message_type": message_type or "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": seed.DEPLOYMENT_ID,
        CLAIM + "target_link_uri": tool + "/lti/launch",
        CLAIM + "roles": list(user.roles),
        CLAIM + "context": seed.COURSE,
        CLAIM + "resource_link": seed.RESOURCE_LINK,
        CLAIM + "tool_platform": {"guid": "demo-platform", "name": "Demo platform", "product_family_code": "demo"},
        CLAIM + "launch_presentation": {"document_target": "iframe", "locale": "sv-SE"},
        CLAIM + "custom": {},
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": f"{base}/nrps/{seed.COURSE['id']}", "service_versions": ["2.0"]},
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
            "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                      "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                      "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
            "lineitems": f"{base}/ags/{seed.COURSE['id']}/lineitems"},
    }
    if claims[CLAIM + "message_type"] == "LtiDeepLinkingRequest":
        del claims[CLAIM + "resource_link"]
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": f"{base}/deep-link-return", "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"], "data": secrets.token_urlsafe(8)}
    return claims


def sign(claims: dict, headers: dict | None = None) -> str:
    key = platform_keys().ensure_key(_now())
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid, **(headers or {})})


@bp.get("/jwks")
def jwks():
    platform_keys().ensure_key(_now())
    return jsonify(platform_keys().jwks(_now()))


@bp.post("/token")
def token():
    """client_credentials with a private_key_jwt assertion signed by the tool's key."""
    if request.form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type"), 400
    assertion = request.form.get("client_assertion", "")
    try:
        kid = jwt.get_unverified_header(assertion).get("kid")
        tool_key = next(k for k in services().tool_keys.keys() if k.kid == kid)
        claims = jwt.decode(assertion, tool_key.public_pem, algorithms=["RS256"],
                            audience=seed.issuer(services().settings) + "/token")
    except (jwt.PyJWTError, StopIteration):
        return jsonify(error="invalid_client"), 401
    if claims.get("sub") != seed.CLIENT_ID:
        return jsonify(error="invalid_client"), 401
    access_token = uuid.uuid4().hex
    scope = request.form.get("scope", "")
    services().store.put("demo-access-token:" + access_token, json.dumps({"scope": scope, "issued_at": time.time()}),
                         3600)
    return jsonify(access_token=access_token, token_type="Bearer", expires_in=3600, scope=scope)
