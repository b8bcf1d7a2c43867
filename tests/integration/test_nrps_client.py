"""NRPS as Moodle and Canvas serve it: short or full role names, paging, inactive members."""
from __future__ import annotations

import pytest
import requests

from lti_tool.lti.nrps import MEMBERSHIP_CONTAINER, MEMBERSHIP_SCOPE
from tests.support.fake_lms import FakeLms, RecordingSession

LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


@pytest.mark.parametrize("flavour,learner_role,teacher_role", [
    ("moodle", "Learner", "Instructor"),
    ("canvas", LIS + "Learner", LIS + "Instructor"),
])
def test_roles_in_either_dialect_tell_learners_from_teachers(lms, flavour, learner_role, teacher_role):
    course = lms.course(f"roles-{flavour}", flavour)
    lms.add_learner(course, "anna")
    lms.add_teacher(course, "bjorn")
    lms.add_learner(course, "ta", roles=(LIS + "Learner", "http://purl.imsglobal.org/vocab/lis/v2/membership/"
                                                          "Instructor#TeachingAssistant"))
    members = {m.user_id: m for page in lms.nrps(course).member_pages() for m in page}
    assert members["anna"].roles == (learner_role,) and members["bjorn"].roles == (teacher_role,)
    assert [(m.is_learner, m.is_instructor) for m in (members["anna"], members["bjorn"], members["ta"])] == [
        (True, False), (False, True), (False, True)]
    assert members["anna"].name == "Anna" and members["anna"].email == "anna@example.se"


@pytest.mark.parametrize("flavour,page_size,requests_made,quote", [
    ("canvas", None, 3, '"'),  # Canvas's own 10 a page
    ("canvas", 50, 1, '"'),
    ("moodle", 10, 3, "“"),  # Moodle pages only when asked, with typographic quotes and &amp;
    ("moodle", None, 1, None),
])
def test_every_member_on_every_page(lms, flavour, page_size, requests_made, quote):
    course = lms.course(f"paged-{flavour}-{page_size}", flavour)
    for i in range(23):
        lms.add_learner(course, f"learner-{i:02}")
    http = RecordingSession()
    members = [m.user_id for page in lms.nrps(course, page_size=page_size, http=http).member_pages() for m in page]
    assert members == [f"learner-{i:02}" for i in range(23)]
    assert len(http.urls("/nrps/")) == requests_made
    first = requests.get(http.urls("/nrps/")[0], headers={"Authorization": f"Bearer {lms.token([MEMBERSHIP_SCOPE])}",
                                                           "Accept": MEMBERSHIP_CONTAINER})
    link = first.headers.get("Link", "").encode("latin-1").decode("utf-8")
    assert (quote in link) if quote else not link
    if flavour == "moodle" and quote:
        assert "&amp;" in link


def test_an_inactive_member_is_reported_not_dropped(lms):
    course = lms.course("suspended", "moodle")
    lms.add_learner(course, "anna")
    lms.add_learner(course, "erik")
    lms.set_status(course, "erik", "Inactive")
    members = {m.user_id: m for page in lms.nrps(course).member_pages() for m in page}
    assert (members["anna"].is_active, members["erik"].is_active, members["erik"].status) == (True, False, "Inactive")


def test_moodle_wants_the_membership_media_type(lms):
    course = lms.course("media", "moodle")
    lms.add_learner(course, "anna")
    token = lms.token([MEMBERSHIP_SCOPE])
    url = f"{lms.issuer}/nrps/{course.id_on_platform}"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}).status_code == 400
    assert requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": MEMBERSHIP_CONTAINER}).ok
    assert requests.get(url, headers={"Authorization": "Bearer not-a-token",
                                      "Accept": MEMBERSHIP_CONTAINER}).status_code == 401
