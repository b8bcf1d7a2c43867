"""Console pages for a registration's programmes: list, view, edit with a form, upload and download the file."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ...db import get_session
from ...services import admin as console
from ...services.programme_file import InvalidProgrammeFile, format_programme_file, parse_programme_file
from .access import current_user
from .forms import ProgrammeForm, ProgrammeUploadForm
from .programme_form import form_data, read_form, show_problems, to_document, translate_problem

MAX_FILE_BYTES = 256 * 1024


def _now() -> datetime:
    return datetime.now(timezone.utc)


def programmes(registration_id: int):
    user = current_user()
    db = get_session()
    return render_template("admin/programmes.html",
                           registration=console.registration_for(db, user.actor, registration_id),
                           programmes=console.programmes_of(db, user.actor, registration_id))


def programme(registration_id: int, code: str):
    user = current_user()
    db = get_session()
    return render_template("admin/programme.html",
                           registration=console.registration_for(db, user.actor, registration_id),
                           detail=console.programme_detail(db, user.actor, registration_id, code))


def edit_programme(registration_id: int, code: str):
    user = current_user()
    db = get_session()
    registration = console.registration_for(db, user.actor, registration_id)
    current = console.programme_detail(db, user.actor, registration_id, code).document.programme
    form = ProgrammeForm(data=form_data(current))  # request data, when posted, takes precedence
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        if form.add_module.data:
            form.modules.append_entry()  # a new empty row; nothing is saved until Save
        else:
            reading = read_form(form, code, current.version)
            try:
                outcome = console.save_programme(db, user.actor, registration_id, to_document(reading), _now(),
                                                 based_on_version=_version(form.base_version.data))
            except InvalidProgrammeFile as invalid:
                general = show_problems(form, reading, invalid.problems)
                status = 422
            except console.ProgrammeChangedMeanwhile as changed:
                general = [_("Someone saved version %(version)s while you were editing. Nothing was saved: "
                             "open the programme again and redo your changes.", version=changed.latest)]
                status = 409
            except IntegrityError:
                general = [_saved_at_the_same_moment(db)]
                status = 409
            else:
                flash(_("Saved as version %(version)s. Cohorts that had started keep their version.",
                        version=outcome.version) if outcome.is_new_version else
                      _("Nothing changed: the programme is still version %(version)s.", version=outcome.version),
                      "ok")
                return redirect(url_for("admin.programme", registration_id=registration_id, code=code))
    elif form.is_submitted():
        status = 422
    return render_template("admin/programme_edit.html", registration=registration, code=code, form=form,
                           general=general, version=current.version, is_invalid=status != 200), status


def _saved_at_the_same_moment(db) -> str:
    # Two saves of one programme at once both numbered the same version; the database kept the first.
    db.rollback()
    return _("Someone saved this programme at the same moment. Nothing was saved: open it again and redo "
             "your changes.")


def _version(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def export_programme(registration_id: int, code: str):
    user = current_user()
    detail = console.programme_detail(get_session(), user.actor, registration_id, code)
    response = make_response(format_programme_file(detail.document))
    response.mimetype = "application/toml"
    response.charset = "utf-8"
    response.headers.set("Content-Disposition", "attachment", filename=f"{code}.toml")
    return response


def upload_programme(registration_id: int):
    user = current_user()
    db = get_session()
    registration = console.registration_for(db, user.actor, registration_id)
    form = ProgrammeUploadForm()
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        raw = form.file.data.stream.read(MAX_FILE_BYTES + 1)
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise InvalidProgrammeFile([f"file: larger than {MAX_FILE_BYTES // 1024} KiB"])
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InvalidProgrammeFile(["file: not UTF-8 text"]) from exc
            outcome = console.save_programme(db, user.actor, registration_id, parse_programme_file(text), _now(),
                                             source="file")
        except InvalidProgrammeFile as invalid:
            problems = [translate_problem(p) for p in invalid.problems]
            status = 422
        except IntegrityError:
            problems = [_saved_at_the_same_moment(db)]
            status = 409
        else:
            flash(_("Programme %(code)s saved as version %(version)s.", code=outcome.code, version=outcome.version)
                  if outcome.is_new_version else
                  _("Programme %(code)s unchanged (version %(version)s); cohorts, regions and funders updated.",
                    code=outcome.code, version=outcome.version), "ok")
            return redirect(url_for("admin.programme", registration_id=registration_id, code=outcome.code))
    elif form.is_submitted():
        status = 422
    return render_template("admin/programme_upload.html", registration=registration, form=form,
                           problems=problems), status
