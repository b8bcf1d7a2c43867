"""Operators' local accounts: created from the CLI, signed in on the console with a password.

Passwords are hashed with werkzeug's `generate_password_hash`, whose default is scrypt
(N=2^15, r=8, p=1) with a random 16-character salt; the check compares in constant time.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..db.admin import Operator
from .admin import Actor, record_change

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # scrypt of a megabyte "password" is a cheap denial of service
MAX_EMAIL_LENGTH = 320
# Checked when the e-mail matches no account, so an unknown address costs as much time as a known one.
_NO_ACCOUNT_HASH = generate_password_hash("no account has this password, it only spends the same time")


class OperatorError(ValueError):
    """An operator command cannot be carried out; the message says why in one line."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is refused, or None; the console and the CLI share this rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < 4:
        return "the password repeats too few different characters"
    if email and normalise_email(password) == normalise_email(email):
        return "the password must not be the e-mail address"
    return None


def _require_email(email: str) -> str:
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > MAX_EMAIL_LENGTH:
        raise OperatorError(f"not an e-mail address: {email!r}")
    return email


def find_operator(session: Session, email: str) -> Operator | None:
    return session.scalar(select(Operator).where(Operator.email == normalise_email(email)))


def _get_operator(session: Session, email: str) -> Operator:
    operator = find_operator(session, email)
    if operator is None:
        raise OperatorError(f"no operator {normalise_email(email)!r}")
    return operator


def create_operator(session: Session, email: str, password: str, actor: Actor, now: datetime) -> Operator:
    email = _require_email(email)
    problem = password_problem(password, email)
    if problem:
        raise OperatorError(problem)
    if find_operator(session, email) is not None:
        raise OperatorError(f"an operator {email!r} exists already")
    operator = Operator(email=email, password_hash=generate_password_hash(password), is_active=True, created_at=now)
    session.add(operator)
    session.flush()
    record_change(session, actor, "operator.create", email, None, {}, now)
    return operator


def set_password(session: Session, email: str, password: str, actor: Actor, now: datetime) -> Operator:
    operator = _get_operator(session, email)
    problem = password_problem(password, operator.email)
    if problem:
        raise OperatorError(problem)
    operator.password_hash = generate_password_hash(password)
    session.flush()
    record_change(session, actor, "operator.set_password", operator.email, None, {}, now)
    return operator


def set_operator_active(session: Session, email: str, is_active: bool, actor: Actor, now: datetime) -> Operator:
    operator = _get_operator(session, email)
    operator.is_active = is_active
    session.flush()
    record_change(session, actor, "operator.enable" if is_active else "operator.disable", operator.email, None,
                  {}, now)
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.email)))


def authenticate(session: Session, email: str, password: str, now: datetime) -> Operator | None:
    """The active operator with this e-mail and password, or None; the same work either way.

    A wrong password, an unknown e-mail and a disabled account are indistinguishable to the
    caller and take the same time (one scrypt check each), so the answer reveals nothing.
    """
    password = password[:MAX_PASSWORD_LENGTH + 1]
    operator = find_operator(session, email) if len(email or "") <= MAX_EMAIL_LENGTH else None
    is_match = check_password_hash(operator.password_hash if operator else _NO_ACCOUNT_HASH, password)
    if operator is None or not is_match or not operator.is_active:
        log.warning("operator sign-in refused for %r", normalise_email(email)[:MAX_EMAIL_LENGTH])
        return None
    operator.last_signed_in_at = now
    session.flush()
    log.info("operator %s signed in", operator.email)
    return operator


def active_operator(session: Session, operator_id: int) -> Operator | None:
    """The signed-in operator if the account still exists and is enabled (disabling signs them out)."""
    operator = session.get(Operator, operator_id)
    return operator if operator is not None and operator.is_active else None
