"""A status reason in plain words, in the reader's language ("Final exam: 52 %, pass mark 60 %")."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Mapping

from flask_babel import format_date, format_percent, get_locale, gettext as _, ngettext


def _percent(value) -> str:
    # Whole percents print as "52 %" (sv) / "52%" (en); a fraction keeps one decimal ("62,5 %").
    ratio = Fraction(str(value))
    pattern = None
    if (ratio * 100).denominator != 1:
        pattern = get_locale().percent_formats[None].pattern
        last_digit = pattern.rfind("0") + 1
        pattern = pattern[:last_digit] + ".0" + pattern[last_digit:]
    return format_percent(float(ratio), format=pattern)


def _score(score: Mapping | None) -> str:
    if not score or Decimal(score["maximum"]) == 0:
        return "–"
    return _percent(Fraction(str(score["given"])) / Fraction(str(score["maximum"])))


def _date(value: str | None) -> str:
    return format_date(datetime.fromisoformat(value)) if value else "–"


def _attempts_left(left: int | None) -> str:
    if left is None:
        return _("unlimited attempts")
    if left == 0:
        return _("no attempts left")
    return ngettext("one attempt left", "%(num)d attempts left", left)


def reason_text(reason: Mapping, module_names: Mapping[str, str]) -> str:
    """`reason` as stored with a status: {"code": ..., "params": {...}}; module keys become their names."""
    code = reason.get("code")
    params = reason.get("params") or {}

    def module() -> str:
        key = params.get("module_key")
        return module_names.get(key, key or "?")

    if code == "module_only_enrolment":
        return _("Enrolled in single modules only: not eligible for certification, however many are completed.")
    if code == "module_not_graded":
        return _("%(module)s is not graded yet.", module=module())
    if code == "module_below_pass_mark":
        return _("%(module)s: %(score)s, pass mark %(pass_mark)s.", module=module(),
                 score=_score(params.get("score")), pass_mark=_percent(params.get("pass_mark", 0)))
    if code == "result_without_maximum":
        what = module() if params.get("module_key") else _("the final exam")
        return _("A grade for %(what)s is out of 0 points and cannot be assessed: an instructor must regrade it.",
                 what=what)
    if code == "exam_not_taken":
        return _("The final exam has not been taken yet.")
    if code == "exam_not_passed":
        return _("Final exam: %(score)s, pass mark %(pass_mark)s, %(left)s.", score=_score(params.get("latest_score")),
                 pass_mark=_percent(params.get("pass_mark", 0)), left=_attempts_left(params.get("attempts_left")))
    if code == "exam_attempts_ignored":
        return _("Exam attempts beyond the maximum of %(max)s do not count.", max=params.get("max_attempts"))
    if code == "requirements_met":
        return _("Every requirement was met on %(date)s.", date=_date(params.get("certified_at")))
    if code == "certificate_expired":
        return _("The certification expired on %(date)s.", date=_date(params.get("expires_at")))
    if code == "certificate_revoked":
        return _("The certification was revoked on %(date)s.", date=_date(params.get("revoked_at")))
    if code == "issued_certificate_unsupported":
        return _("A certificate was issued on %(date)s, but the current results no longer support it: "
                 "an administrator will review it.", date=_date(params.get("issued_at")))
    return str(code)
