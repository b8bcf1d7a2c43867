"""Error pages: a rejected launch is a readable 4xx, anything unexpected a friendly 500."""
from __future__ import annotations

import logging

from flask import Flask, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..lti.errors import LaunchRejected, RejectionReason as R

log = logging.getLogger(__name__)

# What a person can do about it matters more than the protocol detail, which is logged.
REASON_TEXT = {
    R.LOGIN_PARAMETER_MISSING: _l("The LMS sent an incomplete login request."),
    R.REGISTRATION_UNKNOWN: _l("This LMS is not registered with the tool. Ask your LMS administrator to register it."),
    R.REGISTRATION_INACTIVE: _l("The tool has been switched off for this LMS. Contact the tool's administrator."),
    R.STATE_MISSING: _l("The launch did not come through a login. Start again from the course page."),
    R.STATE_UNKNOWN: _l("This launch has expired or did not start in your LMS. Start again from the course page."),
    R.STATE_REPLAYED: _l("This launch has already been used. Start again from the course page."),
    R.STATE_MISMATCH: _l("This launch belongs to another browser window. Start again from the course page."),
    R.ID_TOKEN_MISSING: _l("The LMS sent no launch token."),
    R.ID_TOKEN_MALFORMED: _l("The launch token could not be read."),
    R.ALGORITHM_NOT_ALLOWED: _l("The launch token is signed with an algorithm the tool does not accept."),
    R.KID_MISSING: _l("The launch token does not say which key signed it."),
    R.KID_UNKNOWN: _l("The launch token is signed with a key the LMS does not publish."),
    R.PLATFORM_KEYS_UNAVAILABLE: _l("The LMS's public keys could not be fetched. Try again in a moment."),
    R.SIGNATURE_INVALID: _l("The launch token's signature is not valid."),
    R.TOKEN_EXPIRED: _l("The launch token has expired. Check the clocks, then start again from the course page."),
    R.TOKEN_NOT_YET_VALID: _l("The launch token is dated in the future. Check the LMS server's clock."),
    R.ISSUER_MISMATCH: _l("The launch token comes from another LMS than the login."),
    R.AUDIENCE_MISMATCH: _l("The launch token is meant for another tool."),
    R.AUDIENCE_UNTRUSTED: _l("The launch token is also meant for other parties the tool does not trust."),
    R.AZP_MISMATCH: _l("The launch token was issued to another tool."),
    R.NONCE_MISMATCH: _l("The launch token does not belong to this login."),
    R.CLAIM_MISSING: _l("The launch token lacks required information."),
    R.VERSION_INVALID: _l("The LMS does not speak LTI 1.3."),
    R.MESSAGE_TYPE_UNSUPPORTED: _l("The tool does not support this kind of launch."),
    R.DEPLOYMENT_MISSING: _l("The launch does not say which installation of the tool it is for."),
    R.RESOURCE_LINK_MISSING: _l("The launch does not say which link in the course was opened."),
    R.ROLES_MISSING: _l("The launch does not say what your role in the course is."),
    R.SUB_MISSING: _l("The launch does not say who you are. Anonymous launches are not supported."),
    R.TARGET_LINK_URI_FOREIGN: _l("The launch is meant for another address than this tool."),
    R.MESSAGE_INVALID: _l("The launch message is not valid."),
}

AUTH_FAILURES = {R.ALGORITHM_NOT_ALLOWED, R.KID_MISSING, R.KID_UNKNOWN, R.SIGNATURE_INVALID,
                 R.TOKEN_EXPIRED, R.TOKEN_NOT_YET_VALID, R.AUDIENCE_MISMATCH, R.AUDIENCE_UNTRUSTED,
                 R.AZP_MISMATCH, R.ISSUER_MISMATCH, R.NONCE_MISMATCH}
FORBIDDEN = {R.REGISTRATION_INACTIVE}

HTTP_TEXT = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("There is no such page."),
    405: _l("This address does not accept that kind of request."),
    429: _l("Too many requests. Wait a moment and try again."),
}


def status_for(reason: R) -> int:
    if reason in FORBIDDEN:
        return 403
    if reason is R.PLATFORM_KEYS_UNAVAILABLE:
        return 503
    return 401 if reason in AUTH_FAILURES else 400


def rejection_page(error: LaunchRejected):
    return render_template("lti/rejected.html", message=REASON_TEXT[error.reason],
                           reason=error.reason.value, detail=error.detail), status_for(error.reason)


def init_app(app: Flask) -> None:
    @app.errorhandler(LaunchRejected)
    def launch_rejected(error: LaunchRejected):
        return rejection_page(error)

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        return render_template("error.html", code=400,
                               message=_l("The form had expired or did not come from this page. Reload and try again.")), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # Our own aborts carry a translated description; Werkzeug's defaults are English only.
        is_default = error.description == type(error).description
        message = HTTP_TEXT.get(error.code, error.description) if is_default else error.description
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return render_template("error.html", code=error.code, message=message), error.code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        g.db_failed = True
        return render_template("error.html", code=500,
                               message=_l("Something went wrong in the tool. The error has been logged.")), 500
