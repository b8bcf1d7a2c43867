"""Names and Role Provisioning Services 2.0: a course's members, every page, in either role dialect.

Moodle sends short role names (`Learner`, `Instructor`) in NRPS while its launches carry full
URIs; Canvas sends full URIs. lti/roles.py understands both, so members are judged the same way
as launches. A member the platform marks Inactive or Deleted is reported as such, not dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .ags import with_query
from .errors import LmsServiceError
from .roles import Audience, audiences
from .service_client import NRPS, ServiceClient

MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIP_CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


@dataclass(frozen=True)
class Member:
    user_id: str
    roles: tuple[str, ...]
    status: str  # "Active" | "Inactive" | "Deleted"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "Active"

    @property
    def is_instructor(self) -> bool:
        return bool(audiences(self.roles) & {Audience.INSTRUCTOR, Audience.ADMINISTRATOR})

    @property
    def is_learner(self) -> bool:
        """Someone taking the course: a learner role and no teaching one."""
        return Audience.LEARNER in audiences(self.roles) and not self.is_instructor


class NrpsClient:
    def __init__(self, client: ServiceClient, memberships_url: str, page_size: int | None = None):
        self._client = client
        self.memberships_url = memberships_url
        self._page_size = page_size

    def member_pages(self) -> Iterator[list[Member]]:
        url = with_query(self.memberships_url, limit=self._page_size)
        for page in self._client.pages(NRPS, [MEMBERSHIP_SCOPE], url, MEMBERSHIP_CONTAINER):
            members = page.body.get("members") if isinstance(page.body, dict) else None
            if not isinstance(members, list):
                raise LmsServiceError(f"{url}: the membership container has no members list", is_permanent=True)
            yield [member for member in map(_member, members) if member is not None]


def _member(raw: Any) -> Member | None:
    if not isinstance(raw, dict) or raw.get("user_id") in (None, ""):
        return None
    roles = raw.get("roles")
    status = raw.get("status") or "Active"  # the spec's default
    return Member(user_id=str(raw["user_id"]),
                  roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
                  status=status if status in ("Active", "Inactive", "Deleted") else "Inactive",
                  **{key: raw[key] if isinstance(raw.get(key), str) else None
                     for key in ("name", "given_name", "family_name", "email")})
