"""The grade half of a course sync: line items → bindings, results → appended grade history.

Grades are keyed by their source, the line item's id on the platform: a regrade or teacher
override of the same column appends a new event that points to the one it replaces (the old
value stays in the history). AGS results carry no time on Canvas; a score seen for the first
time is dated when the sync first saw it, and an unchanged score keeps its date, so syncing
twice writes nothing.
"""
from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.course_sync import LineItemRecord
from ..db.programmes import EnrolmentRecord, ResultEventRecord
from ..domain.results import ExamAttempt, InvalidResult, ModuleResult, Score
from ..lti.ags import LINEITEM_SCOPE, AgsClient, LineItem
from ..lti.service_client import pages_concurrently
from .course_links import CERTIFICATION, CERTIFICATION_RESOURCE_ID, EXAM, MODULE, Binding, binding_from_resource
from .results import EXAM as EXAM_KIND, MODULE as MODULE_KIND

if TYPE_CHECKING:
    from .sync import CourseFacts, LearnerScope, Writer, _Tally


def read_grades(session: Session, course: "CourseFacts", ags: AgsClient, writer: "Writer",
                learner: "LearnerScope | None", now: datetime, tally: "_Tally", certification_label: str,
                fetchers: Callable[[], AgsClient] | None = None, workers: int = 1) -> None:
    """Line items, then the results of every bound one: fetched by `workers` threads (each with an
    AgsClient of its own from `fetchers`), compared and noted here, in this thread, with the session."""
    items = list(ags.line_items())
    tally.counts["line_items_seen"] += len(items)
    bindings = {item.id: binding_from_resource(item.resource_id, item.tag, course.module_keys) for item in items}
    if learner is None and CERTIFICATION not in {b.kind for b in bindings.values()} \
            and LINEITEM_SCOPE in course.services.ags_scopes:
        # The tool's own column, where instructors see who is certified.
        created = ags.create_line_item(label=certification_label, score_maximum=Decimal(1),
                                       resource_id=CERTIFICATION_RESOURCE_ID, tag=CERTIFICATION_RESOURCE_ID)
        items.append(created)
        bindings[created.id] = binding_from_resource(created.resource_id, created.tag, course.module_keys)
        tally.counts["line_items_created"] += 1
    stored = {row.id_on_platform: row for row in session.scalars(
        select(LineItemRecord).where(LineItemRecord.context_id == course.context_id))}
    bound = []
    for item in items:
        binding = _plan_line_item(writer, course, item, stored.get(item.id), bindings[item.id], now)
        if binding.kind in (MODULE, EXAM):
            bound.append((item, binding))
    user_id = learner.user_id_on_platform if learner else None
    local = threading.local()

    def pages_of(source: tuple[LineItem, Binding]):
        if not hasattr(local, "ags"):
            local.ags = fetchers() if fetchers else ags
        return local.ags.result_pages(source[0].id, user_id=user_id)

    readers: dict[str, _ResultReader] = {}
    for (item, binding), page in pages_concurrently(bound, pages_of, workers=workers if fetchers else 1, depth=2):
        reader = readers.get(item.id)
        if reader is None:
            reader = readers[item.id] = _ResultReader(session, course, item, binding, writer, learner, now, tally)
        if page is None:
            del readers[item.id]  # its last page: the previous grades it held are let go
        else:
            reader.read(page)
    listed = {item.id for item in items}
    for row in stored.values():
        if row.id_on_platform not in listed and row.is_present and learner is None:
            writer.line_item_writes.append(lambda row=row: _set(row, is_present=False, updated_at=now))


def _set(row: LineItemRecord, **values) -> None:
    for key, value in values.items():
        setattr(row, key, value)


def _plan_line_item(writer: "Writer", course: "CourseFacts", item: LineItem, row: LineItemRecord | None,
                    automatic: Binding, now: datetime) -> Binding:
    """Note the column's insert or update; returns the binding it has (a hand binding wins)."""
    wanted = {"label": item.label[:500], "score_maximum": str(item.score_maximum), "resource_id": item.resource_id,
              "tag": item.tag, "resource_link_id": item.resource_link_id, "is_present": True}
    if row is None or not row.is_bound_by_hand:
        wanted.update(binding=automatic.kind, module_key=automatic.module_key, exam_attempt=automatic.exam_attempt)
    if row is None:
        def insert_row() -> None:
            record = LineItemRecord(context_id=course.context_id, id_on_platform=item.id, is_bound_by_hand=False,
                                    updated_at=now, **wanted)
            writer.session.add(record)
            writer.session.flush()
            if record.binding == CERTIFICATION:
                writer.certification_line_item_id = record.id

        writer.line_item_writes.append(insert_row)
        writer.tally.counts["line_items_added"] += 1
        return automatic
    if any(getattr(row, key) != value for key, value in wanted.items()):
        writer.line_item_writes.append(lambda: _set(row, updated_at=now, **wanted))
    binding = automatic if not row.is_bound_by_hand else Binding(row.binding, row.module_key, row.exam_attempt)
    if binding.kind == CERTIFICATION and writer.certification_line_item_id is None:
        writer.certification_line_item_id = row.id
    return binding


