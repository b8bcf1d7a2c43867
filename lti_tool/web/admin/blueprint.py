"""The admin console's route table; the views live in sign_in, platform_views, programme_views and report_views."""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from ...services.admin import AdminForbidden, AdminNotFound
from ..money import money_text
from . import platform_views as platforms
from . import programme_views as programmes
from . import report_views as reports
from . import sign_in
from .access import console_page
from .programme_form import percent_text

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROUTES = (
    # rule, endpoint, view, methods
    ("/login", "login", sign_in.login, ("GET", "POST")),
    ("/logout", "logout", sign_in.logout, ("POST",)),
    ("/", "index", platforms.index, ("GET",)),
    ("/registrations/<int:registration_id>", "registration", platforms.registration, ("GET",)),
    ("/registrations/<int:registration_id>/activate", "activate_registration", platforms.activate_registration,
     ("POST",)),
    ("/registrations/<int:registration_id>/deactivate", "deactivate_registration",
     platforms.deactivate_registration, ("POST",)),
    ("/registrations/<int:registration_id>/deployments", "approve_deployment", platforms.approve_deployment,
     ("POST",)),
    ("/registrations/<int:registration_id>/deployments/<int:deployment_id>/activate", "activate_deployment",
     platforms.activate_deployment, ("POST",)),
    ("/registrations/<int:registration_id>/deployments/<int:deployment_id>/deactivate", "deactivate_deployment",
     platforms.deactivate_deployment, ("POST",)),
    ("/launches", "launches", platforms.launches, ("GET",)),
    ("/keys", "keys", platforms.keys, ("GET",)),
    ("/keys/rotate", "rotate_keys", platforms.rotate_keys, ("POST",)),
    ("/audit", "audit", platforms.audit, ("GET",)),
    ("/registrations/<int:registration_id>/programmes", "programmes", programmes.programmes, ("GET",)),
    ("/registrations/<int:registration_id>/programmes/upload", "upload_programme", programmes.upload_programme,
     ("GET", "POST")),
    ("/registrations/<int:registration_id>/programmes/<code>", "programme", programmes.programme, ("GET",)),
    ("/registrations/<int:registration_id>/programmes/<code>/edit", "edit_programme", programmes.edit_programme,
     ("GET", "POST")),
    ("/registrations/<int:registration_id>/programmes/<code>/export", "export_programme",
     programmes.export_programme, ("GET",)),
    ("/registrations/<int:registration_id>/reports", "reports", reports.reports, ("GET",)),
    ("/registrations/<int:registration_id>/reports/certification", "certification_report", reports.certification,
     ("GET",)),
    ("/registrations/<int:registration_id>/reports/module-only", "module_only_report", reports.module_only,
     ("GET",)),
    ("/registrations/<int:registration_id>/reports/fees", "fees_report", reports.fees, ("GET",)),
    ("/registrations/<int:registration_id>/reports/<any(certification, 'module-only', fees):report>"
     ".<any(csv, xlsx):format>", "export_report", reports.export, ("GET",)),
)
PUBLIC = {"login"}

for rule, endpoint, view, methods in ROUTES:
    bp.add_url_rule(rule, endpoint, view if endpoint in PUBLIC else console_page(view), methods=list(methods))


@bp.url_defaults
def keep_launch_and_language(endpoint: str, values: dict) -> None:
    """Every console link of an LMS administrator carries their launch id; a chosen language sticks."""
    user = g.get("console")
    if user is not None and user.launch_id and "launch" not in values:
        values["launch"] = user.launch_id
    language = request.args.get("lang") if request else None
    if language and "lang" not in values:
        values["lang"] = language


@bp.app_template_global("optional_url")
def optional_url(endpoint: str, **values) -> str | None:
    """A link to a page another part of the tool may serve (e.g. manual registration), or None."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@bp.app_template_filter("utc")
def utc(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


bp.add_app_template_filter(percent_text, "percent")
bp.add_app_template_filter(money_text, "money")


@bp.context_processor
def console_context() -> dict:
    def this_page(**changes) -> str:
        args = {**request.args.to_dict(), **(request.view_args or {}), **changes}
        return url_for(request.endpoint, **args)

    return {"console": g.get("console"), "this_page": this_page}


def _refused(code: int, message):
    g.db_failed = True  # nothing of a refused change is kept
    return render_template("error.html", code=code, message=message), code


@bp.errorhandler(AdminNotFound)
def not_found(_error: AdminNotFound):
    return _refused(404, _l("There is no such page."))


@bp.errorhandler(AdminForbidden)
def forbidden(_error: AdminForbidden):
    return _refused(403, _l("Only the tool's operators may do this."))
