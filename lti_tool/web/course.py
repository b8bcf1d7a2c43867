"""An instructor's course pages: link the course to the programme, bind its columns, sync, deep linking.

Every page needs a launch from the course (its context) by an instructor or administrator, and
works on that launch's course and platform only: ids in forms are checked against them.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from ..db import get_session
from ..db.programmes import CohortRecord
from ..db.queries import to_platform_registration
from ..db.tenancy import Deployment, LmsUser, Registration
from ..extensions import services
from ..lti.deep_linking import ContentChoice, DeepLinkingSettingsInvalid, check_settings, response_jwt
from ..lti.launch import DEEP_LINKING_REQUEST
from ..lti.roles import Audience
from ..services import course_links
from ..services.course_links import FULL_PROGRAMME, SINGLE_MODULE, CourseLinkError
from ..services.launches import LaunchSession, load_launch_session
from ..services.sync import LearnerScope
from . import csp
from .i18n import localised
from .launch_access import requires_launch
from .sync_jobs import submit_due_jobs, sync_after_request

log = logging.getLogger(__name__)
bp = Blueprint("course", __name__, url_prefix="/course")
TEACHING = (Audience.INSTRUCTOR, Audience.ADMINISTRATOR)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _course_launch() -> LaunchSession:
    launch = g.launch
    if launch.context_id is None:
        abort(400, description=_l("This page needs a launch from a course."))
    return launch


def remember_services(launch: LaunchSession) -> None:
    """The course's AGS/NRPS endpoints from the launch, for syncs outside it."""
    platform = launch.services.get("tool_platform") or {}
    course_links.remember_context_services(get_session(), launch.context_id, launch.services,
                                           platform.get("product_family_code"), _now())


# --- linking -----------------------------------------------------------------------------------------------
class LinkCourseForm(FlaskForm):
    cohort = SelectField(_l("Programme and cohort"), coerce=int, validators=[InputRequired()])
    kind = RadioField(_l("This course is"), default=FULL_PROGRAMME, validators=[InputRequired()],
                      choices=[SelectChoice(FULL_PROGRAMME,
                                            _l("a full-programme course: its learners take the whole programme")),
                               SelectChoice(SINGLE_MODULE,
                                            _l("a single-module course: its learners take one module only"))])
    module = SelectField(_l("Module (for a single-module course)"), validate_choice=False)
    submit = SubmitField(_l("Link the course"))


