"""The programme edit form ↔ the programme file: an edit is validated exactly as an uploaded file is.

The form's values are written into the file's shape and read back with `parse_programme_file`,
so the form and the file share one set of rules and one set of field names; a problem such
as "modules[2].pass_mark_percent: required" is then put next to the form field it names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import tomli_w
from flask_babel import gettext as _

from ...domain.programme import Programme
from ...services.programme_file import ProgrammeDocument, parse_programme_file
from .forms import ProgrammeForm

WHOLE_NUMBER = re.compile(r"[+-]?\d+")

FORM_FIELD = {
    "programme.name.sv": "name_sv",
    "programme.name.en": "name_en",
    "programme.duration_weeks": "duration_weeks",
    "programme.validity_years": "validity_years",
    "prices.full_programme_sek": "full_programme_sek",
    "prices.member_discount_percent": "member_discount_percent",
    "prices.per_module_sek": "per_module_sek",
    "prices.upgrade": "upgrade",
    "final_exam.pass_mark_percent": "exam_pass_mark_percent",
    "final_exam.max_attempts": "exam_max_attempts",
}
MODULE_FIELD = {"key": "key", "name.sv": "name_sv", "name.en": "name_en", "pass_mark_percent": "pass_mark_percent"}
PROBLEM = re.compile(r"^(?P<field>[\w.\[\]]+): (?P<text>.*)$", re.S)
MODULE_PATH = re.compile(r"^modules\[(?P<index>\d+)\]\.(?P<rest>.+)$")


# --- programme → form -----------------------------------------------------------------------
def exact_text(value: Fraction | Decimal) -> str:
    """An exact decimal as written in the file ("62.5"); values come from decimal files, so it terminates."""
    fraction = Fraction(value)
    if fraction.denominator == 1:
        return str(fraction.numerator)
    return format((Decimal(fraction.numerator) / Decimal(fraction.denominator)).normalize(), "f")


def percent_text(value: Fraction | Decimal) -> str:
    return exact_text(Fraction(value) * 100)


def sek_text(ore: int | None) -> str:
    return "" if ore is None else exact_text(Fraction(ore, 100))


def form_data(programme: Programme) -> dict[str, Any]:
    prices = programme.prices
    return {
        "base_version": str(programme.version),
        "name_sv": programme.name.sv, "name_en": programme.name.en,
        "duration_weeks": str(programme.duration_weeks),
        "validity_years": "" if programme.validity_years is None else str(programme.validity_years),
        "full_programme_sek": sek_text(prices.full_programme_ore),
        "member_discount_percent": percent_text(prices.member_discount),
        "per_module_sek": sek_text(prices.per_module_ore),
        "upgrade": prices.upgrade.value,
        "exam_pass_mark_percent": percent_text(programme.final_exam.pass_mark),
        "exam_max_attempts": "" if programme.final_exam.max_attempts is None else str(programme.final_exam.max_attempts),
        "modules": [{"key": m.key, "name_sv": m.name.sv, "name_en": m.name.en,
                     "pass_mark_percent": percent_text(m.pass_mark), "remove": False} for m in programme.modules],
    }


# --- form → programme -----------------------------------------------------------------------
@dataclass
class FormReading:
    """The form's values in the file's shape; the file's reader judges them (a wrong number included)."""

    data: dict[str, Any]
    module_rows: list[int] = field(default_factory=list)  # file modules[i] is form row module_rows[i]


def _clean(text: str | None) -> str:
    return (text or "").strip()


def _number_text(text: str | None) -> str:
    # Swedish writes 58 000,50; the file writes 58000.50.
    return re.sub(r"[\s\u00a0\u202f]", "", _clean(text)).replace(",", ".")


def _put_whole(table: dict, name: str, raw: str | None) -> None:
    text = _number_text(raw)
    if text:
        # Text that is not a whole number stays text, which the reader refuses with the field's name.
        table[name] = int(text) if WHOLE_NUMBER.fullmatch(text) else text


def _put_decimal(table: dict, name: str, raw: str | None) -> None:
    text = _number_text(raw)
    if text:
        table[name] = text  # the reader takes a string as an exact decimal, or says it is not a number


def _put_text(table: dict, name: str, raw: str | None) -> None:
    text = _clean(raw)
    if text:
        table[name] = text


