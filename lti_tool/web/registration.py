"""Installing the tool in an LMS: Dynamic Registration, Canvas's JSON, the values to paste, and the operators' form.

- `GET /lti/register` and its confirmation `POST`: LTI Dynamic Registration, opened by the LMS
  administrator from the LMS. No one is signed in to the tool then: the registration token
  is the authority. The confirmation form's CSRF token is the pending registration itself (kept
  server-side, single-use), not the session cookie, which an LMS iframe may not send back.
- `GET /lti/canvas.json`: the developer-key configuration Canvas reads.
- `GET /registration`: the values an administrator pastes into any LMS (public: every one of
  them is published anyway).
- `GET|POST /admin/registrations/new`: the form for an LMS's values, checked before saving. It
  registers a new tenant, so only the tool's operators (signed in to the admin console) may use
  it; an LMS administrator's launch is refused, as is everyone else.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, send_from_directory, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField, ValidationError
from wtforms.csrf.core import CSRF
from wtforms.validators import DataRequired, Length, Optional

from ..db import get_session
from ..extensions import services
from ..lti.canvas_config import canvas_developer_key
from ..lti.dynamic_registration import (DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST, PlatformConfiguration,
                                        RegistrationError)
from ..lti.dynamic_registration import RegistrationFailure as F
from ..lti.dynamic_registration import tool_messages
from ..lti.safe_fetch import FetchPolicy, SafeFetcher
from ..lti.tool_description import (
    AGS_LINEITEM, AGS_LINEITEM_READONLY, AGS_RESULT_READONLY, AGS_SCORE, CLAIMS, NRPS_MEMBERSHIP_READONLY, SCOPES,
    Feature, ToolDescription,
)
from ..services import registration as registering
from ..services.platforms import NewPlatform, PlatformError
from . import csp
from .admin.access import console_user
from .lti_endpoints import absolute_url
from .rate_limit import rate_limited

log = logging.getLogger(__name__)
bp = Blueprint("registration", __name__)
# Anyone may open /lti/register, and each visit makes the tool fetch two URLs: a bound per address.
RATE_LIMIT, RATE_WINDOW_SECONDS = 30, 600
STATIC_DIR = Path(__file__).resolve().parent / "static"

DR_TEXT = {
    F.CONFIGURATION_URL_MISSING: _l("Open this address from your LMS: the LMS adds the address of its configuration."),
    F.CONFIGURATION_URL_INVALID: _l("The address of the LMS's configuration is not a valid web address."),
    F.ADDRESS_NOT_ALLOWED: _l("The LMS's address is on a private or local network, which the tool does not contact. "
                              "The tool's operator can allow it."),
    F.HTTPS_REQUIRED: _l("The LMS must be reached over https."),
    F.PLATFORM_UNREACHABLE: _l("The LMS could not be reached. Try again in a moment, starting from your LMS."),
    F.CONFIGURATION_MALFORMED: _l("The LMS's configuration could not be read, or lacks required information."),
    F.ISSUER_MISMATCH: _l("The LMS's configuration names another LMS than the address it came from."),
    F.PLATFORM_KEYS_INVALID: _l("The LMS publishes no usable signing keys."),
    F.TOKEN_EXPIRED: _l("The registration link has expired. Start the registration again in your LMS."),
    F.TOKEN_REFUSED: _l("The LMS did not accept the registration link: it may have expired or belong to another "
                        "LMS. Start the registration again in your LMS."),
    F.TOKEN_USED: _l("This registration link has already been used. Start a new registration in your LMS."),
    F.PENDING_EXPIRED: _l("This registration page has expired. Start the registration again in your LMS."),
    F.REGISTRATION_REFUSED: _l("The LMS refused the registration."),
    F.REGISTRATION_MALFORMED: _l("The LMS's answer to the registration could not be read."),
    F.REGISTRATION_EXISTS: _l("The LMS answered with a registration the tool has already."),
}
DR_STATUS = {F.TOKEN_EXPIRED: 403, F.TOKEN_REFUSED: 403, F.TOKEN_USED: 409, F.REGISTRATION_EXISTS: 409,
             F.PENDING_EXPIRED: 410}
# The resolved private addresses would map the tool's internal network for whoever asks: logged only.
DETAIL_HIDDEN = {F.ADDRESS_NOT_ALLOWED}

SCOPE_TEXT = {
    AGS_LINEITEM: _l("Create and change gradebook columns"),
    AGS_LINEITEM_READONLY: _l("Read gradebook columns"),
    AGS_RESULT_READONLY: _l("Read results from the gradebook"),
    AGS_SCORE: _l("Send results to the gradebook"),
    NRPS_MEMBERSHIP_READONLY: _l("Read the course's participants and their roles"),
}
FEATURE_TEXT = {
    Feature.GRADE_READING: _l("Reading module and exam results from the gradebook"),
    Feature.GRADE_WRITING: _l("Writing certification results to the gradebook"),
    Feature.ROSTER: _l("Reading the course's participants (roster sync)"),
}
MESSAGE_TEXT = {
    RESOURCE_LINK_REQUEST: _l("A link that opens the tool"),
    DEEP_LINKING_REQUEST: _l("Adding the tool's content to a course (deep linking)"),
}
CLAIM_TEXT = {"iss": _l("The LMS's identifier"), "sub": _l("A stable identifier of the person"),
              "name": _l("Full name"), "given_name": _l("Given name"), "family_name": _l("Family name"),
              "email": _l("E-mail address"), "locale": _l("Language")}
FORM_TEXT = {
    "url_invalid": _l("Enter an http(s) web address."),
    "https_required": _l("The address must use https."),
    "address_not_allowed": _l("This address is on a private or local network, which the tool does not contact."),
    "unreachable": _l("The address could not be fetched."),
    "redirect": _l("The address redirects elsewhere; enter the final address."),
    "too_large": _l("The address answers with too much data."),
    "not_json": _l("The address does not answer with a key set (JSON)."),
    "keys_invalid": _l("The key set holds no RSA signing key with a key id (kid)."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def tool_description() -> ToolDescription:
    base = services().settings.BASE_URL.rstrip("/")
    # /lti/jwks, the address the README gives (the endpoint also answers at /.well-known/jwks.json).
    return ToolDescription(login_url=absolute_url("lti.login"), launch_url=absolute_url("lti.launch"),
                           jwks_url=base + "/lti/jwks", logo_url=absolute_url("registration.icon"))


def safe_fetcher() -> SafeFetcher:
    settings = services().settings
    return SafeFetcher(FetchPolicy(allow_private=settings.ALLOW_PRIVATE_PLATFORMS,
                                   require_https=settings.is_production, timeout=settings.HTTP_TIMEOUT))


def release_database() -> None:
    """Commit what this request wrote so far, before a call to an LMS that may take HTTP_TIMEOUT.

    An open write transaction would hold SQLite's single write lock (every launch waits) for as
    long as the LMS takes to answer.
    """
    get_session().commit()


# --- Dynamic Registration ---------------------------------------------------------------------
class PendingRegistrationCSRF(CSRF):
    """The confirmation form's CSRF token is the key of the pending registration the page was made for.

    It is unguessable, kept server-side, and spent when the registration is confirmed: a
    synchronizer token that needs no cookie (an LMS shows this page in an iframe, where the
    browser may withhold the tool's cookies).
    """

    def setup_form(self, form):
        self.pending_key = form.meta.csrf_context
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field) -> str:
        return self.pending_key

    def validate_csrf_token(self, form, field) -> None:
        if not registering.is_pending_key_known(services().store, field.data or ""):
            raise ValidationError(_l("The form had expired or did not come from this page."))


class ConfirmRegistrationForm(FlaskForm):
    class Meta:
        csrf_class = PendingRegistrationCSRF
        csrf_context = ""

    name = StringField(_l("Name of this LMS in the tool"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Register the tool"))


def _dr_failed(error: RegistrationError):
    log.warning("dynamic registration stopped (%s): %s", error.reason.value, error.detail)
    detail = "" if error.reason in DETAIL_HIDDEN else error.detail
    return render_template("registration/failed.html", message=DR_TEXT[error.reason], reason=error.reason.value,
                           detail=detail), DR_STATUS.get(error.reason, 400)


@bp.get("/lti/register")
@rate_limited("dynamic-registration", RATE_LIMIT, RATE_WINDOW_SECONDS)
def dynamic_registration():
    settings = services().settings
    # The LMS administrator's page that opened this one frames it (an error page too).
    csp.allow_framing_by(request.args.get("openid_configuration"))
    release_database()  # the rate counter: committed before the tool fetches from the LMS
    try:
        with safe_fetcher() as fetcher:
            pending = registering.begin_dynamic_registration(
                get_session(), services().store, fetcher, request.args.get("openid_configuration", "").strip(),
                request.args.get("registration_token", "").strip() or None, _now(), settings.JWT_LEEWAY)
    except RegistrationError as error:
        return _dr_failed(error)
    form = ConfirmRegistrationForm(formdata=None, meta={"csrf_context": pending.key}, name=pending.suggested_name)
    return _confirm_page(pending, form)


def _allow_framing_by_platform(configuration: PlatformConfiguration) -> None:
    csp.allow_framing_by(configuration.configuration_url, configuration.issuer,
                         configuration.authorization_endpoint, configuration.registration_endpoint)


def _confirm_page(pending: registering.PendingRegistration, form: ConfirmRegistrationForm, status: int = 200):
    _allow_framing_by_platform(pending.configuration)
    return render_template(
        "registration/confirm.html", pending=pending, form=form, tool=tool_description(),
        platform=pending.configuration, scopes=[(s, SCOPE_TEXT[s]) for s in pending.requested_scopes],
        features_not_offered=[(f.value, FEATURE_TEXT[f]) for f in pending.features_not_offered],
        messages=[(m, MESSAGE_TEXT[m["type"]]) for m in tool_messages(tool_description(), pending.configuration)],
        claims=[(c, CLAIM_TEXT[c]) for c in CLAIMS]), status


@bp.post("/lti/register")
@rate_limited("dynamic-registration", RATE_LIMIT, RATE_WINDOW_SECONDS)
def complete_dynamic_registration():
    key = request.form.get("csrf_token", "")
    form = ConfirmRegistrationForm(meta={"csrf_context": key})
    if not form.validate_on_submit():
        pending = registering.find_pending_registration(services().store, key)
        if pending is None or "csrf_token" in form.errors:
            return render_template("error.html", code=400,
                                   message=_l("The form had expired or did not come from this page. "
                                              "Start the registration again in your LMS.")), 400
        return _confirm_page(pending, form, 400)
    try:
        pending = registering.take_pending_registration(services().store, key)
        _allow_framing_by_platform(pending.configuration)
        # The token is spent for good, whatever the platform answers; and no lock is held while it does.
        release_database()
        with safe_fetcher() as fetcher:
            completed = registering.complete_dynamic_registration(get_session(), fetcher, tool_description(), pending,
                                                                  form.name.data, _now())
    except RegistrationError as error:
        return _dr_failed(error)
    return render_template(
        "registration/complete.html", completed=completed,
        granted=[(s, SCOPE_TEXT.get(s, s)) for s in completed.granted_scopes],
        unavailable=[(f.value, FEATURE_TEXT[f]) for f in completed.unavailable_features],
        # Close at once only when there is nothing to read: otherwise the administrator closes it.
        close_at_once=not completed.unavailable_features and not completed.is_pending_in_lms)


# --- what to paste into an LMS ------------------------------------------------------------------
@bp.get("/lti/canvas.json")
def canvas_json():
    response = jsonify(canvas_developer_key(tool_description()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/lti/icon.svg")
def icon():
    return send_from_directory(STATIC_DIR, "icon.svg", mimetype="image/svg+xml", max_age=86400)


@bp.get("/registration")
def manual_registration():
    return render_template("registration/manual.html", tool=tool_description(),
                           register_url=absolute_url("registration.dynamic_registration"),
                           canvas_json_url=absolute_url("registration.canvas_json"),
                           scopes=[(s, SCOPE_TEXT[s]) for s in SCOPES])


# --- the operators' form ------------------------------------------------------------------------
class PlatformForm(FlaskForm):
    name = StringField(_l("Name of this LMS in the tool"), validators=[Optional(), Length(max=200)])
    issuer = StringField(_l("Issuer (Platform ID)"), validators=[DataRequired(), Length(max=2048)])
    client_id = StringField(_l("Client ID"), validators=[DataRequired(), Length(max=255)])
    deployment_ids = TextAreaField(_l("Deployment IDs (one per line; empty: approve them at their first launch)"),
                                   validators=[Optional(), Length(max=5000)])
    auth_login_url = StringField(_l("Authentication request URL (OIDC authorisation endpoint)"),
                                 validators=[DataRequired(), Length(max=2048)])
    auth_token_url = StringField(_l("Access token URL"), validators=[DataRequired(), Length(max=2048)])
    key_set_url = StringField(_l("Public keyset URL (JWKS)"), validators=[DataRequired(), Length(max=2048)])
    auth_audience = StringField(_l("Audience of the tool's token requests (empty: the access token URL)"),
                                validators=[Optional(), Length(max=2048)])
    submit = SubmitField(_l("Check and save"))

    def deployment_id_list(self) -> tuple[str, ...]:
        lines = (line.strip() for line in (self.deployment_ids.data or "").replace(",", "\n").splitlines())
        return tuple(dict.fromkeys(line for line in lines if line))

    def validate_deployment_ids(self, field) -> None:
        if any(len(value) > 255 for value in self.deployment_id_list()):
            raise ValidationError(_l("A deployment ID has at most 255 characters."))


def _require_operator():
    """The signed-in operator's actor; an LMS administrator's launch or anyone else is refused."""
    user = console_user()  # 401 for an unknown launch id, 403 for a launch that is not an administrator's
    if user is None:
        return None
    if not user.is_operator:
        abort(403, description=_l("Only the tool's operators may register an LMS by hand. "
                                  "An LMS administrator can use Dynamic Registration from the LMS."))
    g.console = user
    return user.actor


@bp.route("/admin/registrations/new", methods=["GET", "POST"])
def register_platform():
    actor = _require_operator()
    if actor is None:
        return redirect(url_for("admin.login", next=request.path))
    form = PlatformForm()
    if not form.validate_on_submit():
        return _platform_form(form, 400 if form.is_submitted() else 200)
    new = NewPlatform(
        issuer=form.issuer.data.strip(), client_id=form.client_id.data.strip(),
        auth_login_url=form.auth_login_url.data.strip(), auth_token_url=form.auth_token_url.data.strip(),
        key_set_url=form.key_set_url.data.strip(), deployment_ids=form.deployment_id_list(),
        name=(form.name.data or "").strip() or None, auth_audience=(form.auth_audience.data or "").strip() or None)
    try:
        with safe_fetcher() as fetcher:
            registration = registering.register_platform_by_hand(get_session(), fetcher, new, actor, _now())
    except registering.PlatformValuesRejected as rejected:
        log.warning("manual registration refused: %s", rejected)
        detail = "" if rejected.reason == "address_not_allowed" else rejected.detail
        getattr(form, rejected.field).errors.append(f"{FORM_TEXT[rejected.reason]} {detail}".strip())
        return _platform_form(form, 400)
    except PlatformError as error:
        exists = "exists already" in str(error)
        message = _l("This LMS is registered already with this client ID.") if exists else str(error)
        return _platform_form(form, 409 if exists else 400, problem=message)
    return render_template("registration/platform_saved.html", registration=registration)


def _platform_form(form: PlatformForm, status: int, problem: str | None = None):
    return render_template("registration/platform_form.html", form=form, tool=tool_description(),
                           problem=problem), status
