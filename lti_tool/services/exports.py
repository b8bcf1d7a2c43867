"""Cohort exports (CSV and XLSX) with stable, documented columns; streamed, so memory stays flat.

Columns, in order: lms_user_id, name, email, cohort, region, enrolment_kind, one column per
module (its key; the value is the module's state: completed, below_pass_mark, not_graded,
without_maximum, or not_taken for a module a module-only participant did not take),
exam_score (percent, empty before the first attempt), status, status_reason, certified_at (ISO 8601, UTC).
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Callable, Iterable, Iterator

import xlsxwriter
from sqlalchemy.orm import Session

from .dashboard import DashboardQuery, ParticipantRow, cohort_rows

NOT_TAKEN = "not_taken"
LEADING = ("lms_user_id", "name", "email", "cohort", "region", "enrolment_kind")
TRAILING = ("exam_score", "status", "status_reason", "certified_at")


def header(module_keys: Iterable[str]) -> list[str]:
    return [*LEADING, *module_keys, *TRAILING]


def _exam_percent(row: ParticipantRow) -> str:
    if row.exam_score_given is None or not row.exam_score_maximum or Decimal(row.exam_score_maximum) == 0:
        return ""
    value = Decimal(row.exam_score_given) / Decimal(row.exam_score_maximum) * 100
    return f"{value.quantize(Decimal('0.1')).normalize():f}"


def export_rows(session: Session, registration_id: int, query: DashboardQuery, cohort_name: str,
                module_keys: list[str], describe: Callable[[dict], str]) -> Iterator[list[str]]:
    """One list of cell texts per participant; `describe` turns the first status reason into words."""
    for row in cohort_rows(session, registration_id, query):
        taken = set(row.module_keys)
        cells = [NOT_TAKEN if row.kind == "module_only" and key not in taken
                 else (row.cells[key].state if key in row.cells else "not_graded") for key in module_keys]
        reason = describe(row.reasons[0]) if row.reasons else ""
        yield [row.user_id_on_platform, row.name or "", row.email or "", cohort_name, row.region or "", row.kind,
               *cells, _exam_percent(row), row.state, reason,
               row.certified_at.isoformat() if row.certified_at else ""]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str | int | Decimal) -> str:
    """A name like "=HYPERLINK(…)" must stay text when a spreadsheet opens the CSV; numbers are written as they are."""
    if not isinstance(cell, str):
        return f"{cell:f}" if isinstance(cell, Decimal) else str(cell)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_stream(columns: list[str], rows: Iterable[list[str | int | Decimal]]) -> Iterator[str]:
    """CSV text in chunks, with a BOM so Excel opens å, ä and ö correctly. Cells are text, int or Decimal."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([_inert(cell) for cell in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(columns: list[str], rows: Iterable[list[str | int | Decimal]], sheet_name: str = "Cohort") -> bytes:
    """An XLSX workbook; XlsxWriter's constant-memory mode writes rows out as it goes (numbers as numbers)."""
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True, "in_memory": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet(sheet_name[:31])
    bold = workbook.add_format({"bold": True})
    sheet.write_row(0, 0, columns, bold)
    for index, row in enumerate(rows, 1):
        sheet.write_row(index, 0, row)
    workbook.close()
    return output.getvalue()
