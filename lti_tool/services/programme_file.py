"""The programme as a human-readable TOML file: parsed into domain values, and written back.

Money is written in SEK (whole kronor, or a string with öre: "1250.50"), pass marks and the
member discount in percent (a number, or a string such as "62.5"); inside the tool they are
integer öre and exact fractions, so a file read and written again says the same thing.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Iterator

import tomli_w

from ..domain.cohort import Cohort, Funder, InvalidCohort, Region
from ..domain.prices import Prices, UpgradePricing
from ..domain.programme import FinalExam, InvalidProgramme, LocalisedName, Module, Programme, ProgrammeRef


class InvalidProgrammeFile(ValueError):
    """The file cannot become a programme; each problem names its field, nothing is saved."""

    def __init__(self, problems: tuple[str, ...] | list[str]):
        self.problems = tuple(dict.fromkeys(problems))  # the reader and the domain may both notice
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ProgrammeDocument:
    programme: Programme
    funders: tuple[Funder, ...] = ()
    regions: tuple[Region, ...] = ()
    cohorts: tuple[Cohort, ...] = ()


# --- reading --------------------------------------------------------------------------------
class _Reader:
    """Collects every problem instead of stopping at the first, so one edit fixes the file."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, field: str, problem: str) -> None:
        self.problems.append(f"{field}: {problem}")

    def table(self, data: Any, field: str) -> dict:
        if not isinstance(data, dict):
            self.fail(field, "required (a table)")
            return {}
        return data

    def text(self, data: dict, name: str, field: str, required: bool = True) -> str | None:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(field, "required")
            return None
        if not isinstance(value, str):
            self.fail(field, "must be text")
            return None
        return value

    def whole(self, data: dict, name: str, field: str, required: bool = True) -> int | None:
        value = data.get(name)
        if value is None:
            if required:
                self.fail(field, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be a whole number, got {value!r}")
            return None
        return value

    def number(self, data: dict, name: str, field: str, required: bool = True) -> Decimal | None:
        value = data.get(name)
        if value is None:
            if required:
                self.fail(field, "required")
            return None
        if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, str)):
            self.fail(field, f"write a whole number or a string such as \"62.5\", got {value!r}")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():  # "NaN" and "Infinity" parse, then break Fraction()
            self.fail(field, f"not a number: {value!r}")
            return None
        return number

    def percent(self, data: dict, name: str, field: str) -> Fraction | None:
        value = self.number(data, name, field)
        return None if value is None else Fraction(value) / 100

    def sek(self, data: dict, name: str, field: str, required: bool = True) -> int | None:
        value = self.number(data, name, field, required)
        if value is None:
            return None
        ore = value * 100
        if ore != ore.to_integral_value():
            self.fail(field, "at most two decimals (öre)")
            return None
        return int(ore)

    def name(self, data: dict, field: str) -> LocalisedName:
        table = self.table(data.get("name"), f"{field}.name")
        return LocalisedName(sv=self.text(table, "sv", f"{field}.name.sv") or "",
                             en=self.text(table, "en", f"{field}.name.en") or "")

    def date(self, data: dict, name: str, field: str) -> date | None:
        value = data.get(name)
        if isinstance(value, date):
            return value
        self.fail(field, "required (a date such as 2027-08-23)")
        return None


def parse_programme_file(text: str) -> ProgrammeDocument:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidProgrammeFile([f"file: not valid TOML ({exc})"]) from exc
    read = _Reader()
    programme = _read_programme(read, data)
    funders = tuple(Funder(key=read.text(f, "key", f"funders[{i}].key") or "",
                           name=read.text(f, "name", f"funders[{i}].name") or "")
                    for i, f in enumerate(_tables(read, data, "funders")))
    regions = tuple(Region(key=read.text(r, "key", f"regions[{i}].key") or "",
                           name=read.text(r, "name", f"regions[{i}].name") or "")
                    for i, r in enumerate(_tables(read, data, "regions")))
    _require_unique_keys(read, "funders", funders)
    _require_unique_keys(read, "regions", regions)
    funders_by_key = {f.key: f for f in funders}
    cohorts = tuple(filter(None, (_read_cohort(read, c, i, programme, funders_by_key)
                                  for i, c in enumerate(_tables(read, data, "cohorts")))))
    _require_unique_keys(read, "cohorts", cohorts)
    if read.problems or programme is None:
        raise InvalidProgrammeFile(read.problems)
    return ProgrammeDocument(programme, funders, regions, cohorts)


def _tables(read: _Reader, data: dict, name: str) -> list[dict]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        read.fail(name, f"must be a list of tables ([[{name}]])")
        return []
    return value


def _require_unique_keys(read: _Reader, name: str, items) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.key in seen:
            read.fail(f"{name}[{index}].key", f"duplicate of {item.key!r}")
        seen.add(item.key)