@bp.route("/link", methods=["GET", "POST"])
@requires_launch(*TEACHING)
def link():
    launch = _course_launch()
    session = get_session()
    choices = course_links.cohort_choices(session, launch.registration_id)
    form = LinkCourseForm()
    form.cohort.choices = [SelectChoice(c.cohort_id,
                                        f"{localised(c.programme_name_sv, c.programme_name_en)} – {c.cohort_name}")
                           for c in choices]
    modules = {}
    for choice in choices:
        for key, name_sv, name_en in choice.modules:
            modules.setdefault(key, f"{key} – {localised(name_sv, name_en)}")
    form.module.choices = [SelectChoice("", "–")] + [SelectChoice(k, label) for k, label in sorted(modules.items())]
    current = course_links.course_link_of(session, launch.context_id)
    if request.method == "GET" and current is not None:
        form.cohort.data, form.kind.data, form.module.data = current.cohort_id, current.kind, current.module_key or ""
    error = None
    if form.validate_on_submit():
        try:
            course_links.link_course(session, registration_id=launch.registration_id, context_id=launch.context_id,
                                     cohort_id=form.cohort.data, kind=form.kind.data,
                                     module_key=form.module.data or None, linked_by=launch.lms_user_id, now=_now())
            remember_services(launch)
        except CourseLinkError as exc:
            error = _link_error(exc)
        else:
            target = "course.deep_link" if request.args.get("next") == "deep-link" else "home.index"
            return redirect(url_for(target, launch=launch.launch_id, notice="linked"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("course/link.html", launch=launch, form=form, has_choices=bool(choices), error=error,
                           current=current), status


def _link_error(exc: CourseLinkError) -> str:
    text = str(exc)
    if text.startswith("module_key"):
        return str(_l("Choose a module of the cohort's programme for a single-module course."))
    if text.startswith("cohort"):
        return str(_l("Choose one of the cohorts listed."))
    return str(_l("The course could not be linked."))


# --- binding columns ------------------------------------------------------------------------------------------
class CsrfOnlyForm(FlaskForm):
    pass


@bp.route("/line-items", methods=["GET", "POST"])
@requires_launch(*TEACHING)
def line_items():
    launch = _course_launch()
    session = get_session()
    current = course_links.course_link_of(session, launch.context_id)
    if current is None:
        return redirect(url_for("course.link", launch=launch.launch_id), code=303)
    module_keys = course_links.programme_module_keys(session, current)
    items = course_links.line_items_of(session, launch.context_id)
    form = CsrfOnlyForm()
    error = None
    if form.validate_on_submit():
        try:
            for item in items:
                field = f"binding-{item.id}"
                if field in request.form:
                    course_links.bind_line_item(session, context_id=launch.context_id, line_item_id=item.id,
                                                binding=course_links.parse_binding(request.form[field], module_keys),
                                                now=_now())
        except CourseLinkError:
            session.rollback()
            error = str(_l("One of the chosen bindings is not a module of the programme, the final exam or "
                           "the Certification column."))
        else:
            return redirect(url_for("course.line_items", launch=launch.launch_id, notice="saved"), code=303)
    options = [("", _l("not used"))] + [(f"module:{key}", key) for key in sorted(module_keys)] + [
        ("final-exam", _l("final exam")), ("final-exam:2", _l("final exam, attempt 2")),
        ("final-exam:3", _l("final exam, attempt 3")), ("certification", _l("the tool's Certification column"))]
    bindings = {item.id: course_links.Binding(item.binding, item.module_key, item.exam_attempt).label for item in items}
    status = 400 if request.method == "POST" else 200
    return render_template("course/line_items.html", launch=launch, form=form, items=items, options=options,
                           bindings=bindings, error=error, notice=request.args.get("notice")), status


# --- sync now -----------------------------------------------------------------------------------------------
@bp.post("/sync")
@requires_launch(*TEACHING)
def sync_now():
    launch = _course_launch()
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    if course_links.course_link_of(get_session(), launch.context_id) is None:
        return redirect(url_for("course.link", launch=launch.launch_id), code=303)
    remember_services(launch)
    sync_after_request(launch.context_id, trigger="manual")
    # Back where the button was pressed: the landing page's course panel or the cohort dashboard.
    back = "instructor.dashboard" if request.form.get("next") == "dashboard" else "home.index"
    return redirect(url_for(back, launch=launch.launch_id, notice="sync-started"), code=303)


@bp.get("/runs")
@requires_launch(*TEACHING)
def runs():
    """The course's latest syncs: when, what started them, what they found and wrote, what failed."""
    launch = _course_launch()
    return render_template("course/runs.html", launch=launch,
                           runs=course_links.recent_runs(get_session(), launch.context_id))


# --- the instructor's panel on the landing page, and the stale-sync trigger -----------------------------------
@bp.app_template_global()
def course_panel(launch: LaunchSession):
    """What the landing page shows an instructor about the course's link and syncs (None: not a course)."""
    if launch.context_id is None or launch.audience not in {a.value for a in TEACHING}:
        return None
    return _summary(launch.context_id)


def _summary(context_id: int) -> course_links.CourseSummary:
    """Once per request: the stale-sync check and the panel read the same summary."""
    if g.get("course_summary") is None or g.course_summary.context_id != context_id:
        g.course_summary = course_links.course_summary(get_session(), context_id)
    return g.course_summary


@bp.before_app_request
def _sync_stale_course_for_instructors() -> None:
    """An instructor's landing page starts a sync when the last one is older than LTI_TOOL_SYNC_MAX_AGE."""
    if request.endpoint != "home.index":
        return
    launch = load_launch_session(services().store, request.args.get("launch", ""))
    if launch is None or launch.context_id is None or launch.audience not in {a.value for a in TEACHING}:
        return
    if course_links.is_sync_due(_summary(launch.context_id), _now(), services().settings.SYNC_MAX_AGE):
        remember_services(launch)
        sync_after_request(launch.context_id, trigger="dashboard")


bp.teardown_app_request(submit_due_jobs)


# --- after a launch --------------------------------------------------------------------------------------------
def landing_url(launch: LaunchSession) -> str:
    """Deep-linking launches go to the content picker; every other launch to its landing page."""
    if launch.message_type == DEEP_LINKING_REQUEST:
        return url_for("course.deep_link", launch=launch.launch_id)
    return url_for("home.index", launch=launch.launch_id)


def after_launch(launch: LaunchSession, is_course_linked: bool | None = None) -> None:
    """A learner's launch in a linked course syncs that learner's grades, after the response.

    `is_course_linked`: when the launch already read it (record_launch does), no query.
    """
    if launch.context_id is None or launch.audience != Audience.LEARNER.value:
        return
    if is_course_linked is None:
        is_course_linked = course_links.course_link_of(get_session(), launch.context_id) is not None
    if not is_course_linked:
        return
    remember_services(launch)
    learner = LearnerScope(launch.lms_user_id, _sub_of(launch), tuple(launch.roles))
    sync_after_request(launch.context_id, trigger="launch", learner=learner)


def _sub_of(launch: LaunchSession) -> str:
    return get_session().scalar(select(LmsUser.id_on_platform).where(LmsUser.id == launch.lms_user_id))


# --- deep linking ---------------------------------------------------------------------------------------------
class DeepLinkForm(FlaskForm):
    submit = SubmitField(_l("Add to the course"))


@bp.route("/deep-link", methods=["GET", "POST"])
@requires_launch(*TEACHING)
def deep_link():
    launch = _course_launch()
    if launch.message_type != DEEP_LINKING_REQUEST:
        abort(400, description=_l("This page opens from the LMS's \"add content\" (deep linking) only."))
    try:
        settings = check_settings(launch.services.get("deep_linking"))
    except DeepLinkingSettingsInvalid:
        abort(400, description=_l("The LMS did not say where to return the chosen content."))
    session = get_session()
    current = course_links.course_link_of(session, launch.context_id)
    if current is None:
        return redirect(url_for("course.link", launch=launch.launch_id, next="deep-link"), code=303)
    choices = _content_choices(session, current)
    form = DeepLinkForm()
    if form.validate_on_submit():
        chosen = [choices[key] for key in request.form.getlist("item") if key in choices]
        if not chosen:
            return render_template("course/deep_link.html", launch=launch, form=form, choices=choices,
                                   error=_l("Choose at least one module or the final exam.")), 400
        registration = to_platform_registration(session.get(Registration, launch.registration_id))
        deployment = session.get(Deployment, launch.deployment_id)
        try:
            token = response_jwt(registration, services().tool_keys, deployment.id_on_platform, settings, chosen,
                                 services().settings.BASE_URL.rstrip("/") + "/lti/launch")
        except DeepLinkingSettingsInvalid:
            return render_template("course/deep_link.html", launch=launch, form=form, choices=choices,
                                   error=_l("The LMS accepts one item at a time here.")), 400
        log.info("deep linking response for course %s: %s", launch.context_id, [c.resource_id for c in chosen])
        csp.allow_form_posts_to(settings["deep_link_return_url"])
        return render_template("course/deep_link_return.html", action=settings["deep_link_return_url"], jwt=token)
    return render_template("course/deep_link.html", launch=launch, form=form, choices=choices, error=None)


def _content_choices(session, current) -> dict[str, ContentChoice]:
    version = session.get(CohortRecord, current.cohort_id).programme_version
    choices = {}
    for module in version.modules:
        if current.kind == SINGLE_MODULE and module.key != current.module_key:
            continue
        choices[f"module:{module.key}"] = ContentChoice(
            title=localised(module.name_sv, module.name_en), resource_id=f"module:{module.key}", tag="module",
            score_maximum=Decimal(100), custom={"module": module.key})
    if current.kind == FULL_PROGRAMME:
        choices["final-exam"] = ContentChoice(title=str(_l("Final exam")), resource_id="final-exam", tag="final-exam",
                                              score_maximum=Decimal(100), custom={"exam": "final"})
    return choices
