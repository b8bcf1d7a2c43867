"""The learner's page: where they stand in the programme and what is left, in plain words."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, g, render_template

from ..db import get_session
from ..lti.roles import Audience
from ..services.certificates import Viewer, own_certificates, to_certificate
from ..services.progress import learner_progress
from .i18n import localised
from .launch_access import requires_launch
from .reason_text import reason_text

bp = Blueprint("learner", __name__)


@bp.get("/learner")
@requires_launch(Audience.LEARNER)
def progress():
    launch = g.launch
    session = get_session()
    enrolments = learner_progress(session, launch.registration_id, launch.lms_user_id)
    viewer = Viewer(launch.registration_id, launch.lms_user_id, Audience.LEARNER, launch.context_id)
    certificates: dict[int, list] = {}
    for record in own_certificates(session, viewer):
        certificates.setdefault(record.enrolment_id, []).append(to_certificate(record))
    explained = [
        (enrolment, [reason_text(reason, {key: localised(*names) for key, names in enrolment.module_names.items()})
                     for reason in enrolment.reasons])
        for enrolment in enrolments
    ]
    return render_template("learner/progress.html", launch=launch, enrolments=explained,
                           certificates=certificates, now=datetime.now(timezone.utc))
