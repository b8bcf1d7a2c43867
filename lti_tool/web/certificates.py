"""Certificates inside the course: a learner's own, staff's lists and downloads, administrators' changes."""
from __future__ import annotations

import contextlib
import io
import re
import unicodedata
import zipfile
from datetime import datetime, timezone
from typing import Iterator

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..credentials.pdf import render_certificate_pdf
from ..credentials.signing import MEDIA_TYPE
from ..db import get_session
from ..db.certificates import CertificateRecord
from ..domain.certificates import CertificateKind, verification_url
from ..domain.programme import LocalisedName
from ..extensions import services
from ..lti.roles import Audience
from ..services import certificates as service
from .i18n import SUPPORTED_LOCALES
from .launch_access import requires_launch

bp = Blueprint("certificates", __name__)
STAFF = (Audience.ADMINISTRATOR, Audience.INSTRUCTOR)
DONE = {"issued", "revoked", "reissued"}


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason for revoking"), validators=[DataRequired(), Length(max=2000)])


class ReissueForm(FlaskForm):
    name = StringField(_l("Corrected name"), validators=[DataRequired(), Length(max=service.MAX_NAME)])
    reason = StringField(_l("What was corrected (optional)"), validators=[Optional(), Length(max=2000)])


class IssueForm(FlaskForm):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _viewer() -> service.Viewer:
    launch = g.launch
    return service.Viewer(launch.registration_id, launch.lms_user_id,
                          Audience(launch.audience) if launch.audience else None, launch.context_id)


def _actor() -> str:
    launch = g.launch
    return launch.name or launch.email or f"LMS user {launch.lms_user_id}"


def _issuer() -> service.CredentialIssuer:
    return service.CredentialIssuer.from_settings(services().settings, services().tool_keys)


def _verify_url(code: str) -> str:
    return verification_url(services().settings.BASE_URL, code)


def _locale() -> str:
    chosen = request.args.get("lang")
    return chosen if chosen in SUPPORTED_LOCALES else str(get_locale() or "sv")


@bp.app_template_filter("localised")
def localised(name: LocalisedName) -> str:
    return name.sv if str(get_locale() or "sv") == "sv" else name.en


def _visible_or_404(code: str) -> CertificateRecord:
    record = service.visible_certificate(get_session(), _viewer(), code)
    if record is None:
        # Another person's certificate looks exactly like one that does not exist.
        abort(404, description=_l("There is no certificate with this code that you can see."))
    return record


@bp.get("/certificates")
@requires_launch()
def index():
    session, viewer = get_session(), _viewer()
    own = [(record, service.to_certificate(record)) for record in service.own_certificates(session, viewer)]
    cohorts = service.visible_cohorts(session, viewer) if viewer.is_staff else []
    cohort = None
    rows = []
    if cohorts:
        wanted = request.args.get("cohort", type=int)
        cohort = next((c for c in cohorts if c.id == wanted), cohorts[-1])
        rows = [(record, service.to_certificate(record))
                for record in service.visible_certificates(session, viewer, cohort.id)]
    return render_template("certificates/index.html", launch=g.launch, viewer=viewer, own=own, cohorts=cohorts,
                           cohort=cohort, rows=rows, now=_now(), issue_form=IssueForm(),
                           done=request.args.get("done") if request.args.get("done") in DONE else None,
                           issued=request.args.get("issued", type=int), waiting=request.args.get("waiting", type=int))


@bp.get("/certificates/<code>")
@requires_launch()
def show(code: str):
    record = _visible_or_404(code)
    return _detail(record)


def _detail(record: CertificateRecord, revoke_form: RevokeForm | None = None,
            reissue_form: ReissueForm | None = None, status: int = 200):
    viewer = _viewer()
    page = render_template(
        "certificates/show.html", launch=g.launch, viewer=viewer, record=record,
        certificate=service.to_certificate(record), verify_url=_verify_url(record.code), now=_now(),
        revoke_form=revoke_form or RevokeForm(formdata=None),
        reissue_form=reissue_form or ReissueForm(formdata=None, name=record.participant_name),
        done=request.args.get("done") if request.args.get("done") in DONE else None)
    return page, status


@bp.get("/certificates/<code>/pdf")
@requires_launch()
def pdf(code: str):
    record = _visible_or_404(code)
    locale = _locale()
    body = render_certificate_pdf(service.to_certificate(record), _verify_url(record.code), locale)
    return _download(body, "application/pdf", f"{_file_stem(record)}-{locale}.pdf")


