"""Cohort exports: stable columns, every participant, the same content in CSV and XLSX."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from lti_tool.db.session import get_session
from lti_tool.services.dashboard import DashboardQuery
from lti_tool.services.exports import csv_stream, export_rows, header, xlsx_bytes
from tests.support.cohorts import KEYS, build_cohort

COLUMNS = ["lms_user_id", "name", "email", "cohort", "region", "enrolment_kind", *KEYS,
           "exam_score", "status", "status_reason", "certified_at"]


@pytest.fixture
def exported(app):
    with app.app_context():
        session = get_session()
        registration_id, cohort_id = build_cohort(session, 9)
        rows = list(export_rows(session, registration_id, DashboardQuery(cohort_id=cohort_id), "Omgång 1", KEYS,
                                lambda reason: reason["code"]))
        yield header(KEYS), rows


def test_columns_are_the_documented_ones(exported):
    columns, rows = exported
    assert columns == COLUMNS
    assert len(rows) == 9 and all(len(row) == len(COLUMNS) for row in rows)


def test_values(exported):
    columns, rows = exported
    by_user = {row[0]: dict(zip(columns, row)) for row in rows}
    certified = by_user["u5"]
    assert (certified["status"], certified["exam_score"], certified["m12"]) == ("certified", "80", "completed")
    assert certified["certified_at"].startswith("2027-10-01T12:00:00")
    module_only = by_user["u3"]
    assert module_only["enrolment_kind"] == "module_only" and module_only["m02"] == "not_taken"
    assert module_only["status"] == "not_eligible" and module_only["status_reason"] == "module_only_enrolment"
    assert by_user["u1"]["region"] == "Södra Norrbotten (exempel)" and by_user["u2"]["exam_score"] == ""


def test_csv_and_xlsx_say_the_same(exported):
    columns, rows = exported
    text = "".join(csv_stream(columns, rows))
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed == [columns, *rows]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(columns, rows))).active
    assert [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)] == \
        [columns, *rows]


def test_a_formula_in_a_name_stays_text(app):
    rows = [["u1", "=HYPERLINK(\"http://evil\")", "", "", "", "", "", "", "", ""]]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["a"] * 10, rows))).active
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_a_formula_in_a_name_is_inert_in_csv():
    text = "".join(csv_stream(["name"], [["=HYPERLINK(\"http://evil\")"], ["Anna"]]))
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:] == [["'=HYPERLINK(\"http://evil\")"], ["Anna"]]
