"""Programme configuration: the FEI numbers, and each invalid setting named by its field."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from lti_tool.domain.prices import Prices
from lti_tool.domain.programme import (
    FinalExam,
    InvalidProgramme,
    LocalisedName,
    Module,
    ProgrammeRef,
    percent,
)


def test_the_fei_programme_carries_the_interview_numbers(fei_programme):
    assert fei_programme.duration_weeks == 16
    assert fei_programme.prices.full_programme_ore == 5_800_000
    assert fei_programme.prices.member_discount == Decimal("0.10")
    assert fei_programme.prices.per_module_ore is None
    assert len(fei_programme.modules) == 12
    assert fei_programme.final_exam == FinalExam(Fraction(3, 5), max_attempts=3)
    assert fei_programme.ref == ProgrammeRef("FEI-NLU", 1)


def test_a_loader_may_pass_modules_as_a_list(make_programme, fei_programme):
    programme = make_programme(modules=list(fei_programme.modules))
    assert programme.modules == fei_programme.modules
    assert hash(programme) == hash(fei_programme)


def _with_module(programme, index, **changes):
    modules = list(programme.modules)
    modules[index] = replace(modules[index], **changes)
    return tuple(modules)


# Each row: what to change, as a function of the valid FEI programme -> the problem reported.
INVALID = [
    ("module without a key", lambda p: {"modules": _with_module(p, 2, key="")},
     "modules[2].key: required"),
    ("duplicate module key",
     lambda p: {"modules": _with_module(p, 3, key=p.modules[0].key)},
     "modules[3].key: duplicate of 'example-module-01'"),
    ("module without an English name",
     lambda p: {"modules": _with_module(p, 1, name=LocalisedName("Modul", " "))},
     "modules[1].name.en: required"),
    ("module pass mark above 100 %",
     lambda p: {"modules": _with_module(p, 0, pass_mark=percent(101))},
     "modules[0].pass_mark: must be between 0 and 1 (0 % to 100 %)"),
    ("module pass mark below 0",
     lambda p: {"modules": _with_module(p, 0, pass_mark=Fraction(-1, 100))},
     "modules[0].pass_mark: must be between 0 and 1 (0 % to 100 %)"),
    ("module pass mark as a float",
     lambda p: {"modules": _with_module(p, 4, pass_mark=0.6)},
     "modules[4].pass_mark: must be an exact Fraction or Decimal, e.g. percent(60)"),
    ("exam pass mark missing",
     lambda p: {"final_exam": FinalExam(None)},
     "final_exam.pass_mark: required"),
    ("final exam missing", lambda p: {"final_exam": None}, "final_exam: required"),
    ("no exam attempts allowed",
     lambda p: {"final_exam": FinalExam(percent(60), max_attempts=0)},
     "final_exam.max_attempts: must be a whole number of at least 1"),
    ("no modules", lambda p: {"modules": ()}, "modules: at least one module is required"),
    ("negative full price",
     lambda p: {"prices": Prices(full_programme_ore=-1)},
     "prices.full_programme_ore: must not be negative"),
    ("negative module price",
     lambda p: {"prices": Prices(full_programme_ore=5_800_000, per_module_ore=-100)},
     "prices.per_module_ore: must not be negative"),
    ("price in kronor as a float",
     lambda p: {"prices": Prices(full_programme_ore=58000.0)},
     "prices.full_programme_ore: must be a whole number of öre"),
    ("discount above 100 %",
     lambda p: {"prices": Prices(full_programme_ore=1, member_discount=Decimal("1.1"))},
     "prices.member_discount: must be between 0 and 1"),
    ("discount as a float",
     lambda p: {"prices": Prices(full_programme_ore=1, member_discount=0.1)},
     "prices.member_discount: must be an exact Decimal or Fraction"),
    ("no code", lambda p: {"code": ""}, "code: required"),
    ("version 0", lambda p: {"version": 0}, "version: must be a whole number of at least 1"),
    ("no Swedish name",
     lambda p: {"name": LocalisedName("", "Certified")}, "name.sv: required"),
    ("zero weeks",
     lambda p: {"duration_weeks": 0}, "duration_weeks: must be a whole number of at least 1"),
    ("validity of 0 years",
     lambda p: {"validity_years": 0}, "validity_years: must be a whole number of at least 1"),
]


@pytest.mark.parametrize(
    ("change", "problem"),
    [pytest.param(change, problem, id=label) for label, change, problem in INVALID],
)
def test_an_invalid_setting_is_named_by_its_field(make_programme, fei_programme, change, problem):
    with pytest.raises(InvalidProgramme) as raised:
        make_programme(**change(fei_programme))
    assert raised.value.problems == (problem,)
    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once(make_programme, fei_programme):
    with pytest.raises(InvalidProgramme) as raised:
        make_programme(code="", modules=_with_module(fei_programme, 2, key=""))
    assert raised.value.problems == ("code: required", "modules[2].key: required")


@pytest.mark.parametrize(
    "pass_mark",
    [Fraction(0), Fraction(1), Decimal("0.6"), percent("62.5")],
    ids=["0 %", "100 %", "Decimal", "fractional percent"],
)
def test_pass_marks_at_the_edges_and_in_either_exact_type_are_valid(
    make_programme, fei_programme, pass_mark
):
    programme = make_programme(modules=_with_module(fei_programme, 0, pass_mark=pass_mark))
    assert programme.modules[0].pass_mark == pass_mark


def test_free_programmes_and_free_modules_are_valid(make_programme):
    programme = make_programme(prices=Prices(full_programme_ore=0, per_module_ore=0))
    assert programme.prices.per_module_ore == 0


def test_percent_is_exact():
    assert percent(60) == Fraction(3, 5)
    assert percent("12.5") == Fraction(1, 8)


def test_a_module_alone_is_only_checked_within_a_programme():
    # Loaders build parts first; the programme names the path of whatever is wrong.
    module = Module("", LocalisedName("", "x"), percent(50))
    assert tuple(module.problems()) == ("key: required", "name.sv: required")