def read_form(form: ProgrammeForm, code: str, version: int) -> FormReading:
    head: dict[str, Any] = {"code": code, "version": version, "name": {}}
    prices: dict[str, Any] = {"upgrade": form.upgrade.data}
    exam: dict[str, Any] = {}
    reading = FormReading({"programme": head, "prices": prices, "final_exam": exam, "modules": []})
    _put_text(head["name"], "sv", form.name_sv.data)
    _put_text(head["name"], "en", form.name_en.data)
    _put_whole(head, "duration_weeks", form.duration_weeks.data)
    _put_whole(head, "validity_years", form.validity_years.data)
    _put_decimal(prices, "full_programme_sek", form.full_programme_sek.data)
    _put_decimal(prices, "member_discount_percent", form.member_discount_percent.data)
    _put_decimal(prices, "per_module_sek", form.per_module_sek.data)
    _put_decimal(exam, "pass_mark_percent", form.exam_pass_mark_percent.data)
    _put_whole(exam, "max_attempts", form.exam_max_attempts.data)
    for row, entry in enumerate(form.modules.entries):
        module = entry.form
        values = (module.key.data, module.name_sv.data, module.name_en.data, module.pass_mark_percent.data)
        if module.remove.data or not any(_clean(v) for v in values):
            continue  # removed, or a new row left empty
        table: dict[str, Any] = {"name": {}}
        _put_text(table, "key", module.key.data)
        _put_text(table["name"], "sv", module.name_sv.data)
        _put_text(table["name"], "en", module.name_en.data)
        _put_decimal(table, "pass_mark_percent", module.pass_mark_percent.data)
        reading.data["modules"].append(table)
        reading.module_rows.append(row)
    return reading


def to_document(reading: FormReading) -> ProgrammeDocument:
    """The edited programme alone (funders, regions and cohorts are left as they are); InvalidProgrammeFile if not."""
    return ProgrammeDocument(parse_programme_file(tomli_w.dumps(reading.data)).programme)


# --- problems → the fields they name --------------------------------------------------------
def show_problems(form: ProgrammeForm, reading: FormReading, problems: tuple[str, ...]) -> list[str]:
    """Attach each problem to its field's `errors`; returns those that name no single field."""
    general = []
    for problem in problems:
        match = PROBLEM.match(problem)
        target = _field_for(form, reading, match.group("field")) if match else None
        if target is None:
            general.append(translate_problem(problem))
        else:
            target.errors = [*target.errors, translate_problem_text(match.group("text"))]
    return general


def _field_for(form: ProgrammeForm, reading: FormReading, path: str):
    if path in FORM_FIELD:
        return getattr(form, FORM_FIELD[path])
    match = MODULE_PATH.match(path)
    if match and match.group("rest") in MODULE_FIELD and int(match.group("index")) < len(reading.module_rows):
        row = reading.module_rows[int(match.group("index"))]
        return getattr(form.modules.entries[row].form, MODULE_FIELD[match.group("rest")])
    return None


_TEXTS = (
    (re.compile(r"^required"), lambda m: _("Required.")),
    (re.compile(r"^must be a whole number of at least 1"), lambda m: _("Write a whole number of at least 1.")),
    (re.compile(r"^must be a whole number"), lambda m: _("Write a whole number.")),
    (re.compile(r"^(?:not a number|write a whole number or a string)"), lambda m: _("Write a number, such as 62.5.")),
    (re.compile(r"^at most two decimals"), lambda m: _("At most two decimals (öre).")),
    (re.compile(r"^must be between 0 and 1"), lambda m: _("Must be between 0 and 100 %.")),
    (re.compile(r"^must not be negative"), lambda m: _("Must not be negative.")),
    (re.compile(r"^duplicate of '(?P<key>.*)'$"), lambda m: _("%(key)s is used twice.", key=m.group("key"))),
    (re.compile(r"^at least one module is required"), lambda m: _("At least one module is required.")),
    (re.compile(r"^at most (?P<limit>\d+) characters"), lambda m: _("At most %(limit)s characters.",
                                                                    limit=m.group("limit"))),
    (re.compile(r"^at most (?P<limit>\d+)$"), lambda m: _("At most %(limit)s.", limit=m.group("limit"))),
    (re.compile(r"^too many decimals"), lambda m: _("Too many decimals.")),
    (re.compile(r"^one of "), lambda m: _("Choose one of the options.")),
)


def translate_problem_text(text: str) -> str:
    """The rule's message in the page's language; an unknown one is shown as the rule wrote it."""
    for pattern, message in _TEXTS:
        match = pattern.match(text)
        if match:
            return message(match)
    return text


def translate_problem(problem: str) -> str:
    """"field: message", keeping the file's field name (it is what the administrator edits)."""
    match = PROBLEM.match(problem)
    if not match:
        return problem
    return f"{match.group('field')}: {translate_problem_text(match.group('text'))}"
