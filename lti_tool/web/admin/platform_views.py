"""Console pages about the LMSes: registrations, deployments, launches, the tool's keys, service health, audit."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...db import get_session
from ...extensions import services
from ...lti.errors import RejectionReason
from ...services import admin as console
from ..errors import REASON_TEXT
from .access import current_user
from .forms import ActionForm, ApproveDeploymentForm

DEPLOYMENT_INACTIVE_TEXT = _l("The deployment waits for an administrator's approval, or was deactivated.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def reason_text(code: str | None) -> str:
    if not code:
        return ""
    if code == "deployment_inactive":
        return str(DEPLOYMENT_INACTIVE_TEXT)
    try:
        return str(REASON_TEXT[RejectionReason(code)])
    except (ValueError, KeyError):
        return code


def index():
    user = current_user()
    if not user.is_operator:
        return redirect(url_for("admin.registration", registration_id=user.actor.registration_id))
    db = get_session()
    return render_template("admin/index.html", registrations=console.visible_registrations(db, user.actor),
                           waiting=console.waiting_deployment_counts(db, user.actor),
                           unhealthy=console.unhealthy_registration_ids(db, user.actor))


def registration(registration_id: int):
    return _registration_page(registration_id, ApproveDeploymentForm(formdata=None))


def _registration_page(registration_id: int, approve_form: ApproveDeploymentForm, status: int = 200):
    user = current_user()
    db = get_session()
    found = console.registration_for(db, user.actor, registration_id)
    return render_template(
        "admin/registration.html", registration=found, action_form=ActionForm(), approve_form=approve_form,
        deployments=console.deployments_of(db, user.actor, registration_id),
        health=console.service_health_of(db, user.actor, registration_id),
        programmes=console.programmes_of(db, user.actor, registration_id)), status


def _back_to(registration_id: int):
    return redirect(url_for("admin.registration", registration_id=registration_id))


def activate_registration(registration_id: int):
    console.set_registration_active(get_session(), current_user().actor, registration_id, True, _now())
    flash(_("The LMS is switched on: its launches are accepted again."), "ok")
    return _back_to(registration_id)


def deactivate_registration(registration_id: int):
    console.set_registration_active(get_session(), current_user().actor, registration_id, False, _now())
    flash(_("The LMS is switched off: its launches are refused until it is switched on again."), "ok")
    return _back_to(registration_id)


def activate_deployment(registration_id: int, deployment_id: int):
    deployment = console.set_deployment_active(get_session(), current_user().actor, registration_id, deployment_id,
                                               True, _now())
    flash(_("Deployment %(id)s is active: launches from it are accepted.", id=deployment.id_on_platform), "ok")
    return _back_to(registration_id)


def deactivate_deployment(registration_id: int, deployment_id: int):
    deployment = console.set_deployment_active(get_session(), current_user().actor, registration_id, deployment_id,
                                               False, _now())
    flash(_("Deployment %(id)s is inactive: launches from it are refused.", id=deployment.id_on_platform), "ok")
    return _back_to(registration_id)


def approve_deployment(registration_id: int):
    form = ApproveDeploymentForm()
    if not form.validate_on_submit() or not form.deployment_id.data.strip():
        if not form.deployment_id.errors:
            form.deployment_id.errors = [_("Required.")]
        return _registration_page(registration_id, form, 422)
    deployment = console.approve_deployment_id(get_session(), current_user().actor, registration_id,
                                               form.deployment_id.data, _now())
    flash(_("Deployment %(id)s is active: launches from it are accepted.", id=deployment.id_on_platform), "ok")
    return _back_to(registration_id)


def launches():
    user = current_user()
    db = get_session()
    outcome = request.args.get("outcome", "all")
    if outcome not in console.OUTCOMES:
        outcome = "all"
    registration_id = request.args.get("registration", type=int) if user.is_operator else None
    page = console.launch_log_page(db, user.actor, registration_id=registration_id, outcome=outcome,
                                   number=request.args.get("page", 1, type=int))
    return render_template("admin/launches.html", page=page, outcome=outcome, registration_id=registration_id,
                           names=console.registration_names(db, user.actor), reason_text=reason_text)


def keys():
    return render_template("admin/keys.html", keys=console.key_statuses(services().tool_keys, _now()),
                           grace_days=services().settings.KEY_GRACE_DAYS, action_form=ActionForm())


def rotate_keys():
    kid = console.rotate_tool_key(get_session(), current_user().actor, services().tool_keys, _now())
    flash(_("New signing key %(kid)s. The previous key stays published for the grace period.", kid=kid), "ok")
    return redirect(url_for("admin.keys"))


def audit():
    user = current_user()
    db = get_session()
    page = console.audit_page(db, user.actor, request.args.get("page", 1, type=int))
    return render_template("admin/audit.html", page=page, names=console.registration_names(db, user.actor))
