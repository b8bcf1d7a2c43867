"""The demo platform's LTI Advantage services (AGS line items, results, scores; NRPS), with real quirks.

Each course has a flavour that reproduces what the tool meets in the field:

- `moodle`: results list only users who have a grade, and `?limit=` on results crashes (500);
  Link headers carry `&amp;` and typographic quotes (“next”); Accept and Content-Type must be the
  exact IMS media types (`application/json` gets 400); a score must be strictly newer than the
  stored grade (else 409) and only students can be scored (400); NRPS roles are short names
  (`Learner`); lists are paged only when the tool asks (`limit`, `from`).
- `canvas`: every list pages at 10 items (`limit` up to 50, `page`), with rel="next"/"last"
  links; a student never scored may have no result row, and a submission not yet graded has a
  row without a score; scoring a teacher answers 422, an older timestamp 400; full role URIs.

Both check the Bearer token and its scopes on every call (401 when unknown, expired or short
of scope), and can be told to fail (429 with Retry-After, 500) or be slow (see `inject_fault`).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable
from urllib.parse import urlencode

import jwt
from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from sqlalchemy import func, select

from ..db import get_session
from ..db.demo_lms import DemoCourse, DemoGrade, DemoLineItem, DemoMember
from ..extensions import services
from . import gradebook, seed

bp = Blueprint("services", __name__)

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM, LINEITEM_READ = AGS + "lineitem", AGS + "lineitem.readonly"
RESULT_READ, SCORE = AGS + "result.readonly", AGS + "score"
MEMBERSHIP_READ = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIP_CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
CANVAS_PAGE, CANVAS_MAX_PAGE = 10, 50
ACCESS_TOKEN_KEY = "demo-access-token:"


class ServiceRefusal(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@bp.record_once
def _exempt_from_csrf(state) -> None:
    # The tool (and the tool's deep-linking page) post here cross-site, with tokens, not CSRF forms.
    csrf = state.app.extensions["csrf"]
    for view in (create_line_item, post_score, deep_link_return):
        csrf.exempt(view)


@bp.errorhandler(ServiceRefusal)
def _refused(error: ServiceRefusal):
    response = jsonify(error="refused", message=error.message)
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _number(text: str | None) -> int | float | None:
    if text is None:
        return None
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


# --- every call: fault, token, media type -------------------------------------------------------
def _course(course_id: str) -> DemoCourse:
    session = get_session()
    if course_id == seed.COURSE["id"]:
        course = gradebook.ensure_demo_course(session)
        session.commit()
        return course
    course = gradebook.find_course(session, course_id)
    if course is None:
        abort(404)
    return course


def _guard(course_id: str, scopes: Iterable[str], *, accept: str | None = None,
           content_type: str | None = None) -> DemoCourse:
    course = _course(course_id)
    fault = gradebook.take_fault(get_session(), course, request.path, request.method)
    if fault is not None:
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.status is not None:
            raise ServiceRefusal(fault.status, "injected failure", fault.retry_after)
    _check_token(course, set(scopes))
    if course.flavour == "moodle":
        # Moodle's service routing matches the media type exactly; anything else is a bad request.
        if accept and accept not in request.headers.get("Accept", ""):
            raise ServiceRefusal(400, f"Accept must be {accept}")
        if content_type and request.mimetype != content_type:
            raise ServiceRefusal(400, f"Content-Type must be {content_type}")
    elif content_type and request.mimetype not in (content_type, "application/json"):
        raise ServiceRefusal(415, f"Content-Type must be {content_type}")
    return course


def _check_token(course: DemoCourse, acceptable: set[str]) -> None:
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token:
        raise ServiceRefusal(401, "missing bearer token")
    raw = services().store.get(ACCESS_TOKEN_KEY + token.strip())
    if not raw:
        raise ServiceRefusal(401, "unknown or expired access token")
    grant = json.loads(raw)
    issued_at = grant.get("issued_at", 0)
    if course.tokens_valid_after is not None and issued_at < course.tokens_valid_after.timestamp():
        raise ServiceRefusal(401, "expired access token")
    if not acceptable & set(grant.get("scope", "").split()):
        raise ServiceRefusal(401, f"the token lacks the scope {sorted(acceptable)[0]}")


# --- paging, in each flavour's shape ------------------------------------------------------------
def _window(course: DemoCourse, total: int, *, pageable: bool = True) -> tuple[int, int | None]:
    """(offset, limit) of this page; limit None: everything."""
    args = request.args
    if course.flavour == "canvas":
        size = min(_int_arg("limit", CANVAS_PAGE) or CANVAS_PAGE, CANVAS_MAX_PAGE)
        page = max(_int_arg("page", 1) or 1, 1)
        return (page - 1) * size, size
    if not pageable or "limit" not in args:
        return 0, None
    return max(_int_arg("from", 0) or 0, 0), max(_int_arg("limit", 0) or 0, 1)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        raise ServiceRefusal(400, f"{name} must be a whole number") from None


def _link_header(course: DemoCourse, offset: int, limit: int | None, total: int) -> str | None:
    base = request.base_url
    keep = {k: v for k, v in request.args.items() if k not in ("limit", "from", "page")}
    if limit is None:
        return None
    if course.flavour == "canvas":
        page, last = offset // limit + 1, max((total - 1) // limit + 1, 1)

        def url(n: int) -> str:
            return base + "?" + urlencode({**keep, "page": n, "limit": limit})

        links = [f'<{url(page)}>; rel="current"']
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        links += [f'<{url(1)}>; rel="first"', f'<{url(last)}>; rel="last"']
        return ",".join(links)
    if offset + limit >= total:
        return None
    # As Moodle writes it: the URL HTML-escaped and the relation in typographic quotes.
    query = urlencode({**keep, "limit": limit, "from": offset + limit}).replace("&", "&amp;")
    # Sent as Moodle sends it: UTF-8 bytes in the header (WSGI carries header bytes as Latin-1 text).
    return f"<{base}?{query}>; rel=“next”".encode("utf-8").decode("latin-1")


def _paged(course: DemoCourse, body: Any, media_type: str, offset: int, limit: int | None, total: int) -> Response:
    response = jsonify(body)
    response.mimetype = media_type
    link = _link_header(course, offset, limit, total)
    if link:
        response.headers["Link"] = link
    return response


# --- AGS: line items --------------------------------------------------------------------------------
def _line_item_url(course: DemoCourse, item_id: int) -> str:
    return url_for("demo.services.line_item", course_id=course.id_on_platform, item_id=item_id, _external=True)


def _line_item_json(course: DemoCourse, item: DemoLineItem) -> dict:
    body = {"id": _line_item_url(course, item.id), "label": item.label,
            "scoreMaximum": _number(item.score_maximum)}
    for key, value in (("resourceId", item.resource_id), ("tag", item.tag),
                       ("resourceLinkId", item.resource_link_id)):
        if value:
            body[key] = value
    return body


@bp.get("/ags/<course_id>/lineitems")
def line_items(course_id: str):
    course = _guard(course_id, {LINEITEM, LINEITEM_READ}, accept=LINEITEM_CONTAINER)
    query = select(DemoLineItem).where(DemoLineItem.course_id == course.id)
    for param, column in (("resource_id", DemoLineItem.resource_id), ("tag", DemoLineItem.tag),
                          ("resource_link_id", DemoLineItem.resource_link_id)):
        if param in request.args:
            query = query.where(column == request.args[param])
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    offset, limit = _window(course, total)
    items = session.scalars(query.order_by(DemoLineItem.id).offset(offset).limit(limit)).all()
    return _paged(course, [_line_item_json(course, item) for item in items], LINEITEM_CONTAINER,
                  offset, limit, total)


@bp.post("/ags/<course_id>/lineitems")
def create_line_item(course_id: str):
    course = _guard(course_id, {LINEITEM}, content_type=LINEITEM_TYPE)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not body.get("label") or not _positive(body.get("scoreMaximum")):
        raise ServiceRefusal(400, "a line item needs a label and a scoreMaximum above 0")
    item = gradebook.add_line_item(get_session(), course, label=str(body["label"]),
                                   score_maximum=str(body["scoreMaximum"]), resource_id=body.get("resourceId"),
                                   tag=body.get("tag"), resource_link_id=body.get("resourceLinkId"), now=_now())
    response = jsonify(_line_item_json(course, item))
    response.status_code = 201
    response.mimetype = LINEITEM_TYPE
    return response


def _positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0
    except InvalidOperation:
        return False


def _item(course: DemoCourse, item_id: int) -> DemoLineItem:
    item = get_session().get(DemoLineItem, item_id)
    if item is None or item.course_id != course.id:
        raise ServiceRefusal(404, "no such line item")
    return item


@bp.get("/ags/<course_id>/lineitems/<int:item_id>")
def line_item(course_id: str, item_id: int):
    course = _guard(course_id, {LINEITEM, LINEITEM_READ}, accept=LINEITEM_TYPE)
    response = jsonify(_line_item_json(course, _item(course, item_id)))
    response.mimetype = LINEITEM_TYPE
    return response


# --- AGS: results -----------------------------------------------------------------------------------
@bp.get("/ags/<course_id>/lineitems/<int:item_id>/results")
def results(course_id: str, item_id: int):
    course = _guard(course_id, {RESULT_READ}, accept=RESULT_CONTAINER)
    if course.flavour == "moodle" and "limit" in request.args:
        # Moodle's results service breaks on paging parameters (a PHP error, answered as 500).
        raise ServiceRefusal(500, "Moodle: error reading database")
    item = _item(course, item_id)
    query = select(DemoGrade).where(DemoGrade.line_item_id == item.id)
    if course.flavour == "moodle":
        query = query.where(DemoGrade.score_given.is_not(None))  # only users who have a grade
    if "user_id" in request.args:
        query = query.where(DemoGrade.user_id == request.args["user_id"])
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    offset, limit = _window(course, total, pageable=False)
    grades = session.scalars(query.order_by(DemoGrade.id).offset(offset).limit(limit)).all()
    item_url = _line_item_url(course, item.id)
    body = [_result_json(course, item_url, grade) for grade in grades]
    return _paged(course, body, RESULT_CONTAINER, offset, limit, total)


def _result_json(course: DemoCourse, item_url: str, grade: DemoGrade) -> dict:
    body: dict[str, Any] = {"id": f"{item_url}/results/{grade.user_id}", "scoreOf": item_url,
                            "userId": grade.user_id}
    if grade.score_given is not None:
        body["resultScore"] = _number(grade.score_given)
        body["resultMaximum"] = _number(grade.score_maximum)
    if grade.comment:
        body["comment"] = grade.comment
    if course.flavour == "moodle":
        body["timestamp"] = _iso(grade.timestamp)
    return body


# --- AGS: scores --------------------------------------------------------------------------------------
@bp.post("/ags/<course_id>/lineitems/<int:item_id>/scores")
def post_score(course_id: str, item_id: int):
    course = _guard(course_id, {SCORE}, content_type=SCORE_TYPE)
    item = _item(course, item_id)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not body.get("userId") or not body.get("timestamp"):
        raise ServiceRefusal(400, "a score needs userId and timestamp")
    try:
        timestamp = datetime.fromisoformat(str(body["timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        raise ServiceRefusal(400, "timestamp is not ISO 8601") from None
    if timestamp.tzinfo is None:
        raise ServiceRefusal(400, "timestamp needs a time zone")
    session = get_session()
    member = session.scalar(select(DemoMember).where(DemoMember.course_id == course.id,
                                                     DemoMember.user_id == str(body["userId"])))
    is_student = member is not None and any(role.endswith("#Learner") for role in member.roles)
    if not is_student:
        # Moodle grades only students (400); Canvas: "User not found in course or is not a student".
        raise ServiceRefusal(400 if course.flavour == "moodle" else 422, "the user is not a student in the course")
    stored = gradebook.grade_of(session, item.id, member.user_id)
    if stored is not None:
        if course.flavour == "moodle" and timestamp <= stored.timestamp:
            raise ServiceRefusal(409, "the score is not newer than the grade already stored")
        if course.flavour == "canvas" and timestamp < stored.timestamp:
            raise ServiceRefusal(400, "the score's timestamp is before the last one")
    given = body.get("scoreGiven")
    maximum = body.get("scoreMaximum", item.score_maximum)
    gradebook.set_grade(session, item, member.user_id, None if given is None else str(given), str(maximum),
                        timestamp, body.get("comment"))
    if course.flavour == "canvas":
        return jsonify(resultUrl=f"{_line_item_url(course, item.id)}/results/{member.user_id}")
    return Response(status=200)


# --- NRPS -----------------------------------------------------------------------------------------------
@bp.get("/nrps/<course_id>")
def memberships(course_id: str):
    course = _guard(course_id, {MEMBERSHIP_READ}, accept=MEMBERSHIP_CONTAINER)
    query = select(DemoMember).where(DemoMember.course_id == course.id)
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    offset, limit = _window(course, total)
    members = session.scalars(query.order_by(DemoMember.id).offset(offset).limit(limit)).all()
    context = dict(seed.COURSE) if course.id_on_platform == seed.COURSE["id"] else {"id": course.id_on_platform}
    context.pop("type", None)
    body = {"id": request.url, "context": context, "members": [_member_json(course, m) for m in members]}
    return _paged(course, body, MEMBERSHIP_CONTAINER, offset, limit, total)


def _member_json(course: DemoCourse, member: DemoMember) -> dict:
    roles = member.roles
    if course.flavour == "moodle":
        roles = [role.rsplit("#", 1)[-1] for role in roles if "/membership" in role]
    body = {"user_id": member.user_id, "roles": roles, "status": member.status}
    for key in ("name", "given_name", "family_name", "email"):
        if getattr(member, key):
            body[key] = getattr(member, key)
    return body


# --- Deep Linking return ------------------------------------------------------------------------------
@bp.post("/deep-link-return")
def deep_link_return():
    """Checks the tool's response JWT against the tool's published keys, then adds its columns."""
    token = request.form.get("JWT", "")
    settings = services().settings
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        jwks = services().http.get(settings.BASE_URL.rstrip("/") + "/lti/jwks").json()
        key = next(k for k in jwks["keys"] if k.get("kid") == kid)
        claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=seed.issuer(settings),
                            issuer=seed.CLIENT_ID, options={"require": ["exp", "iat", "nonce"]})
    except (jwt.PyJWTError, StopIteration, ValueError, KeyError) as exc:
        abort(400, description=f"invalid deep linking response: {exc}")
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    if claims.get(claim + "message_type") != "LtiDeepLinkingResponse" or \
            claims.get(claim + "deployment_id") != seed.DEPLOYMENT_ID:
        abort(400, description="not a deep linking response for this deployment")
    course = _course(request.args.get("course", seed.COURSE["id"]))
    created = []
    for index, item in enumerate(claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])):
        line = item.get("lineItem")
        if item.get("type") != "ltiResourceLink" or not isinstance(line, dict):
            continue
        # Moodle names the gradebook column after the activity; Canvas takes the line item's label.
        label = item.get("title") if course.flavour == "moodle" else line.get("label") or item.get("title")
        created.append(gradebook.add_line_item(
            get_session(), course, label=str(label or "?"), score_maximum=str(line.get("scoreMaximum", 1)),
            resource_id=line.get("resourceId"), tag=line.get("tag"),
            resource_link_id=f"dl-{int(time.time())}-{index}", now=_now()))
    return render_template("demo/deep_link_done.html", items=created,
                           data=claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data"))
