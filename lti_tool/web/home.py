"""Where a launch lands: a page for the learner, the instructor or the administrator."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from ..lti.roles import Audience
from .launch_access import requires_launch

bp = Blueprint("home", __name__)


@bp.get("/home")
@requires_launch()
def index():
    launch = g.launch
    audience = Audience(launch.audience) if launch.audience else None
    return render_template("home.html", launch=launch, audience=audience, Audience=Audience)
