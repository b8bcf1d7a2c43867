"""The stable LTI endpoints: OIDC login, launch (redirect URI) and the tool's JWKS."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for

from ..db import get_connection, get_session
from ..extensions import services
from ..lti.errors import LaunchRejected
from ..lti.launch import CookieNotReturned, LaunchSettings, validate_launch
from ..lti.login import LOGIN_PARAMS, begin_login, state_cookie_name
from ..services.launches import LaunchLookup, record_launch, record_rejection
from . import csp
from .course import after_launch, landing_url

bp = Blueprint("lti", __name__)
STATE_COOKIE_SECONDS = 600


@bp.before_request
def allow_framing_by_the_posting_lms() -> None:
    # The LMS's page posting the login or launch frames the answer (the platform-storage page, an
    # error): for Canvas that is the customer's domain, which no registration names. Trusting the
    # header is safe: a browser sets it, and these answers hold nothing another site could use.
    csp.allow_framing_by(request.headers.get("Origin"))


def absolute_url(endpoint: str, **values) -> str:
    return services().settings.BASE_URL.rstrip("/") + url_for(endpoint, **values)


def _login_params() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    params = {key: source.get(key, "") for key in LOGIN_PARAMS}
    # Canvas names it deployment_id; the spec lti_deployment_id.
    params["lti_deployment_id"] = params["lti_deployment_id"] or params["deployment_id"]
    return params


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _is_secure() -> bool:
    return services().settings.BASE_URL.startswith("https://")


@bp.route("/lti/login", methods=["GET", "POST"])
def login():
    svc = services()
    params = _login_params()
    try:
        # The login only reads: its lookup runs outside any transaction, and the request opens none.
        started = begin_login(params, registrations=svc.registrations.outside_transaction(), store=svc.store,
                              signer=svc.login_states, base_url=svc.settings.BASE_URL,
                              redirect_uri=absolute_url("lti.launch"),
                              ttl_seconds=svc.settings.LOGIN_STATE_TTL)
    except LaunchRejected as error:
        record_rejection(get_session(), error, _now())
        raise
    csp.allow_framing_by(params["iss"], started.auth_url)  # registered, if perhaps not in the cached list yet
    if started.storage_target:
        # The platform offers storage: keep the browser token there too, for when cookies are blocked.
        response = render_template("lti/storage_put.html", started=started)
    else:
        response = redirect(started.auth_url, code=302)
    response = _as_response(response)
    response.set_cookie(state_cookie_name(started.state), started.browser_token, max_age=STATE_COOKIE_SECONDS,
                        secure=_is_secure(), httponly=True, samesite="None" if _is_secure() else "Lax",
                        partitioned=_is_secure(), path="/lti/")
    return response


@bp.route("/lti/launch", methods=["POST"])
def launch():
    svc = services()
    try:
        validated = validate_launch(request.form, request.cookies, store=svc.store, signer=svc.login_states,
                                    registrations=LaunchLookup(get_connection), platform_keys=svc.platform_keys,
                                    settings=launch_settings())
    except LaunchRejected as error:
        record_rejection(get_session(), error, _now())
        raise
    except CookieNotReturned as missing:
        return _cookie_fallback(missing)
    # On the request's connection: the launch needs no ORM session (a refusal above opens one).
    outcome = record_launch(get_connection(), svc.store, validated, _now(),
                            request_origin=request.headers.get("Origin"))
    if outcome.is_waiting_for_admin:
        return render_template("lti/waiting.html", issuer=validated.registration.issuer,
                               registration_id=validated.registration.id,
                               deployment_id=validated.deployment_id), 403
    response = redirect(landing_url(outcome.session), code=303)
    # A learner's launch in a linked course syncs their grades in the background.
    after_launch(outcome.session, outcome.is_course_linked)
    response.delete_cookie(state_cookie_name(request.form["state"]), path="/lti/")
    return response


def launch_settings() -> LaunchSettings:
    settings = services().settings
    return LaunchSettings(base_url=settings.BASE_URL, leeway_seconds=settings.JWT_LEEWAY,
                          is_cookie_optional=not settings.BASE_URL.startswith("https://"),
                          login_state_ttl=settings.LOGIN_STATE_TTL)


def _cookie_fallback(missing: CookieNotReturned):
    if missing.storage_target:
        return render_template("lti/storage_get.html", state=missing.state, target=missing.storage_target,
                               form=request.form)
    retry = absolute_url("lti.login") + "?" + urlencode(missing.login_params)
    return render_template("lti/new_window.html", retry_url=retry), 401


@bp.get("/lti/jwks")
@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(services().tool_keys.jwks(_now()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _as_response(value):
    return make_response(value)
