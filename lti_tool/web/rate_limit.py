"""Fixed-window rate limits shared by every worker (counters live in the shared store)."""
from __future__ import annotations

import functools
import math
import time
from typing import Callable

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import TooManyRequests

from ..extensions import services


def client_address() -> str:
    # With LTI_TOOL_TRUST_PROXY, ProxyFix has already put the client's address here.
    return request.remote_addr or "unknown"


def check_rate(name: str, identity: str, limit: int, window_seconds: int,
               clock: Callable[[], float] = time.time) -> None:
    """Count one hit for `identity`; raise 429 (with Retry-After) beyond `limit` per window."""
    now = clock()
    window = int(now // window_seconds)
    count = services().store.incr(f"rate:{name}:{identity}:{window}", window_seconds + 1)
    if count > limit:
        error = TooManyRequests(description=_l("Too many requests. Wait a moment and try again."))
        error.retry_after = math.ceil((window + 1) * window_seconds - now)
        raise error


def rate_limited(name: str, limit: int, window_seconds: int,
                 identity: Callable[[], str] = client_address) -> Callable:
    """Decorate a view: at most `limit` requests per `window_seconds` per identity (the client address)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            check_rate(name, identity(), limit, window_seconds)
            return view(*args, **kwargs)

        return wrapped

    return decorator