@bp.get("/certificates/<code>/credential")
@requires_launch()
def credential(code: str):
    record = _visible_or_404(code)
    return _download(record.current_credential.token.encode("ascii"), MEDIA_TYPE, f"{_file_stem(record)}.jwt")


@bp.post("/certificates/<code>/revoke")
@requires_launch(Audience.ADMINISTRATOR)
def revoke(code: str):
    record = _visible_or_404(code)
    form = RevokeForm()
    if record.revoked_at is not None:
        abort(409, description=_l("This certificate is already revoked."))
    if not form.validate():
        return _detail(record, revoke_form=form, status=400)
    service.revoke_certificate(get_session(), record.registration_id, record.code, reason=form.reason.data,
                               revoked_by=_actor(), now=_now())
    return redirect(url_for(".show", code=record.code, launch=g.launch.launch_id, done="revoked"), 303)


@bp.post("/certificates/<code>/reissue")
@requires_launch(Audience.ADMINISTRATOR)
def reissue(code: str):
    record = _visible_or_404(code)
    form = ReissueForm()
    if record.revoked_at is not None:
        abort(409, description=_l("A revoked certificate cannot be re-issued."))
    if not form.validate():
        return _detail(record, reissue_form=form, status=400)
    with _one_at_a_time():
        service.reissue_certificate(get_session(), record.registration_id, record.code,
                                    participant_name=form.name.data, reason=form.reason.data, reissued_by=_actor(),
                                    now=_now(), issuer=_issuer())
    return redirect(url_for(".show", code=record.code, launch=g.launch.launch_id, done="reissued"), 303)


@contextlib.contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Two administrators (or a double click) changing the same certificates at once: the
    database's unique constraints let one win; the other gets a page saying so, not an error."""
    try:
        yield
    except IntegrityError:
        get_session().rollback()
        abort(409, description=_l("Someone else changed these certificates at the same moment. "
                                  "Reload the page and check again."))


def _visible_cohort_or_404(cohort_id: int):
    cohort = next((c for c in service.visible_cohorts(get_session(), _viewer()) if c.id == cohort_id), None)
    if cohort is None:
        abort(404, description=_l("There is no such cohort that you can see."))
    return cohort


@bp.post("/certificates/cohorts/<int:cohort_id>/issue")
@requires_launch(Audience.ADMINISTRATOR)
def issue(cohort_id: int):
    """Runs the server's decision on the cohort's current results; the button chooses nothing."""
    cohort = _visible_cohort_or_404(cohort_id)
    if not IssueForm().validate():
        abort(400)
    with _one_at_a_time():
        outcome = service.issue_due_certificates(get_session(), cohort.registration_id, cohort.id, _now(), _issuer())
    return redirect(url_for(".index", launch=g.launch.launch_id, cohort=cohort.id, done="issued",
                            issued=len(outcome.issued), waiting=len(outcome.waiting_for_name)), 303)


@bp.get("/certificates/cohorts/<int:cohort_id>/certificates.zip")
@requires_launch(*STAFF)
def cohort_zip(cohort_id: int):
    """Every PDF of a cohort the viewer may see, optionally of one kind (about 16 ms a PDF)."""
    cohort = _visible_cohort_or_404(cohort_id)
    locale = _locale()
    kind = request.args.get("kind") or None
    if kind not in (None, *(k.value for k in CertificateKind)):
        abort(400, description=_l("Choose certificates, intyg or both."))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in service.visible_certificates(get_session(), _viewer(), cohort.id):
            if kind is not None and record.kind != kind:
                continue
            pdf_bytes = render_certificate_pdf(service.to_certificate(record), _verify_url(record.code), locale)
            archive.writestr(f"{_file_stem(record)}-{locale}.pdf", pdf_bytes)
    what = {None: "certificates", "certification": "certifications", "module": "intyg"}[kind]
    return _download(buffer.getvalue(), "application/zip", f"{what}-{_slug(cohort.key)}-{locale}.zip")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _file_stem(record: CertificateRecord) -> str:
    what = "certification" if not record.module_key else f"module-{record.module_key}"
    return f"{_slug(record.participant_name)}-{_slug(what)}-{record.code}"


def _slug(text: str) -> str:
    """ASCII for file names in a zip any system can open: Åsa Öberg -> asa-oberg."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"
