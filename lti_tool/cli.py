"""The `lti-tool` command line, built on Flask's CLI (so `flask --app lti_tool …` works too)."""
from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import Iterator

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from .services import platforms as platform_service


def _now() -> datetime:
    return datetime.now(timezone.utc)


@contextlib.contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per command: committed when the command succeeds."""
    session: Session = current_app.extensions["db_sessionmaker"]()
    try:
        yield session
        session.commit()
    except platform_service.PlatformError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        session.rollback()
        raise click.ClickException(f"database error (did you run `lti-tool db upgrade`?): {exc.orig}") from exc
    except SQLAlchemyError as exc:
        session.rollback()
        raise click.ClickException(f"database error: {exc}") from exc
    finally:
        session.close()


def settings():
    return current_app.config["LTI_SETTINGS"]


# --- db -------------------------------------------------------------------------------------
@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision: str) -> None:
    from .db.migrate import upgrade

    upgrade(settings().DATABASE_URL, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    from .db.migrate import downgrade

    downgrade(settings().DATABASE_URL, revision)
    click.echo(f"database at {revision}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    from alembic import command

    from .db.migrate import alembic_config

    command.revision(alembic_config(settings().DATABASE_URL), message=message, autogenerate=True)


# --- platform -------------------------------------------------------------------------------
@click.group("platform", help="LMS registrations (issuer + client_id).")
def platform_group() -> None:
    pass


def _describe(registration) -> dict:
    return {
        "id": registration.id, "name": registration.name, "issuer": registration.issuer,
        "client_id": registration.client_id, "is_active": registration.is_active,
        "auth_login_url": registration.auth_login_url, "auth_token_url": registration.auth_token_url,
        "key_set_url": registration.key_set_url, "auth_audience": registration.auth_audience,
        "created_at": registration.created_at.isoformat() if registration.created_at else None,
        "registered_via": registration.registered_via, "product_family_code": registration.product_family_code,
        "granted_scopes": registration.granted_scopes,
        "is_first_deployment_preapproved": registration.is_first_deployment_preapproved,
        "deployments": [{"id_on_platform": d.id_on_platform, "is_active": d.is_active}
                        for d in registration.deployments],
    }


@platform_group.command("add")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True)
@click.option("--auth-login-url", required=True)
@click.option("--auth-token-url", required=True)
@click.option("--key-set-url", required=True)
@click.option("--auth-audience", default=None)
@click.option("--name", default=None)
@with_appcontext
def platform_add(issuer, client_id, deployment_ids, auth_login_url, auth_token_url, key_set_url,
                 auth_audience, name) -> None:
    new = platform_service.NewPlatform(
        issuer=issuer, client_id=client_id, auth_login_url=auth_login_url, auth_token_url=auth_token_url,
        key_set_url=key_set_url, deployment_ids=tuple(deployment_ids), name=name, auth_audience=auth_audience)
    with unit_of_work() as session:
        registration = platform_service.add_platform(session, new, _now())
        click.echo(f"registered platform {registration.id}: {issuer} (client_id {client_id})")


@platform_group.command("list")
@with_appcontext
def platform_list() -> None:
    with unit_of_work() as session:
        rows = platform_service.list_registrations(session)
        if not rows:
            click.echo("no platforms registered")
        for r in rows:
            state = "active" if r.is_active else "inactive"
            click.echo(f"{r.id}\t{state}\t{r.issuer}\t{r.client_id}\t{len(r.deployments)} deployment(s)\t{r.name}")


@platform_group.command("show")
@click.argument("registration_id", type=int)
@with_appcontext
def platform_show(registration_id: int) -> None:
    with unit_of_work() as session:
        click.echo(json.dumps(_describe(platform_service.get_registration(session, registration_id)), indent=2))


@platform_group.command("remove")
@click.argument("registration_id", type=int)
@with_appcontext
def platform_remove(registration_id: int) -> None:
    with unit_of_work() as session:
        platform_service.remove_registration(session, registration_id)
        click.echo(f"removed platform {registration_id}")


@platform_group.command("activate")
@click.argument("registration_id", type=int)
@with_appcontext
def platform_activate(registration_id: int) -> None:
    with unit_of_work() as session:
        platform_service.set_registration_active(session, registration_id, True)
        click.echo(f"platform {registration_id} active")


@platform_group.command("deactivate")
@click.argument("registration_id", type=int)
@with_appcontext
def platform_deactivate(registration_id: int) -> None:
    with unit_of_work() as session:
        platform_service.set_registration_active(session, registration_id, False)
        click.echo(f"platform {registration_id} inactive")


# --- deployment -----------------------------------------------------------------------------
@click.group("deployment", help="Approve or block a platform's deployments.")
def deployment_group() -> None:
    pass


@deployment_group.command("activate")
@click.argument("registration_id", type=int)
@click.argument("deployment_id")
@with_appcontext
def deployment_activate(registration_id: int, deployment_id: str) -> None:
    with unit_of_work() as session:
        platform_service.set_deployment_active(session, registration_id, deployment_id, True, _now())
        click.echo(f"deployment {deployment_id} of platform {registration_id} active")


@deployment_group.command("deactivate")
@click.argument("registration_id", type=int)
@click.argument("deployment_id")
@with_appcontext
def deployment_deactivate(registration_id: int, deployment_id: str) -> None:
    with unit_of_work() as session:
        platform_service.set_deployment_active(session, registration_id, deployment_id, False, _now())
        click.echo(f"deployment {deployment_id} of platform {registration_id} inactive")


# --- keys -----------------------------------------------------------------------------------
@click.group("keys", help="The tool's signing keys.")
def keys_group() -> None:
    pass


def _key_ring():
    return current_app.extensions["lti_services"].tool_keys


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    statuses = _key_ring().statuses(_now())
    if not statuses:
        click.echo("no keys yet: run `lti-tool keys rotate`")
    for status in statuses:
        click.echo(f"{status.kid}\t{status.created_at.isoformat()}\t{status.role}")


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    key = _key_ring().rotate(_now())
    click.echo(f"new signing key {key.kid}")


@keys_group.command("ensure")
@with_appcontext
def keys_ensure() -> None:
    key = _key_ring().ensure_key(_now())
    click.echo(f"signing key {key.kid}")


# --- programme ------------------------------------------------------------------------------
@click.group("programme", help="The certification programme's configuration (a TOML file).")
def programme_group() -> None:
    pass


def _require_platform(session: Session, registration_id: int) -> None:
    platform_service.get_registration(session, registration_id)


@programme_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--platform", "registration_id", type=int, required=True, help="Registration id (lti-tool platform list).")
@with_appcontext
def programme_import(file: str, registration_id: int) -> None:
    from .services.programme_file import InvalidProgrammeFile, parse_programme_file
    from .services.programmes import import_programme

    try:
        with open(file, encoding="utf-8") as handle:
            document = parse_programme_file(handle.read())
    except InvalidProgrammeFile as exc:
        raise click.ClickException(f"{file} is not a valid programme:\n  " + "\n  ".join(exc.problems)) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text") from exc
    with unit_of_work() as session:
        _require_platform(session, registration_id)
        outcome = import_programme(session, registration_id, document, _now())
    state = "saved as a new version" if outcome.is_new_version else "unchanged"
    click.echo(f"programme {outcome.code} version {outcome.version} ({state}); "
               f"new cohorts: {', '.join(outcome.cohorts_added) or 'none'}")


@programme_group.command("export")
@click.argument("code")
@click.option("--platform", "registration_id", type=int, required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@with_appcontext
def programme_export(code: str, registration_id: int, output: str | None) -> None:
    from .services.programme_file import format_programme_file
    from .services.programmes import ProgrammeNotFound, export_document

    with unit_of_work() as session:
        try:
            text = format_programme_file(export_document(session, registration_id, code))
        except ProgrammeNotFound as exc:
            raise click.ClickException(str(exc)) from exc
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@programme_group.command("list")
@click.option("--platform", "registration_id", type=int, required=True)
@with_appcontext
def programme_list(registration_id: int) -> None:
    from .services.programmes import list_programmes

    with unit_of_work() as session:
        _require_platform(session, registration_id)
        rows = list_programmes(session, registration_id)
    if not rows:
        click.echo("no programmes: import one with `lti-tool programme import FILE --platform ID`")
    for code, version, cohorts in rows:
        click.echo(f"{code}\tversion {version}\t{cohorts} cohort(s)")


# --- demo -----------------------------------------------------------------------------------
@click.command("demo-setup", help="Register the built-in demo platform (needs LTI_TOOL_DEMO=1).")
@with_appcontext
def demo_setup() -> None:
    if not settings().DEMO:
        raise click.ClickException("the demo platform is off: set LTI_TOOL_DEMO=1")
    from .demo import seed

    from .config import REPO_ROOT
    from .services.programme_file import parse_programme_file
    from .services.programmes import import_programme

    with unit_of_work() as session:
        registration_id = seed.ensure_demo_registration(session, settings(), _now())
        example = REPO_ROOT / "examples" / "fei-programme.toml"
        if example.exists():  # the example programme, so the demo has something to show
            import_programme(session, registration_id, parse_programme_file(example.read_text("utf-8")), _now())
    base = settings().BASE_URL.rstrip("/")
    click.echo(f"demo platform registered (id {registration_id}) with the example programme")
    click.echo(f"  OIDC login URL:       {base}/lti/login")
    click.echo(f"  Launch/redirect URL:  {base}/lti/launch")
    click.echo(f"  JWKS (public keys):   {base}/lti/jwks")
    click.echo(f"  Try it:               {base}/demo")


def register_commands(app: Flask) -> None:
    for command in (db_group, platform_group, deployment_group, keys_group, programme_group, demo_setup):
        app.cli.add_command(command)
    from .cli_admin import admin_group

    app.cli.add_command(admin_group)
    from .cli_certificates import certificates_group

    app.cli.add_command(certificates_group)
    from .cli_sync import COMMANDS as sync_commands  # sync, sync-status, outbox (issue 5)

    for command in sync_commands:
        app.cli.add_command(command)


def _make_app() -> Flask:
    from . import create_app
    from .config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


@click.group(cls=FlaskGroup, create_app=_make_app, add_version_option=False, load_dotenv=False,
             help="LTI 1.3 certification tool: serve, migrate, register platforms, manage keys.")
def main() -> None:
    pass
