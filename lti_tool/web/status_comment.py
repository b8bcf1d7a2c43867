"""A certification status in words for the LMS gradebook: the comment on the Certification column."""
from __future__ import annotations

import json

from flask_babel import force_locale, gettext as _, lazy_gettext as _l

from .reason_text import reason_text

STATE_TEXT = {
    "not_eligible": _l("Not eligible for certification."),
    "in_progress": _l("In progress."),
    "awaiting_exam": _l("Waiting for the final exam."),
    "exam_failed": _l("Final exam not passed."),
    "certified": _l("Certified."),
    "expired": _l("Certification expired."),
    "revoked": _l("Certification revoked."),
}
COMMENT_LIMIT = 1000


def status_comments(statuses: list[tuple[str, list[dict]]], locale: str) -> list[str]:
    """(state, reasons as stored with the status) → e.g. "In progress. Not graded yet: m03, m04. m06: 0 %, …"."""
    words: dict[str, str] = {}  # a cohort repeats the same reasons ("m03: 40 %, pass mark 60 %"): word them once
    with force_locale(locale):  # once for the lot: switching the locale costs more than the words
        return [_comment(state, reasons, words) for state, reasons in statuses]


def _comment(state: str, reasons: list[dict], words: dict[str, str]) -> str:
    # Twelve "… is not graded yet." would drown the rest: one sentence names them all.
    not_graded = [(r.get("params") or {}).get("module_key", "?") for r in reasons if r.get("code") == "module_not_graded"]
    parts = [str(STATE_TEXT.get(state, state))]
    if not_graded:
        parts.append(_("Not graded yet: %(modules)s.", modules=", ".join(not_graded)))
    for reason in reasons:
        if reason.get("code") != "module_not_graded":
            key = json.dumps(reason, sort_keys=True)
            if key not in words:
                words[key] = reason_text(reason, {})
            parts.append(words[key])
    comment = " ".join(parts)
    return comment if len(comment) <= COMMENT_LIMIT else comment[:COMMENT_LIMIT - 1] + "…"
