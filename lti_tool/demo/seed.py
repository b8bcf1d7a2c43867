"""The demo platform's fixed world: one course, its people, and the tool's registration."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..config import Settings
from ..services.platforms import NewPlatform, add_platform, find_deployment, set_deployment_active
from ..db.queries import DatabaseRegistrations

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CLIENT_ID = "demo-tool"
DEPLOYMENT_ID = "demo-deployment-1"
COURSE = {"id": "demo-course-fei-1", "label": "FEI-NLU-1",
          "title": "Näringslivsutvecklare – certifieringsprogram (demo)",
          "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]}
RESOURCE_LINK = {"id": "demo-link-dashboard", "title": "Certifiering"}


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    label: str


USERS = (
    DemoUser("demo-learner-1", "Anna Andersson", "Anna", "Andersson", "anna.andersson@example.se",
             (LIS + "membership#Learner",), "learner"),
    DemoUser("demo-learner-2", "Erik Eriksson", "Erik", "Eriksson", "erik.eriksson@example.se",
             (LIS + "membership#Learner",), "learner"),
    DemoUser("demo-instructor-1", "Björn Berg", "Björn", "Berg", "bjorn.berg@example.se",
             (LIS + "membership#Instructor", LIS + "institution/person#Faculty"), "instructor"),
    DemoUser("demo-admin-1", "Cecilia Carlsson", "Cecilia", "Carlsson", "cecilia.carlsson@example.se",
             (LIS + "system/person#Administrator", LIS + "institution/person#Administrator",
              LIS + "membership#Instructor"), "administrator"),
)
USERS_BY_ID = {user.id: user for user in USERS}


def issuer(settings: Settings) -> str:
    return settings.BASE_URL.rstrip("/") + "/demo"


def demo_platform(settings: Settings) -> NewPlatform:
    base = issuer(settings)
    return NewPlatform(issuer=base, client_id=CLIENT_ID, auth_login_url=base + "/auth",
                       auth_token_url=base + "/token", key_set_url=base + "/jwks",
                       deployment_ids=(DEPLOYMENT_ID,), name="Demo platform")


def ensure_demo_registration(session: Session, settings: Settings, now: datetime) -> int:
    """Register the demo platform like any other platform; idempotent."""
    platform = demo_platform(settings)
    existing = DatabaseRegistrations(lambda: session).registrations_for(platform.issuer, platform.client_id)
    if existing:
        registration_id = existing[0].id
        if find_deployment(session, registration_id, DEPLOYMENT_ID) is None:
            set_deployment_active(session, registration_id, DEPLOYMENT_ID, True, now)
        return registration_id
    return add_platform(session, platform, now).id
