"""`lti-tool certificates …`: issue what results support, revoke and re-issue, for operators."""
from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .cli import _now, _require_platform, settings, unit_of_work
from .db.programmes import CohortRecord
from .lti.roles import Audience
from .services import certificates as service


@click.group("certificates", help="Certificates: issue from current results, revoke, re-issue, list.")
def certificates_group() -> None:
    pass


def _issuer() -> service.CredentialIssuer:
    return service.CredentialIssuer.from_settings(settings(), current_app.extensions["lti_services"].tool_keys)


def _operator(by: str | None) -> str:
    return by or f"{getpass.getuser()} (command line)"


def _cohorts(session, registration_id: int, cohort_key: str | None) -> list[CohortRecord]:
    statement = select(CohortRecord).where(CohortRecord.registration_id == registration_id)
    if cohort_key is not None:
        statement = statement.where(CohortRecord.key == cohort_key)
    cohorts = list(session.scalars(statement.order_by(CohortRecord.starts_on, CohortRecord.id)))
    if cohort_key is not None and not cohorts:
        raise click.ClickException(f"no cohort {cohort_key!r} for platform {registration_id}")
    return cohorts


@certificates_group.command("issue")
@click.option("--platform", "registration_id", type=int, required=True,
              help="Registration id (lti-tool platform list).")
@click.option("--cohort", "cohort_key", default=None, help="Cohort key; every cohort of the platform when left out.")
@with_appcontext
def certificates_issue(registration_id: int, cohort_key: str | None) -> None:
    """Recompute statuses and issue every certificate and intyg the results support."""
    with unit_of_work() as session:
        _require_platform(session, registration_id)
        for cohort in _cohorts(session, registration_id, cohort_key):
            outcome = service.issue_due_certificates(session, registration_id, cohort.id, _now(), _issuer())
            click.echo(f"cohort {cohort.key}: issued {len(outcome.issued)}, "
                       f"waiting for a name {len(outcome.waiting_for_name)}, "
                       f"flagged for review {len(outcome.flagged_for_review)}")
            for code in outcome.issued:
                click.echo(f"  issued {code}")
            for code in outcome.flagged_for_review:
                click.echo(f"  review {code}: the results no longer support it")


@certificates_group.command("revoke")
@click.argument("code")
@click.option("--platform", "registration_id", type=int, required=True)
@click.option("--reason", required=True, help="Kept with the certificate; not shown publicly.")
@click.option("--by", default=None, help="Who decided (default: your user name).")
@with_appcontext
def certificates_revoke(code: str, registration_id: int, reason: str, by: str | None) -> None:
    with unit_of_work() as session:
        try:
            record = service.revoke_certificate(session, registration_id, code, reason=reason,
                                                revoked_by=_operator(by), now=_now())
        except (service.CertificateError, service.CertificateNotFound) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"revoked {record.code}")


@certificates_group.command("reissue")
@click.argument("code")
@click.option("--platform", "registration_id", type=int, required=True)
@click.option("--name", "participant_name", required=True, help="The corrected name.")
@click.option("--reason", default=None)
@click.option("--by", default=None, help="Who decided (default: your user name).")
@with_appcontext
def certificates_reissue(code: str, registration_id: int, participant_name: str, reason: str | None,
                         by: str | None) -> None:
    with unit_of_work() as session:
        try:
            record = service.reissue_certificate(session, registration_id, code, participant_name=participant_name,
                                                 reason=reason, reissued_by=_operator(by), now=_now(),
                                                 issuer=_issuer())
        except (service.CertificateError, service.CertificateNotFound) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"re-issued {record.code} as revision {record.revision} for {record.participant_name}")


@certificates_group.command("list")
@click.option("--platform", "registration_id", type=int, required=True)
@click.option("--cohort", "cohort_key", default=None)
@with_appcontext
def certificates_list(registration_id: int, cohort_key: str | None) -> None:
    with unit_of_work() as session:
        _require_platform(session, registration_id)
        viewer = service.Viewer(registration_id, 0, Audience.ADMINISTRATOR, None)
        for cohort in _cohorts(session, registration_id, cohort_key):
            for record in service.visible_certificates(session, viewer, cohort.id):
                state = "revoked" if record.revoked_at else ("review" if record.needs_review else "issued")
                what = "certification" if not record.module_key else f"module {record.module_key}"
                click.echo(f"{record.code}\t{cohort.key}\t{state}\t{what}\t{record.participant_name}")
