"""The demo platform's courses, rosters, gradebooks and injected faults (its side of AGS and NRPS).

Tests and the benchmark set a course up through these functions; the tool only ever sees the
result over HTTP. A course has a flavour, `moodle` or `canvas`, that decides the quirks its
services reproduce (see lti_tool/demo/services.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.demo_lms import DemoCourse, DemoFault, DemoGrade, DemoLineItem, DemoMember
from . import seed

FLAVOURS = ("moodle", "canvas")
LEARNER = seed.LIS + "membership#Learner"
INSTRUCTOR = seed.LIS + "membership#Instructor"
MODULE_KEYS = tuple(f"m{i:02}" for i in range(1, 13))


@dataclass(frozen=True)
class Fault:
    """What the next matching service call should suffer."""

    status: int | None
    retry_after: int | None
    delay_seconds: float


def _now() -> datetime:
    return datetime.now(timezone.utc)


def find_course(session: Session, course_id: str) -> DemoCourse | None:
    return session.scalar(select(DemoCourse).where(DemoCourse.id_on_platform == course_id))


def create_course(session: Session, course_id: str, flavour: str = "moodle") -> DemoCourse:
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}")
    course = DemoCourse(id_on_platform=course_id, flavour=flavour)
    session.add(course)
    session.flush()
    return course


def ensure_demo_course(session: Session) -> DemoCourse:
    """The demo course, seeded on first use: its people, a column per module and the exam, some grades."""
    course = find_course(session, seed.COURSE["id"])
    if course is not None:
        return course
    try:
        with session.begin_nested():
            course = create_course(session, seed.COURSE["id"], "moodle")
            seed_demo_course(session, course, _now())
    except IntegrityError:  # another worker seeded it at the same moment
        course = find_course(session, seed.COURSE["id"])
    return course


def seed_demo_course(session: Session, course: DemoCourse, now: datetime) -> None:
    for user in seed.USERS:
        add_member(session, course, user.id, roles=user.roles, name=user.name, given_name=user.given_name,
                   family_name=user.family_name, email=user.email)
    items = {key: add_line_item(session, course, label=f"Modul {key[1:]}", score_maximum="1",
                                resource_id=f"module:{key}", tag="module", now=now) for key in MODULE_KEYS}
    exam = add_line_item(session, course, label="Slutprov", score_maximum="100", resource_id="final-exam",
                         tag="final-exam", now=now)
    graded = now - timedelta(days=2)
    # Anna has done everything and passed the exam; Erik is halfway and failed module 6.
    for key in MODULE_KEYS:
        set_grade(session, items[key], "demo-learner-1", "1", "1", graded)
    set_grade(session, exam, "demo-learner-1", "75", "100", graded + timedelta(hours=1))
    for key in MODULE_KEYS[:5]:
        set_grade(session, items[key], "demo-learner-2", "1", "1", graded)
    set_grade(session, items["m06"], "demo-learner-2", "0", "1", graded)


def add_member(session: Session, course: DemoCourse, user_id: str, *, roles: Iterable[str] = (LEARNER,),
               name: str | None = None, given_name: str | None = None, family_name: str | None = None,
               email: str | None = None, status: str = "Active") -> DemoMember:
    member = DemoMember(course_id=course.id, user_id=user_id, roles=list(roles), name=name, given_name=given_name,
                        family_name=family_name, email=email, status=status)
    session.add(member)
    session.flush()
    return member


def add_members_in_bulk(session: Session, course: DemoCourse, rows: list[dict]) -> None:
    """Many learners at once (the benchmark's 2,000): rows of user_id, name, email, roles, status."""
    session.execute(insert(DemoMember), [{"course_id": course.id, "given_name": None, "family_name": None, **row}
                                         for row in rows])


def set_member_status(session: Session, course: DemoCourse, user_id: str, status: str) -> None:
    session.execute(update(DemoMember).where(DemoMember.course_id == course.id, DemoMember.user_id == user_id)
                    .values(status=status))


def remove_member(session: Session, course: DemoCourse, user_id: str) -> None:
    session.execute(delete(DemoMember).where(DemoMember.course_id == course.id, DemoMember.user_id == user_id))


def add_line_item(session: Session, course: DemoCourse, *, label: str, score_maximum: str,
                  resource_id: str | None = None, tag: str | None = None, resource_link_id: str | None = None,
                  now: datetime | None = None) -> DemoLineItem:
    item = DemoLineItem(course_id=course.id, label=label, score_maximum=str(Decimal(score_maximum)),
                        resource_id=resource_id, tag=tag, resource_link_id=resource_link_id,
                        created_at=now or _now())
    session.add(item)
    session.flush()
    return item


def line_items(session: Session, course: DemoCourse) -> list[DemoLineItem]:
    return list(session.scalars(select(DemoLineItem).where(DemoLineItem.course_id == course.id)
                                .order_by(DemoLineItem.id)))


def set_grade(session: Session, item: DemoLineItem, user_id: str, score_given: str | None, score_maximum: str,
              timestamp: datetime, comment: str | None = None) -> DemoGrade:
    """What a teacher typing in the gradebook does: the cell takes the new value, whatever was there."""
    grade = grade_of(session, item.id, user_id)
    if grade is None:
        grade = DemoGrade(line_item_id=item.id, user_id=user_id)
        session.add(grade)
    grade.score_given = None if score_given is None else str(Decimal(score_given))
    grade.score_maximum = str(Decimal(score_maximum))
    grade.timestamp = timestamp
    grade.comment = comment
    session.flush()
    return grade


def add_grades_in_bulk(session: Session, rows: list[dict]) -> None:
    """rows of line_item_id, user_id, score_given, score_maximum, timestamp."""
    session.execute(insert(DemoGrade), [{"comment": None, **row} for row in rows])


def grade_of(session: Session, line_item_id: int, user_id: str) -> DemoGrade | None:
    return session.scalar(select(DemoGrade).where(DemoGrade.line_item_id == line_item_id,
                                                  DemoGrade.user_id == user_id))


def expire_tokens(session: Session, course: DemoCourse, now: datetime | None = None) -> None:
    """Every access token issued until now is refused from now on, as when they expire."""
    course.tokens_valid_after = now or _now()
    session.flush()


def inject_fault(session: Session, course: DemoCourse, path_contains: str, *, status: int | None = None,
                 retry_after: int | None = None, delay_seconds: float = 0.0, times: int = 1,
                 method: str | None = None) -> None:
    """The next `times` calls whose path contains `path_contains` fail with `status` (or are slow)."""
    session.add(DemoFault(course_id=course.id, path_contains=path_contains, method=method, status=status,
                          retry_after=retry_after, delay_seconds=delay_seconds, remaining=times))
    session.flush()


def take_fault(session: Session, course: DemoCourse, path: str, method: str) -> Fault | None:
    """The first fault matching this call, used up atomically (two workers never take the same one)."""
    candidates = session.execute(
        select(DemoFault.id, DemoFault.path_contains, DemoFault.method, DemoFault.status, DemoFault.retry_after,
               DemoFault.delay_seconds)
        .where(DemoFault.course_id == course.id, DemoFault.remaining > 0).order_by(DemoFault.id)).all()
    for fault_id, fragment, only_method, status, retry_after, delay in candidates:
        if fragment not in path or (only_method and only_method != method):
            continue
        taken = session.execute(update(DemoFault).where(DemoFault.id == fault_id, DemoFault.remaining > 0)
                                .values(remaining=DemoFault.remaining - 1))
        if taken.rowcount == 1:
            session.commit()
            return Fault(status, retry_after, delay)
    return None
