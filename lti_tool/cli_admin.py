"""`lti-tool admin …`: the console operators' local accounts."""
from __future__ import annotations

import getpass
import sys
from datetime import datetime, timezone

import click
from flask.cli import with_appcontext

from .services.admin import cli_actor
from .services.operators import (OperatorError, create_operator, list_operators,
                                 password_problem, set_operator_active, set_password)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _actor():
    try:
        return cli_actor(getpass.getuser())
    except (KeyError, OSError):  # no name for this uid (e.g. a container)
        return cli_actor("uid-unknown")


def _read_password(email: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        while True:
            password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
            problem = password_problem(password, email)
            if not problem:
                break
            click.echo(f"Refused: {problem}.", err=True)
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(f"refused: {problem}")
    return password


def _run(change) -> None:
    from .cli import unit_of_work

    try:
        with unit_of_work() as session:
            change(session)
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("admin", help="Operators of the admin console (/admin): local accounts.")
def admin_group() -> None:
    pass


@admin_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (for scripts).")
@with_appcontext
def admin_create(email: str, password_stdin: bool) -> None:
    """Create an operator; the password (at least 12 characters) is asked twice."""
    password = _read_password(email, password_stdin)
    _run(lambda session: create_operator(session, email, password, _actor(), _now()))
    click.echo(f"operator {email.strip().lower()} created; sign in at /admin/login")


@admin_group.command("list")
@with_appcontext
def admin_list() -> None:
    from .cli import unit_of_work

    with unit_of_work() as session:
        operators = list_operators(session)
        if not operators:
            click.echo("no operators: create one with `lti-tool admin create EMAIL`")
        for operator in operators:
            last = operator.last_signed_in_at.isoformat() if operator.last_signed_in_at else "never signed in"
            click.echo(f"{operator.email}\t{'active' if operator.is_active else 'disabled'}\t"
                       f"created {operator.created_at.isoformat()}\t{last}")


@admin_group.command("disable")
@click.argument("email")
@with_appcontext
def admin_disable(email: str) -> None:
    """Refuse the operator's sign-ins, and end the sessions they have open."""
    _run(lambda session: set_operator_active(session, email, False, _actor(), _now()))
    click.echo(f"operator {email.strip().lower()} disabled")


@admin_group.command("enable")
@click.argument("email")
@with_appcontext
def admin_enable(email: str) -> None:
    """Allow a disabled operator to sign in again."""
    _run(lambda session: set_operator_active(session, email, True, _actor(), _now()))
    click.echo(f"operator {email.strip().lower()} enabled")


@admin_group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def admin_set_password(email: str, password_stdin: bool) -> None:
    """Change an operator's password; the sessions they have open end."""
    password = _read_password(email, password_stdin)
    _run(lambda session: set_password(session, email, password, _actor(), _now()))
    click.echo(f"password of {email.strip().lower()} changed")
