"""Who is using the console on this request: a signed-in operator or an LMS administrator's launch.

An LMS administrator's pages carry `?launch=<id>` (as every launched page does); an operator
has a Flask session. Anyone else is sent to the sign-in page (no session) or refused (403).
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

from flask import abort, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...db import get_session
from ...db.admin import Operator
from ...db.tenancy import LmsUser, Registration
from ...lti.roles import Audience
from ...services.admin import Actor, lms_admin_actor, operator_actor
from ...services.operators import active_operator
from ..launch_access import current_launch

OPERATOR_KEY = "admin_operator_id"
SIGNED_IN_AT_KEY = "admin_signed_in_at"
# Derived from the password hash: a new password ends every session signed in with the old one.
CREDENTIAL_KEY = "admin_credential"
# An operator signs in again after this long, however active (the cookie lives for the browser session).
SIGN_IN_SECONDS = 12 * 3600


@dataclass(frozen=True)
class ConsoleUser:
    actor: Actor
    launch_id: str | None = None  # set for an LMS administrator: every console URL carries it

    @property
    def is_operator(self) -> bool:
        return self.actor.is_operator


def _credential(operator: Operator) -> str:
    return hashlib.sha256(operator.password_hash.encode()).hexdigest()[:16]


def sign_in_operator(operator: Operator) -> None:
    session.clear()  # nothing from before the sign-in survives it
    session[OPERATOR_KEY] = operator.id
    session[SIGNED_IN_AT_KEY] = int(time.time())
    session[CREDENTIAL_KEY] = _credential(operator)


def sign_out_operator() -> None:
    for key in (OPERATOR_KEY, SIGNED_IN_AT_KEY, CREDENTIAL_KEY):
        session.pop(key, None)


def _from_launch() -> ConsoleUser:
    launch = current_launch()  # 401 when the launch id is unknown or expired
    g.launch = launch  # the launch's locale chooses the language, as on the landing page
    if launch.audience != Audience.ADMINISTRATOR.value:
        abort(403, description=_l("Only the LMS's administrators may open the admin console."))
    db = get_session()
    is_active = db.scalar(select(Registration.is_active).where(Registration.id == launch.registration_id))
    if not is_active:
        abort(403, description=_l("The tool has been switched off for this LMS. Contact the tool's administrator."))
    sub = db.scalar(select(LmsUser.id_on_platform).where(LmsUser.id == launch.lms_user_id,
                                                         LmsUser.registration_id == launch.registration_id))
    if sub is None:
        abort(403, description=_l("Your role in this course does not give access to this page."))
    return ConsoleUser(lms_admin_actor(sub, launch.registration_id, launch.name), launch.launch_id)


def _from_session() -> ConsoleUser | None:
    operator_id = session.get(OPERATOR_KEY)
    signed_in_at = session.get(SIGNED_IN_AT_KEY, 0)
    if not isinstance(operator_id, int) or not isinstance(signed_in_at, int):
        return None
    if time.time() - signed_in_at > SIGN_IN_SECONDS:
        sign_out_operator()
        return None
    operator = active_operator(get_session(), operator_id)
    if operator is None or session.get(CREDENTIAL_KEY) != _credential(operator):
        # disabled, removed, or given a new password since signing in
        sign_out_operator()
        return None
    return ConsoleUser(operator_actor(operator.email))


def console_user() -> ConsoleUser | None:
    """The launch when the URL names one (it was built for it), else the operator's session."""
    if request.args.get("launch") or request.form.get("launch"):
        return _from_launch()
    return _from_session()


def console_page(view: Callable) -> Callable:
    """Only operators and LMS administrators; anyone not signed in goes to the sign-in page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = console_user()
        if user is None:
            # Back to the page after signing in; a form posted without a session is not replayed.
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("admin.login", next=back))
        g.console = user
        return view(*args, **kwargs)

    return wrapped


def current_user() -> ConsoleUser:
    return g.console


def safe_next(target: str | None) -> str | None:
    """Only a path inside the console: a sign-in must never send the browser elsewhere."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/admin") or "\\" in target:
        return None
    return target
