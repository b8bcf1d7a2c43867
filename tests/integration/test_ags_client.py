"""AGS as Moodle and Canvas really serve it, over real HTTP against the demo platform's two flavours."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from lti_tool.lti.ags import (LINEITEM, LINEITEM_CONTAINER, RESULT_CONTAINER, RESULT_READ_SCOPE, Paging,
                              paging_for)
from lti_tool.lti.errors import LmsServiceError
from lti_tool.lti.service_client import RetryPolicy
from tests.support.fake_lms import FakeLms, RecordingSession


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


def graded_course(lms: FakeLms, flavour: str, learners: int = 3):
    course = lms.course(f"{flavour}-course", flavour)
    for i in range(learners):
        lms.add_learner(course, f"s{i}")
    column = lms.column(course, "module:m01", maximum="10")
    return course, column


def test_moodle_answers_a_generic_json_accept_with_400_and_the_ims_type_with_200(lms):
    course, column = graded_course(lms, "moodle")
    token = lms.token([RESULT_READ_SCOPE])
    url = f"{lms.issuer}/ags/{course.id_on_platform}/lineitems/{column}/results"
    as_json = requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    as_ims = requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": RESULT_CONTAINER})
    assert (as_json.status_code, as_ims.status_code) == (400, 200)


def test_every_request_names_the_exact_ims_media_type(lms):
    course, column = graded_course(lms, "moodle")
    http = RecordingSession()
    ags = lms.ags(course, http=http)
    items = list(ags.line_items())
    list(ags.result_pages(items[0].id))
    created = ags.create_line_item(label="Extra", score_maximum=Decimal(5), resource_id="module:m02")
    accepts = [(url.split("/ags/")[-1], headers.get("Accept"), headers.get("Content-Type"))
               for method, url, headers, _ in http.sent if "/ags/" in url]
    assert accepts == [
        (f"{course.id_on_platform}/lineitems", LINEITEM_CONTAINER, None),
        (f"{course.id_on_platform}/lineitems/{column}/results", RESULT_CONTAINER, None),
        (f"{course.id_on_platform}/lineitems", LINEITEM, LINEITEM),
    ]
    assert created.resource_id == "module:m02" and created.score_maximum == 5


def test_limit_on_moodle_results_crashes_it_and_the_client_never_sends_it(lms):
    course, column = graded_course(lms, "moodle", learners=5)
    for i in range(5):
        lms.grade(column, f"s{i}", "7", "10")
    token = lms.token([RESULT_READ_SCOPE])
    crashed = requests.get(f"{lms.issuer}/ags/{course.id_on_platform}/lineitems/{column}/results?limit=2",
                           headers={"Authorization": f"Bearer {token}", "Accept": RESULT_CONTAINER})
    assert crashed.status_code == 500
    http = RecordingSession()
    pages = list(lms.ags(course, http=http).result_pages(lms.ags(course).lineitems_url + f"/{column}"))
    assert [len(page) for page in pages] == [5]
    assert all("limit" not in url for url in http.urls("/results"))


def test_moodle_lists_only_graded_users_and_canvas_an_ungraded_submission_without_a_score(lms):
    results = {}
    for flavour in ("moodle", "canvas"):
        course, column = graded_course(lms, flavour)
        lms.grade(column, "s0", "8", "10")
        lms.grade(column, "s1", None, "10")  # a submission not graded yet; s2 was never scored
        token = lms.token([RESULT_READ_SCOPE])
        raw = requests.get(f"{lms.issuer}/ags/{course.id_on_platform}/lineitems/{column}/results",
                           headers={"Authorization": f"Bearer {token}", "Accept": RESULT_CONTAINER}).json()
        read = [r for page in lms.ags(course).result_pages(f"{lms.ags(course).lineitems_url}/{column}") for r in page]
        results[flavour] = (sorted(r["userId"] for r in raw), [(r.user_id, r.score, r.maximum) for r in read])
    assert results["moodle"] == (["s0"], [("s0", Decimal(8), Decimal(10))])
    # Canvas shows the ungraded submission as a row without a score; the client reads it as no grade.
    assert results["canvas"] == (["s0", "s1"], [("s0", Decimal(8), Decimal(10))])


@pytest.mark.parametrize("flavour,paging,shape", [
    ("canvas", Paging(None, None), 'rel="next"'),  # Canvas's own 10 a page
    ("canvas", paging_for("canvas"), 'rel="next"'),  # the tool asks for 50
    ("moodle", Paging(4, None), "rel=“next”"),  # Moodle pages when asked: &amp; and typographic quotes
], ids=["canvas-default", "canvas-50", "moodle-limit"])
def test_line_items_are_read_to_the_last_page_in_every_link_shape(lms, flavour, paging, shape):
    course = lms.course(f"paged-{flavour}-{paging.list_limit}", flavour)
    for i in range(57):
        lms.column(course, f"module:m{i % 12 + 1:02}", label=f"Column {i}")
    http = RecordingSession()
    items = list(lms.ags(course, paging=paging, http=http).line_items())
    assert [item.label for item in items] == [f"Column {i}" for i in range(57)]
    page_size = paging.list_limit or 10
    assert len(http.urls("/lineitems")) == -(-57 // page_size)
    raw = requests.get(http.urls("/lineitems")[0], headers={
        "Authorization": f"Bearer {lms.token([RESULT_READ_SCOPE, 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem'])}",
        "Accept": LINEITEM_CONTAINER})
    assert shape in raw.headers["Link"].encode("latin-1").decode("utf-8")


def test_line_items_are_filtered_by_resource_id_and_tag(lms):
    course = lms.course("filtered", "canvas")
    lms.column(course, "module:m03", tag="module")
    lms.column(course, "final-exam", tag="final-exam", maximum="100")
    ags = lms.ags(course)
    assert [i.resource_id for i in ags.line_items(resource_id="final-exam")] == ["final-exam"]
    assert [i.resource_id for i in ags.line_items(tag="module")] == ["module:m03"]


def test_an_expired_token_is_replaced_once_and_the_call_succeeds(lms):
    course, _ = graded_course(lms, "canvas")
    http = RecordingSession()
    ags = lms.ags(course, http=http)
    assert len(list(ags.line_items())) == 1
    lms.expire_tokens(course)
    assert len(list(ags.line_items())) == 1
    assert [(url.rsplit("/", 1)[-1], status) for _, url, _, status in http.sent] == [
        ("token", 200), ("lineitems?limit=50", 200), ("lineitems?limit=50", 401), ("token", 200),
        ("lineitems?limit=50", 200)]


def test_429_waits_as_long_as_retry_after_then_retries(lms):
    course, _ = graded_course(lms, "canvas")
    lms.fail(course, "/lineitems", status=429, retry_after=7)
    assert len(list(lms.ags(course).line_items())) == 1
    assert lms.sleeps == [7]


def test_a_500_is_retried_with_backoff_and_finally_reported_as_retryable(lms):
    course, _ = graded_course(lms, "moodle")
    lms.fail(course, "/lineitems", status=500, times=3)
    with pytest.raises(LmsServiceError) as failed:
        list(lms.ags(course).line_items())
    assert failed.value.status == 500 and not failed.value.is_permanent
    # Three attempts, two waits of the exponential steps 1 s and 2 s with the jitter at its middle.
    assert lms.sleeps == [0.75, 1.5]


def test_a_time_out_is_retried(lms):
    course, _ = graded_course(lms, "moodle")
    lms.fail(course, "/lineitems", delay_seconds=1.5)
    assert len(list(lms.ags(course, http=RecordingSession(timeout=0.5)).line_items())) == 1
    assert lms.sleeps == [0.75]


def test_a_permanent_refusal_is_not_retried(lms):
    course, _ = graded_course(lms, "moodle")
    lms.fail(course, "/lineitems", status=404, times=5)
    with pytest.raises(LmsServiceError) as failed:
        list(lms.ags(course).line_items())
    assert failed.value.is_permanent and failed.value.status == 404 and lms.sleeps == []


def test_retry_after_longer_than_the_patience_of_a_sync_fails_at_once(lms):
    course, _ = graded_course(lms, "moodle")
    lms.fail(course, "/lineitems", status=429, retry_after=3600)
    with pytest.raises(LmsServiceError) as failed:
        list(lms.ags(course, retry=RetryPolicy(sleep=lms.sleeps.append, max_delay=30)).line_items())
    assert failed.value.retry_after == 3600 and lms.sleeps == []


def test_line_items_scores_and_results_against_an_independent_platform(live_tool):
    """lti1p3platform's own handlers: its token endpoint, its scope checks, its paging (rel=next, unquoted)."""
    from datetime import datetime, timezone

    from lti_tool.lti.ags import AgsClient, Score
    from lti_tool.lti.platforms import PlatformRegistration
    from tests.support.fake_lms import ALL_AGS_SCOPES
    from tests.support.independent_ags import IndependentAgs

    platform = IndependentAgs(issuer="https://lms.independent.example", client_id="indep-tool",
                              tool_base_url=live_tool.base_url).start()
    try:
        registration = PlatformRegistration(
            id=0, issuer="https://lms.independent.example", client_id="indep-tool",
            auth_login_url=platform.base_url + "/auth", auth_token_url=platform.base_url + "/token",
            key_set_url=platform.base_url + "/jwks", auth_audience=None, is_active=True)
        http = RecordingSession()
        client = FakeLms(live_tool).service_client(registration=registration, http=http)
        ags = AgsClient(client, platform.base_url + "/lineitems", ALL_AGS_SCOPES, Paging(None, None))
        for key in ("m01", "m02", "m03"):
            ags.create_line_item(label=f"Modul {key}", score_maximum=Decimal(10), resource_id=f"module:{key}",
                                 tag="module")
        items = list(ags.line_items())
        assert [i.resource_id for i in items] == ["module:m01", "module:m02", "module:m03"]
        when = datetime(2027, 9, 1, 8, 0, tzinfo=timezone.utc)
        for user, given in (("u1", "10"), ("u2", "7.5"), ("u3", "0")):
            ags.post_score(items[0].id, Score(user, Decimal(given), Decimal(10), when, comment="ok"))
        results = [r for page in ags.result_pages(items[0].id) for r in page]
        assert [(r.user_id, r.score, r.maximum) for r in results] == [
            ("u1", Decimal(10), Decimal(10)), ("u2", Decimal("7.5"), Decimal(10)), ("u3", Decimal(0), Decimal(10))]
        assert platform.scores[0][1] == {"userId": "u1", "scoreGiven": 10, "scoreMaximum": 10, "comment": "ok",
                                         "timestamp": "2027-09-01T08:00:00+00:00", "activityProgress": "Completed",
                                         "gradingProgress": "FullyGraded"}
        # Two pages each (the package pages at 2), followed through its unquoted rel=next.
        assert len(http.urls("/lineitems?")) == 1 and len(http.urls("/results")) == 2
    finally:
        platform.stop()
