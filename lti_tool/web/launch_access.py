"""Pages opened by a launch: find the launch session and enforce the roles it carries."""
from __future__ import annotations

import functools
from typing import Callable

from flask import abort, g, request
from flask_babel import lazy_gettext as _l

from ..extensions import services
from ..lti.roles import Audience
from ..services.launches import LaunchSession, load_launch_session


def current_launch() -> LaunchSession:
    launch_id = request.args.get("launch") or request.form.get("launch") or ""
    launch = load_launch_session(services().store, launch_id)
    if launch is None:
        abort(401, description=_l("Your session with the tool has ended. Open the tool again from your course."))
    return launch


def requires_launch(*allowed: Audience) -> Callable:
    """Only a live launch whose role is one of `allowed` (any role when none given) sees the page."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            launch = current_launch()
            if allowed and (launch.audience is None or Audience(launch.audience) not in allowed):
                abort(403, description=_l("Your role in this course does not give access to this page."))
            g.launch = launch
            return view(*args, **kwargs)

        return wrapped

    return decorator