class _ResultReader:
    """One line item's results against its standing grades: unchanged ones counted, changed ones noted."""

    def __init__(self, session: Session, course: "CourseFacts", item: LineItem, binding: Binding,
                 writer: "Writer", learner: "LearnerScope | None", now: datetime, tally: "_Tally"):
        self.item, self.writer, self.now, self.tally = item, writer, now, tally
        self.kind = MODULE_KIND if binding.kind == MODULE else EXAM_KIND
        self.module_key = binding.module_key if binding.kind == MODULE else None
        self.attempt = None if binding.kind == MODULE else (binding.exam_attempt or 1)
        only = writer.roster.enrolment_id(learner.user_id_on_platform) if learner else None
        self.previous = {} if learner and only is None else _previous_grades(
            session, course.cohort_id, item.id, self.kind, self.module_key, self.attempt, only)
        self.seen: set = set()

    def read(self, page: list) -> None:
        for result in page:
            self.tally.counts["results_seen"] += 1
            reference = self.writer.roster.enrolment_reference(result.user_id)
            if reference is None or reference in self.seen:
                self.tally.counts["results_unmatched" if reference is None else "results_duplicated"] += 1
                continue
            self.seen.add(reference)
            before = self.previous.get(reference)
            if before is not None and _is_standing(before, result):
                self.tally.counts["results_unchanged"] += 1  # the usual case, told without building a grade
                continue
            try:
                # Built for the domain's checks (exact, not negative, dated in UTC); the row is written from it.
                score = Score(result.score, result.maximum)
                graded_at = result.timestamp or self.now
                event = (ModuleResult(score=score, graded_at=graded_at, source=self.item.id,
                                      module_key=self.module_key) if self.kind == MODULE_KIND else
                         ExamAttempt(score=score, graded_at=graded_at, source=self.item.id, attempt=self.attempt))
            except InvalidResult:
                self.tally.counts["results_invalid"] += 1
                continue
            self.writer.add_event({
                "enrolment_id": reference, "kind": self.kind, "module_key": self.module_key, "attempt": self.attempt,
                "score_given": str(score.given), "score_maximum": str(score.maximum), "graded_at": event.graded_at,
                "source": self.item.id, "seen_at": self.now, "replaces_id": before.id if before is not None else None})


def _is_standing(row, result) -> bool:
    """The result is the grade already standing: same score, and same time when the platform gives one.

    record_result's rule (same score and graded_at), for AGS results: one without a time (Canvas)
    keeps the time of the standing grade it repeats.
    """
    return (Decimal(row.score_given) == result.score and Decimal(row.score_maximum) == result.maximum
            and (result.timestamp is None or result.timestamp == row.graded_at))


def _previous_grades(session: Session, cohort_id: int, source: str, kind: str, module_key: str | None,
                     attempt: int | None, only_enrolment: int | None) -> dict:
    """The standing grade of this line item's slot per enrolment (the latest event of each)."""
    query = (select(ResultEventRecord.id, ResultEventRecord.enrolment_id, ResultEventRecord.score_given,
                    ResultEventRecord.score_maximum, ResultEventRecord.graded_at)
             .join(EnrolmentRecord, EnrolmentRecord.id == ResultEventRecord.enrolment_id)
             .where(ResultEventRecord.source == source, EnrolmentRecord.cohort_id == cohort_id,
                    ResultEventRecord.kind == kind,
                    ResultEventRecord.module_key.is_(None) if module_key is None
                    else ResultEventRecord.module_key == module_key,
                    ResultEventRecord.attempt.is_(None) if attempt is None else ResultEventRecord.attempt == attempt)
             .order_by(ResultEventRecord.id))
    if only_enrolment is not None:
        query = query.where(ResultEventRecord.enrolment_id == only_enrolment)
    latest = {}
    for row in session.execute(query):
        latest[row.enrolment_id] = row
    return latest