def _read_programme(read: _Reader, data: dict) -> Programme | None:
    head = read.table(data.get("programme"), "programme")
    prices = read.table(data.get("prices"), "prices")
    exam = read.table(data.get("final_exam"), "final_exam")
    modules = [Module(key=read.text(m, "key", f"modules[{i}].key") or "",
                      name=read.name(m, f"modules[{i}]"),
                      pass_mark=read.percent(m, "pass_mark_percent", f"modules[{i}].pass_mark_percent"))
               for i, m in enumerate(_tables(read, data, "modules"))]
    upgrade = prices.get("upgrade", UpgradePricing.CREDIT_MODULES_PAID.value)
    if upgrade not in {u.value for u in UpgradePricing}:
        read.fail("prices.upgrade", f"one of {', '.join(u.value for u in UpgradePricing)}")
        upgrade = UpgradePricing.CREDIT_MODULES_PAID.value
    discount = read.number(prices, "member_discount_percent", "prices.member_discount_percent", required=False)
    before = len(read.problems)
    values = dict(
        code=read.text(head, "code", "programme.code") or "",
        version=read.whole(head, "version", "programme.version", required=False) or 1,
        name=read.name(head, "programme"),
        duration_weeks=read.whole(head, "duration_weeks", "programme.duration_weeks"),
        validity_years=read.whole(head, "validity_years", "programme.validity_years", required=False),
        modules=tuple(modules),
        final_exam=FinalExam(pass_mark=read.percent(exam, "pass_mark_percent", "final_exam.pass_mark_percent"),
                             max_attempts=read.whole(exam, "max_attempts", "final_exam.max_attempts", False)),
        prices=Prices(full_programme_ore=read.sek(prices, "full_programme_sek", "prices.full_programme_sek"),
                      member_discount=Decimal("0.10") if discount is None else discount / 100,
                      per_module_ore=read.sek(prices, "per_module_sek", "prices.per_module_sek", required=False),
                      upgrade=UpgradePricing(upgrade)),
    )
    if len(read.problems) > before or values["duration_weeks"] is None:
        return None
    try:
        return Programme(**values)
    except InvalidProgramme as exc:
        read.problems.extend(_file_field(problem) for problem in exc.problems)
        return None


def _file_field(problem: str) -> str:
    """The domain names fields as the model does; say them as the file spells them."""
    for model, file in (("prices.full_programme_ore", "prices.full_programme_sek"),
                        ("prices.per_module_ore", "prices.per_module_sek"),
                        ("prices.member_discount", "prices.member_discount_percent"),
                        (".pass_mark", ".pass_mark_percent")):
        if model in problem and file not in problem:
            problem = problem.replace(model, file)
    if not problem.startswith(("modules", "prices", "final_exam", "programme")):
        problem = "programme." + problem
    return problem


def _read_cohort(read: _Reader, data: dict, index: int, programme: Programme | None,
                 funders: dict[str, Funder]) -> Cohort | None:
    field = f"cohorts[{index}]"
    key = read.text(data, "key", f"{field}.key")
    name = read.text(data, "name", f"{field}.name")
    starts_on = read.date(data, "starts_on", f"{field}.starts_on")
    ends_on = read.date(data, "ends_on", f"{field}.ends_on")
    funder_key = read.text(data, "funder", f"{field}.funder", required=False)
    funder = None
    if funder_key is not None:
        funder = funders.get(funder_key)
        if funder is None:
            read.fail(f"{field}.funder", f"no funder with key {funder_key!r} in [[funders]]")
    version = read.whole(data, "programme_version", f"{field}.programme_version", required=False)
    if None in (key, name, starts_on, ends_on) or programme is None:
        return None
    try:
        return Cohort(key=key, name=name, starts_on=starts_on, ends_on=ends_on, funder=funder,
                      programme=ProgrammeRef(programme.code, version or programme.version))
    except InvalidCohort as exc:
        read.fail(f"{field}.ends_on", str(exc).split(": ", 1)[-1])
        return None


# --- writing --------------------------------------------------------------------------------
def format_programme_file(document: ProgrammeDocument) -> str:
    programme = document.programme
    prices = programme.prices
    head: dict[str, Any] = {"code": programme.code, "version": programme.version,
                            "name": _name(programme.name), "duration_weeks": programme.duration_weeks}
    if programme.validity_years is not None:
        head["validity_years"] = programme.validity_years
    price_table: dict[str, Any] = {"full_programme_sek": _sek(prices.full_programme_ore),
                                   "member_discount_percent": _number(Fraction(prices.member_discount) * 100),
                                   "upgrade": prices.upgrade.value}
    if prices.per_module_ore is not None:
        price_table["per_module_sek"] = _sek(prices.per_module_ore)
    exam: dict[str, Any] = {"pass_mark_percent": _number(Fraction(programme.final_exam.pass_mark) * 100)}
    if programme.final_exam.max_attempts is not None:
        exam["max_attempts"] = programme.final_exam.max_attempts
    data: dict[str, Any] = {
        "programme": head,
        "prices": price_table,
        "final_exam": exam,
        "modules": [{"key": m.key, "name": _name(m.name), "pass_mark_percent": _number(Fraction(m.pass_mark) * 100)}
                    for m in programme.modules],
        "funders": [{"key": f.key, "name": f.name} for f in document.funders],
        "regions": [{"key": r.key, "name": r.name} for r in document.regions],
        "cohorts": list(_cohorts(document.cohorts)),
    }
    return tomli_w.dumps({k: v for k, v in data.items() if v != []})


def _cohorts(cohorts) -> Iterator[dict]:
    for cohort in cohorts:
        table = {"key": cohort.key, "name": cohort.name, "starts_on": cohort.starts_on, "ends_on": cohort.ends_on,
                 "programme_version": cohort.programme.version}
        if cohort.funder is not None:
            table["funder"] = cohort.funder.key
        yield table


def _name(name: LocalisedName) -> dict[str, str]:
    return {"sv": name.sv, "en": name.en}


def _sek(ore: int) -> int | str:
    return ore // 100 if ore % 100 == 0 else f"{Decimal(ore) / 100:.2f}"


def _number(value: Fraction) -> int | str:
    if value.denominator == 1:
        return value.numerator
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(exact) != value:
        # e.g. a pass mark of two thirds: no decimal writes it exactly.
        raise InvalidProgrammeFile([f"{value} cannot be written exactly as a decimal percentage"])
    return format(exact.normalize(), "f")
