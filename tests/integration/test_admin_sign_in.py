"""Operators' accounts and sign-in: hashed passwords, one answer for every failure, rate limits, CSRF."""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from lti_tool.db.admin import AdminAuditEntry, Operator
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Registration
from lti_tool.web.admin.sign_in import ATTEMPTS_PER_ACCOUNT, ATTEMPTS_PER_ADDRESS
from tests.support.admin import PASSWORD, Console, add_operator, csrf_token
from tests.support.lms import DemoLms

REFUSED = "The e-mail or the password is wrong, or the account is disabled."


def operator_row(app, email: str) -> SimpleNamespace | None:
    with app.app_context():
        row = get_session().scalar(select(Operator).where(Operator.email == email))
        return None if row is None else SimpleNamespace(
            password_hash=row.password_hash, last_signed_in_at=row.last_signed_in_at, is_active=row.is_active)


def test_an_operator_signs_in_sees_the_console_and_signs_out(live_tool):
    email = add_operator(live_tool.app)
    console = Console(live_tool)
    first = console.get("/admin/")
    assert first.status_code == 302 and "/admin/login?next=/admin/" in first.headers["Location"]

    signed_in = console.sign_in(email)
    assert signed_in.status_code == 302 and urlparse(signed_in.headers["Location"]).path == "/admin/"
    page = console.get("/admin/")
    assert page.status_code == 200 and f"Operator {email}" in page.text
    assert operator_row(live_tool.app, email).last_signed_in_at is not None

    signed_out = console.post("/admin/logout")
    assert signed_out.status_code == 302 and "/admin/login" in signed_out.headers["Location"]
    assert console.get("/admin/").status_code == 302


def test_the_password_is_stored_as_a_scrypt_hash(live_tool):
    email = add_operator(live_tool.app)
    row = operator_row(live_tool.app, email)
    assert PASSWORD not in row.password_hash
    assert row.password_hash.startswith("scrypt:")
    assert check_password_hash(row.password_hash, PASSWORD)
    assert not check_password_hash(row.password_hash, PASSWORD + "x")


@pytest.mark.parametrize("case", ["wrong password", "unknown account", "disabled account"])
def test_every_refused_sign_in_gives_the_same_answer(live_tool, case):
    email = add_operator(live_tool.app)
    if case == "disabled account":
        live_tool.app.test_cli_runner().invoke(args=["admin", "disable", email])
    console = Console(live_tool)
    attempt = {"wrong password": (email, "not the password at all"),
               "unknown account": ("nobody@example.se", PASSWORD),
               "disabled account": (email, PASSWORD)}[case]
    response = console.sign_in(*attempt)
    assert response.status_code == 200
    assert REFUSED in response.text
    assert console.get("/admin/").status_code == 302  # not signed in


