"""The Content-Security-Policy of every page: scripts only by nonce, nothing from elsewhere, framed only by LMSs.

Inline `<script>` and `<style>` elements carry `nonce="{{ csp_nonce() }}"`; there are no inline
event handlers and no `style` attributes (a nonce does not cover them: use a class).

Who may frame a page (`frame-ancestors`, besides the tool itself):
- a page of a launch (`?launch=<id>`): that launch's LMS only (origins recorded at the launch);
- the admin console without a launch (operators, in a browser tab of its own): nobody;
- any other page (errors, the LTI login and launch responses, registration and verification
  pages): the LMSs of every active registration, read at most once a TTL per process. Views
  add what they know on top (the LMS running a Dynamic Registration, the page posting to
  /lti/login or /lti/launch).
Verification pages are deliberately not embeddable by other sites: the tool's address in the
address bar is what makes a verification trustworthy, and a framed page hides it.
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Callable, Iterable

from flask import Flask, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..db.queries import registered_platform_urls
from ..extensions import services
from ..lti.origins import origin_of, origins_of
from ..services.launches import LaunchSession, load_launch_session

log = logging.getLogger(__name__)
REGISTERED_ORIGINS_TTL_SECONDS = 60
# Operators' pages: /admin/..., unless an LMS administrator's launch opened them.
CONSOLE_PREFIX = "/admin/"


class RegisteredOrigins:
    """The origins of every active registration's LMS, queried at most once a TTL (never once a request)."""

    def __init__(self, engine: Engine, ttl_seconds: float = REGISTERED_ORIGINS_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._engine, self._ttl, self._clock = engine, ttl_seconds, clock
        self._origins: tuple[str, ...] = ()
        self._expires_at = float("-inf")

    def get(self) -> tuple[str, ...]:
        if self._clock() >= self._expires_at:
            try:
                # A connection of its own: the request's transaction may have failed.
                with self._engine.connect() as connection:
                    self._origins = origins_of(registered_platform_urls(connection))
            except SQLAlchemyError:
                log.warning("registered platforms' origins unavailable; keeping the last known", exc_info=True)
            self._expires_at = self._clock() + self._ttl
        return self._origins

    def forget(self) -> None:
        """Read them again at the next page (after a registration changed in this process)."""
        self._expires_at = float("-inf")


def registered_origins() -> RegisteredOrigins:
    return current_app.extensions["csp_registered_origins"]


def csp_nonce() -> str:
    """This response's nonce (templates: `nonce="{{ csp_nonce() }}"`)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def allow_framing_by(*urls: str | None) -> None:
    """Let the LMSs at these URLs frame this response too (what is not an http(s) URL is ignored)."""
    g.csp_frame_origins = (*g.get("csp_frame_origins", ()), *origins_of(urls))


def allow_form_posts_to(*urls: str | None) -> None:
    """Let this page's forms post to these URLs' origins (an auto-posting form back to the LMS)."""
    g.csp_form_targets = (*g.get("csp_form_targets", ()), *origins_of(urls))


def policy(nonce: str, frame_ancestors: Iterable[str], form_targets: Iterable[str]) -> str:
    directives = (
        ("default-src", "'none'"),
        ("script-src", f"'nonce-{nonce}'"),
        ("style-src", f"'self' 'nonce-{nonce}'"),
        ("img-src", "'self' data:"),
        ("connect-src", "'self'"),
        # Checked on redirects after a post too: every hop of the demo launch and of Dynamic
        # Registration stays on the tool; the deep-linking response adds the LMS's return URL.
        ("form-action", " ".join(dict.fromkeys(("'self'", *form_targets)))),
        ("frame-ancestors", " ".join(dict.fromkeys(frame_ancestors))),
        ("base-uri", "'none'"),
        ("object-src", "'none'"),
    )
    return "; ".join(f"{name} {value}" for name, value in directives)


def _launch_session(launch_id: str) -> LaunchSession | None:
    """The launch of a page that did not load it itself (an error page: its role did not fit, or it ended)."""
    if g.get("db_failed"):
        return None
    try:
        return load_launch_session(services().store, launch_id)
    except Exception:  # the page is already an error: keep it, framed as a page of no launch
        log.warning("launch session unavailable for the CSP", exc_info=True)
        g.db_failed = True
        return None


def frame_ancestors() -> tuple[str, ...]:
    launch_id = request.args.get("launch") or request.form.get("launch")
    launch = g.get("launch") or (_launch_session(launch_id) if launch_id else None)
    if launch is not None:
        platform = launch.frame_origins or origins_of([launch.platform_issuer])  # a session from before them
    elif not launch_id and request.path.startswith(CONSOLE_PREFIX):
        return ("'none'",)
    else:
        platform = registered_origins().get()
    return ("'self'", *platform, *g.get("csp_frame_origins", ()))


def init_app(app: Flask) -> None:
    app.extensions["csp_registered_origins"] = RegisteredOrigins(app.extensions["db_engine"])
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    tool_origin = origin_of(app.config["LTI_SETTINGS"].BASE_URL)

    @app.after_request
    def add_content_security_policy(response):
        # Only what a browser renders as a page: not redirects, JSON, PDFs or downloads.
        if (response.mimetype != "text/html" or 300 <= response.status_code < 400
                or "Content-Security-Policy" in response.headers):
            return response
        # The tool's public address may differ from the one in the address bar (the demo's forms use it).
        form_targets = (*((tool_origin,) if tool_origin else ()), *g.get("csp_form_targets", ()))
        response.headers["Content-Security-Policy"] = policy(csp_nonce(), frame_ancestors(), form_targets)
        return response
