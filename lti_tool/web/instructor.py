"""The instructor's cohort dashboard, a participant's grade history, and the cohort exports."""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..db import get_session
from ..db.programmes import EnrolmentRecord, ResultEventRecord
from ..db.tenancy import LmsUser
from ..lti.roles import Audience
from ..services import course_links
from ..services.dashboard import NOT_COMPUTED, SORTS, DashboardQuery, cohort_dashboard
from ..services.exports import csv_stream, export_rows, header, xlsx_bytes
from .chart import completion_chart
from .i18n import localised
from .launch_access import requires_launch
from .reason_text import reason_text

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
TEACHING = (Audience.INSTRUCTOR, Audience.ADMINISTRATOR)
FILTER_KEYS = ("q", "state", "kind", "sort", "order", "region", "lang")
STATES = ("in_progress", "awaiting_exam", "exam_failed", "certified", "expired", "revoked", "not_eligible",
          NOT_COMPUTED)


def _course_cohort_id() -> int | None:
    """The cohort of the course this launch came from: an instructor sees only their own course."""
    launch = g.launch
    if launch.context_id is None:
        abort(400, description=_("This page needs a launch from a course."))
    link = course_links.course_link_of(get_session(), launch.context_id)
    return None if link is None else link.cohort_id


def _query(cohort_id: int, **overrides) -> DashboardQuery:
    args = request.args
    sort = args.get("sort", "name")
    values = dict(
        cohort_id=cohort_id, region_key=args.get("region") or None,
        kind=args.get("kind") if args.get("kind") in ("full_programme", "module_only") else None,
        state=args.get("state") if args.get("state") in STATES else None, search=args.get("q") or None,
        sort=sort if sort in SORTS else "name", is_descending=args.get("order") == "desc",
        page=args.get("page", 1, type=int) or 1)
    values.update(overrides)
    return DashboardQuery(**values)


@bp.get("/dashboard")
@requires_launch(*TEACHING)
def dashboard():
    cohort_id = _course_cohort_id()
    if cohort_id is None:
        return redirect(url_for("course.link", launch=g.launch.launch_id))
    board = cohort_dashboard(get_session(), g.launch.registration_id, _query(cohort_id))
    names = {m.key: localised(m.name_sv, m.name_en) for m in board.modules}
    chart = completion_chart(_("Completed per module"),
                             [(m.key, names[m.key], m.completed, m.participants) for m in board.modules])
    reasons = {row.enrolment_id: [reason_text(r, names) for r in row.reasons] for row in board.rows}
    return render_template("instructor/dashboard.html", board=board, names=names, chart=chart, reasons=reasons,
                           states=STATES, launch=g.launch, args=request.args, filters=_filters())


def _filters() -> dict[str, str]:
    """The filter part of the query string, carried into links, exports and the next page."""
    return {key: value for key, value in request.args.items() if key in FILTER_KEYS and value}


@bp.get("/participants/<int:enrolment_id>")
@requires_launch(*TEACHING)
def participant(enrolment_id: int):
    cohort_id = _course_cohort_id()
    session = get_session()
    found = session.execute(
        select(EnrolmentRecord, LmsUser).join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
        .where(EnrolmentRecord.id == enrolment_id, EnrolmentRecord.cohort_id == cohort_id,
               EnrolmentRecord.registration_id == g.launch.registration_id)).first()
    if found is None:
        abort(404)
    enrolment, user = found
    history = session.scalars(select(ResultEventRecord).where(ResultEventRecord.enrolment_id == enrolment_id)
                              .order_by(ResultEventRecord.seen_at.desc(), ResultEventRecord.id.desc())).all()
    return render_template("instructor/participant.html", enrolment=enrolment, user=user, history=history,
                           launch=g.launch)


@bp.get("/export.<any(csv, xlsx):format>")
@requires_launch(*TEACHING)
def export(format: str):
    cohort_id = _course_cohort_id()
    if cohort_id is None:
        abort(404)
    session = get_session()
    board = cohort_dashboard(session, g.launch.registration_id, _query(cohort_id, page=1))
    names = {m.key: localised(m.name_sv, m.name_en) for m in board.modules}
    keys = [m.key for m in board.modules]
    # Read everything inside the request's transaction: a generator streaming after the view
    # would run its queries on a session nobody commits.
    rows = list(export_rows(session, g.launch.registration_id, _query(cohort_id), board.cohort.name, keys,
                            lambda reason: reason_text(reason, names)))
    filename = f"cohort-{board.cohort.key}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return Response(csv_stream(header(keys), rows), headers=disposition, mimetype="text/csv")
    return Response(xlsx_bytes(header(keys), rows, board.cohort.name), headers=disposition,
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