def test_a_next_address_outside_the_console_is_ignored(live_tool):
    email = add_operator(live_tool.app)
    console = Console(live_tool)
    page = console.get("/admin/login", next="https://evil.example/admin")
    response = console.browser.post(live_tool.url("/admin/login?next=//evil.example/admin"), data={
        "csrf_token": csrf_token(page.text),
        "email": email, "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/admin/", live_tool.url("/admin/"))


def test_too_many_attempts_at_one_account_are_refused_even_with_the_right_password(live_tool):
    email = add_operator(live_tool.app)
    other = add_operator(live_tool.app, "other@example.se")
    console = Console(live_tool)
    for _ in range(ATTEMPTS_PER_ACCOUNT):
        assert console.sign_in(email, "a wrong guess, again").status_code == 200
    blocked = console.sign_in(email, PASSWORD)
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers and "Too many requests" in blocked.text
    assert console.get("/admin/").status_code == 302
    # The limit is per account: another operator from the same address still gets in.
    assert console.sign_in(other).status_code == 302


def test_too_many_attempts_from_one_address_are_refused(live_tool):
    add_operator(live_tool.app)
    console = Console(live_tool)
    for i in range(ATTEMPTS_PER_ADDRESS):
        assert console.sign_in(f"guess{i}@example.se", "a wrong guess, again").status_code == 200
    assert console.sign_in("operator@example.se").status_code == 429


def test_disabling_an_operator_ends_their_session(live_tool):
    email = add_operator(live_tool.app)
    console = Console(live_tool)
    console.sign_in(email)
    assert console.get("/admin/").status_code == 200
    result = live_tool.app.test_cli_runner().invoke(args=["admin", "disable", email])
    assert result.exit_code == 0, result.output
    assert console.get("/admin/").status_code == 302


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(live_tool):
    email = add_operator(live_tool.app)
    console = Console(live_tool)
    console.sign_in(email)
    result = live_tool.app.test_cli_runner().invoke(args=["admin", "set-password", email, "--password-stdin"],
                                                    input="an entirely new passphrase\n")
    assert result.exit_code == 0, result.output
    assert console.get("/admin/").status_code == 302
    assert console.sign_in(email, "an entirely new passphrase").status_code == 302


def test_the_cli_creates_lists_and_disables_operators_and_refuses_weak_passwords(live_tool):
    runner = live_tool.app.test_cli_runner()
    weak = runner.invoke(args=["admin", "create", "ops@example.se", "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "at least 12 characters" in weak.output
    assert operator_row(live_tool.app, "ops@example.se") is None

    mismatch = runner.invoke(args=["admin", "create", "ops@example.se"],
                             input="a long enough passphrase\nanother long passphrase\n")
    assert mismatch.exit_code != 0 and operator_row(live_tool.app, "ops@example.se") is None

    prompted = runner.invoke(args=["admin", "create", "Ops@Example.se"],
                             input="a long enough passphrase\na long enough passphrase\n")
    assert prompted.exit_code == 0, prompted.output
    again = runner.invoke(args=["admin", "create", "ops@example.se", "--password-stdin"],
                          input="a long enough passphrase\n")
    assert again.exit_code != 0 and "exists already" in again.output

    listed = runner.invoke(args=["admin", "list"])
    assert "ops@example.se\tactive" in listed.output
    assert runner.invoke(args=["admin", "disable", "ops@example.se"]).exit_code == 0
    assert "ops@example.se\tdisabled" in runner.invoke(args=["admin", "list"]).output
    assert runner.invoke(args=["admin", "disable", "nobody@example.se"]).exit_code != 0
    with live_tool.app.app_context():
        actions = get_session().scalars(select(AdminAuditEntry.action).order_by(AdminAuditEntry.id)).all()
    assert actions == ["operator.create", "operator.disable"]


def _post_endpoints(registration_id: int, deployment_id: int) -> list[str]:
    base = f"/admin/registrations/{registration_id}"
    return [f"{base}/deactivate", f"{base}/activate", f"{base}/deployments",
            f"{base}/deployments/{deployment_id}/deactivate", f"{base}/deployments/{deployment_id}/activate",
            "/admin/keys/rotate", f"{base}/programmes/FEI-NLU/edit", f"{base}/programmes/upload", "/admin/logout",
            "/admin/login"]


def test_every_post_without_a_csrf_token_is_refused(live_tool):
    lms = DemoLms(live_tool)
    email = add_operator(live_tool.app)
    console = Console(live_tool)
    console.sign_in(email)
    with live_tool.app.app_context():
        registration = get_session().get(Registration, lms.registration_id)
        deployment_id = registration.deployments[0].id
    for path in _post_endpoints(lms.registration_id, deployment_id):
        response = console.post(path, {"deployment_id": "x", "email": email, "password": PASSWORD},
                                with_token=False)
        assert response.status_code == 400, path
        assert "The form had expired" in response.text
        wrong = console.post(path, {"csrf_token": "forged"})
        assert wrong.status_code == 400, path
    with live_tool.app.app_context():
        registration = get_session().get(Registration, lms.registration_id)
        assert registration.is_active and registration.deployments[0].is_active
        assert get_session().scalars(select(AdminAuditEntry.action)).all() == ["operator.create"]
    assert console.get("/admin/").status_code == 200  # still signed in: the logout was refused too
