"""Operators sign in with e-mail and password (rate-limited per address and per account) and sign out."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...db import get_session
from ...services.operators import authenticate, normalise_email
from ..rate_limit import check_rate, client_address
from .access import console_user, safe_next, sign_in_operator, sign_out_operator
from .forms import SignInForm

# Guessing passwords from one address, or at one account from many addresses, is slowed to these.
ATTEMPTS_PER_ADDRESS = 20
ATTEMPTS_PER_ACCOUNT = 5
WINDOW_SECONDS = 15 * 60


def _account_identity(email: str) -> str:
    # A digest keeps the counter's key short and the address out of the shared store.
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]


def login():
    form = SignInForm()
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        user = console_user() if not request.args.get("launch") else None
        if user is not None:
            return redirect(target or url_for("admin.index"))
    if request.method == "POST":
        # Counted before the password is checked, so a right guess after the limit is refused too.
        check_rate("admin-sign-in-address", client_address(), ATTEMPTS_PER_ADDRESS, WINDOW_SECONDS)
        if form.email.data:
            check_rate("admin-sign-in-account", _account_identity(form.email.data), ATTEMPTS_PER_ACCOUNT,
                       WINDOW_SECONDS)
    if form.validate_on_submit():
        operator = authenticate(get_session(), form.email.data, form.password.data, datetime.now(timezone.utc))
        if operator is not None:
            sign_in_operator(operator)
            return redirect(target or url_for("admin.index"))
        g.sign_in_failed = True
    return render_template("admin/sign_in.html", form=form, next=target,
                           failed=_("The e-mail or the password is wrong, or the account is disabled.")
                           if g.get("sign_in_failed") else None)


def logout():
    # POST only, and the app-wide CSRF check has already refused one without a valid token.
    sign_out_operator()
    return redirect(url_for("admin.login"))
