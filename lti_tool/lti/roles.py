"""LTI role URIs (and Moodle's short NRPS names) mapped to the audiences the tool serves."""
from __future__ import annotations

import enum
from typing import Iterable

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


class Audience(str, enum.Enum):
    """Who a page is for; a launch may carry several, the highest wins."""

    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    ADMINISTRATOR = "administrator"


_ADMIN_ROLES = {
    LIS + "system/person#Administrator",
    LIS + "system/person#SysAdmin",
    LIS + "institution/person#Administrator",
    LIS + "membership#Administrator",
}
_INSTRUCTOR_NAMES = {"Instructor", "TeachingAssistant", "ContentDeveloper", "Manager"}
_LEARNER_NAMES = {"Learner", "Student"}


def _short_name(role: str) -> str:
    """`http://…/membership#Instructor`, `…/membership/Instructor#TeachingAssistant` → the name."""
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def audiences(roles: Iterable[str]) -> set[Audience]:
    found: set[Audience] = set()
    for role in roles:
        if role in _ADMIN_ROLES or role == "Administrator":
            found.add(Audience.ADMINISTRATOR)
            continue
        if "/system/" in role or "/institution/" in role:
            # Institution roles say who someone is at the school, not in this course.
            continue
        name = _short_name(role)
        if name in _INSTRUCTOR_NAMES:
            found.add(Audience.INSTRUCTOR)
        elif name in _LEARNER_NAMES:
            found.add(Audience.LEARNER)
    return found


def primary_audience(roles: Iterable[str]) -> Audience | None:
    found = audiences(roles)
    for audience in (Audience.ADMINISTRATOR, Audience.INSTRUCTOR, Audience.LEARNER):
        if audience in found:
            return audience
    return None
