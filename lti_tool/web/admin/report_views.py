"""Console pages for a registration's reports (certification, module-only enrolments, fees) and their exports."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterable

from flask import Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ...db import get_session
from ...services import admin as console
from ...services import report_exports as columns
from ...services.exports import csv_stream, xlsx_bytes
from ...services.reports import (ReportFilter, ReportScope, UnknownFilter, certification_report, fees_report,
                                 is_funder, module_only_enrolment_report, report_scope)
from .access import current_user

FILTER_KEYS = ("cohort", "region", "from", "to")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNKNOWN = {"cohort": _l("There is no such cohort."), "region": _l("There is no such region.")}


def _read_filter(with_period: bool) -> tuple[ReportFilter, dict[str, str]]:
    """The filter in the query string, and what is wrong with it, per field."""
    args = request.args
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {"from": None, "to": None}
    if with_period:
        for name in days:
            text = (args.get(name) or "").strip()
            if text:
                try:
                    days[name] = date.fromisoformat(text)
                except ValueError:
                    errors[name] = _("Write a date as YYYY-MM-DD, e.g. 2027-10-01.")
        if days["from"] and days["to"] and days["from"] > days["to"]:
            errors["to"] = _("The end of the period is before its start.")
    return ReportFilter(cohort_key=args.get("cohort") or None, region_key=args.get("region") or None,
                        certified_from=days["from"], certified_to=days["to"]), errors


def _scope(db, registration_id: int, report_filter: ReportFilter, errors: dict[str, str]) -> ReportScope:
    try:
        return report_scope(db, registration_id, report_filter)
    except UnknownFilter as unknown:
        errors[unknown.field_name] = str(UNKNOWN[unknown.field_name])
        return report_scope(db, registration_id, ReportFilter())


def _filters() -> dict[str, str]:
    """The filter part of the query string, carried into the other reports and the exports."""
    return {key: value for key, value in request.args.items() if key in FILTER_KEYS and value}


@dataclass(frozen=True)
class _Report:
    template: str
    build: Callable[[Session, int, ReportScope, ReportFilter], Any]
    columns: tuple[str, ...]
    rows: Callable[[Any], Iterable[list]]
    sheet: str
    with_period: bool = False


REPORTS = {
    "certification": _Report(
        "admin/report_certification.html", certification_report, columns.CERTIFICATION_COLUMNS,
        columns.certification_rows, "Certification", with_period=True),
    "module-only": _Report(
        "admin/report_module_only.html",
        lambda db, registration_id, scope, _filter: module_only_enrolment_report(db, registration_id, scope),
        columns.MODULE_ONLY_COLUMNS,
        lambda report: columns.module_only_rows(report, str(get_locale() or "sv")), "Module-only"),
    "fees": _Report(
        "admin/report_fees.html", lambda db, registration_id, scope, _filter: fees_report(db, registration_id, scope),
        columns.FEES_COLUMNS, columns.fees_rows, "Fees"),
}


def _report(name: str, registration_id: int):
    """The report, its filter and what is wrong with the filter (then no report)."""
    db = get_session()
    registration = console.registration_for(db, current_user().actor, registration_id)
    spec = REPORTS[name]
    report_filter, errors = _read_filter(spec.with_period)
    scope = _scope(db, registration_id, report_filter, errors)
    report = None if errors else spec.build(db, registration_id, scope, report_filter)
    return registration, report_filter, scope, report, errors


def _page(name: str, registration_id: int):
    """A report page: the filter form, and the report unless the filter is wrong (then 400 and why)."""
    registration, _filter, scope, report, errors = _report(name, registration_id)
    return render_template(REPORTS[name].template, registration=registration, scope=scope, report=report,
                           errors=errors, filters=_filters(), args=request.args,
                           is_funder=is_funder), 400 if errors else 200


def reports(registration_id: int):
    """What each report tells; its links carry a cohort chosen on the programme page."""
    registration = console.registration_for(get_session(), current_user().actor, registration_id)
    return render_template("admin/reports.html", registration=registration, filters=_filters())


def certification(registration_id: int):
    return _page("certification", registration_id)


def module_only(registration_id: int):
    return _page("module-only", registration_id)


def fees(registration_id: int):
    return _page("fees", registration_id)


def export(registration_id: int, report: str, format: str):
    _registration, report_filter, _selected, built, errors = _report(report, registration_id)
    if errors:
        abort(400, description=" ".join(errors.values()))
    spec = REPORTS[report]
    # Read everything inside the request's transaction, before the response is written.
    rows = list(spec.rows(built))
    name = "-".join(part for part in (report, report_filter.cohort_key, report_filter.region_key) if part)
    disposition = {"Content-Disposition": f'attachment; filename="{_safe_filename(name)}.{format}"'}
    if format == "csv":
        return Response(csv_stream(list(spec.columns), rows), headers=disposition, mimetype="text/csv")
    return Response(xlsx_bytes(list(spec.columns), rows, spec.sheet), headers=disposition, mimetype=XLSX)


def _safe_filename(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in name)
