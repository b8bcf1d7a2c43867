"""The one way the tool talks HTTP to an LMS: a User-Agent on every request, and a timeout."""
from __future__ import annotations

import requests

from .. import __version__

USER_AGENT = f"lti-tool/{__version__} (certification programme; +https://purl.imsglobal.org/spec/lti)"


class TimeoutSession(requests.Session):
    """A session whose every request has a User-Agent (Canvas refuses calls without) and a timeout."""

    def __init__(self, timeout: float = 10.0):
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)
