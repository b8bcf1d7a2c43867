"""Assignment and Grade Services 2.0: line items, results and scores, as Moodle and Canvas really serve them.

- Every request names the exact IMS media type (Moodle answers `application/json` with 400).
- Lists are read to the last page, whatever the Link header looks like (service_client/link_header).
- Results are never asked for with `limit` on a platform not known to page them: `?limit=` on
  Moodle's results crashes it (500). Canvas pages at 10 unless asked for more, so there the
  tool asks for its maximum page.
- A result without a score (Canvas: a submission not yet graded) is no grade, and a missing row
  (Moodle lists only users with a grade; Canvas may omit students never scored) is no grade either.
- Scores are exact: JSON numbers become Decimals through their text, never through binary floats.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import LmsServiceError
from .service_client import AGS, NO_RETRY, ServiceClient

SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM_SCOPE, LINEITEM_READ_SCOPE = SCOPE + "lineitem", SCOPE + "lineitem.readonly"
RESULT_READ_SCOPE, SCORE_SCOPE = SCOPE + "result.readonly", SCOPE + "score"
LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
CANVAS_MAX_PAGE = 50


@dataclass(frozen=True)
class Paging:
    """Which page size to ask a platform for; None: do not ask (the platform's own paging, or none)."""

    list_limit: int | None
    results_limit: int | None


def paging_for(product_family: str | None) -> Paging:
    """Canvas pages every list at 10 and accepts up to 50; anything else (Moodle above all) is not asked."""
    if (product_family or "").lower() == "canvas":
        return Paging(CANVAS_MAX_PAGE, CANVAS_MAX_PAGE)
    return Paging(None, None)


@dataclass(frozen=True)
class LineItem:
    id: str
    label: str
    score_maximum: Decimal
    resource_id: str | None = None
    tag: str | None = None
    resource_link_id: str | None = None


@dataclass(frozen=True)
class Result:
    user_id: str
    score: Decimal
    maximum: Decimal
    # Moodle says when the grade was given; Canvas does not (the sync then uses when it first saw it).
    timestamp: datetime | None
    comment: str | None


@dataclass(frozen=True)
class Score:
    user_id: str
    score_given: Decimal
    score_maximum: Decimal
    timestamp: datetime
    comment: str | None = None
    activity_progress: str = "Completed"
    grading_progress: str = "FullyGraded"


class AgsClient:
    """One course's line items container, with the scopes its launch granted."""

    def __init__(self, client: ServiceClient, lineitems_url: str, scopes: list[str], paging: Paging):
        self._client = client
        self.lineitems_url = lineitems_url
        self._scopes = scopes
        self._paging = paging

    def _require(self, *any_of: str) -> None:
        if not set(any_of) & set(self._scopes):
            raise LmsServiceError(f"the platform did not grant {any_of[0]}", is_permanent=True)

    def line_items(self, *, resource_id: str | None = None, tag: str | None = None,
                   resource_link_id: str | None = None) -> Iterator[LineItem]:
        """The tool's line items in the course (only its own: AGS shows no other columns), every page."""
        self._require(LINEITEM_SCOPE, LINEITEM_READ_SCOPE)
        url = with_query(self.lineitems_url, resource_id=resource_id, tag=tag, resource_link_id=resource_link_id,
                         limit=self._paging.list_limit)
        for page in self._client.pages(AGS, self._scopes, url, LINEITEM_CONTAINER):
            if not isinstance(page.body, list):
                raise LmsServiceError(f"{url}: the line items are not a list", is_permanent=True)
            for raw in page.body:
                item = _line_item(raw)
                if item is not None:
                    yield item

    def create_line_item(self, *, label: str, score_maximum: Decimal, resource_id: str | None = None,
                         tag: str | None = None, resource_link_id: str | None = None) -> LineItem:
        self._require(LINEITEM_SCOPE)
        body = {"label": label, "scoreMaximum": _json_number(score_maximum), "resourceId": resource_id,
                "tag": tag, "resourceLinkId": resource_link_id}
        created = self._client.post(AGS, self._scopes, self.lineitems_url,
                                    {k: v for k, v in body.items() if v is not None},
                                    content_type=LINEITEM, accept=LINEITEM)
        item = _line_item(created)
        if item is None:
            raise LmsServiceError(f"{self.lineitems_url}: the created line item has no id", is_permanent=True)
        return item

    def result_pages(self, line_item_id: str, *, user_id: str | None = None) -> Iterator[list[Result]]:
        """The graded results of one line item, a page at a time (memory stays one page, whatever the course)."""
        self._require(RESULT_READ_SCOPE)
        url = with_query(_sub_path(line_item_id, "results"), user_id=user_id, limit=self._paging.results_limit)
        for page in self._client.pages(AGS, self._scopes, url, RESULT_CONTAINER):
            if not isinstance(page.body, list):
                raise LmsServiceError(f"{url}: the results are not a list", is_permanent=True)
            yield [result for result in map(_result, page.body) if result is not None]

    def post_score(self, line_item_id: str, score: Score) -> None:
        """One attempt, no retries: the score outbox decides when to try again."""
        self._require(SCORE_SCOPE)
        body = {"userId": score.user_id, "scoreGiven": _json_number(score.score_given),
                "scoreMaximum": _json_number(score.score_maximum), "timestamp": iso_timestamp(score.timestamp),
                "activityProgress": score.activity_progress, "gradingProgress": score.grading_progress}
        if score.comment:
            body["comment"] = score.comment
        self._client.post(AGS, self._scopes, _sub_path(line_item_id, "scores"), body, content_type=SCORE,
                          retry=NO_RETRY)


def with_query(url: str, **params: Any) -> str:
    """The URL with these query parameters added (None values left out), keeping its own."""
    extra = {k: v for k, v in params.items() if v is not None}
    if not extra:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit(parts._replace(query=query))


def _sub_path(line_item_id: str, ending: str) -> str:
    """`…/lineitems/7?type_id=2` + results → `…/lineitems/7/results?type_id=2` (the spec's rule)."""
    parts = urlsplit(line_item_id)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + ending))


def iso_timestamp(moment: datetime) -> str:
    # Whole seconds: Moodle keeps grade times in seconds, so only a later second is "strictly newer".
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None


def _line_item(raw: Any) -> LineItem | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    maximum = _decimal(raw.get("scoreMaximum"))
    return LineItem(id=raw["id"], label=str(raw.get("label") or ""), score_maximum=maximum or Decimal(0),
                    resource_id=raw.get("resourceId") or None, tag=raw.get("tag") or None,
                    resource_link_id=raw.get("resourceLinkId") or None)


def _result(raw: Any) -> Result | None:
    if not isinstance(raw, dict) or raw.get("userId") in (None, ""):
        return None
    score = _decimal(raw.get("resultScore"))
    if score is None:
        return None  # a submission not yet graded
    # The spec's default maximum is 1 when the platform leaves it out.
    maximum = _decimal(raw.get("resultMaximum"))
    comment = raw.get("comment")
    return Result(user_id=str(raw["userId"]), score=score, maximum=Decimal(1) if maximum is None else maximum,
                  timestamp=_timestamp(raw.get("timestamp")), comment=comment if isinstance(comment, str) else None)
