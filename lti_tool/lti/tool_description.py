"""The tool as an LMS is told about it: URLs, scopes, claims, placements, and what each scope enables."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
AGS_LINEITEM = AGS_SCOPE + "lineitem"
AGS_LINEITEM_READONLY = AGS_SCOPE + "lineitem.readonly"
AGS_RESULT_READONLY = AGS_SCOPE + "result.readonly"
AGS_SCORE = AGS_SCOPE + "score"
NRPS_MEMBERSHIP_READONLY = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPES = (AGS_LINEITEM, AGS_LINEITEM_READONLY, AGS_RESULT_READONLY, AGS_SCORE, NRPS_MEMBERSHIP_READONLY)

# A certificate needs a name, and results are matched to people by `sub` (never anonymous).
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email", "locale")

# Sent with every launch. A course copied for a new cohort keeps the history of the course it was
# copied from, so the tool can tell the cohorts of one programme apart; an LMS that does not know
# the variable sends it unexpanded, and the tool ignores it then.
CUSTOM_PARAMETERS = {"context_id_history": "$Context.id.history"}

# What the LMS shows administrators. Not translated: it is registered once, in the LMS's language
# for this programme (Swedish); the tool's own pages are translated.
TOOL_NAME = "Certifiering – näringslivsutvecklare"
TOOL_DESCRIPTION = ("Näringslivsutvecklarnas ABC: vem som läser hela programmet eller enstaka moduler, "
                    "vem som är behörig till certifiering och vem som är certifierad.")


class Feature(str, enum.Enum):
    """What the tool does with an LMS service; unavailable when the LMS withholds its scopes."""

    GRADE_READING = "grade_reading"  # module and exam results from the gradebook
    GRADE_WRITING = "grade_writing"  # gradebook columns and scores written by the tool
    ROSTER = "roster"  # the course's participants


# A feature needs one scope out of every group ("lineitem" includes reading line items).
FEATURE_SCOPES: dict[Feature, tuple[tuple[str, ...], ...]] = {
    Feature.GRADE_READING: ((AGS_LINEITEM, AGS_LINEITEM_READONLY), (AGS_RESULT_READONLY,)),
    Feature.GRADE_WRITING: ((AGS_LINEITEM,), (AGS_SCORE,)),
    Feature.ROSTER: ((NRPS_MEMBERSHIP_READONLY,),),
}


def unavailable_features(granted_scopes: Iterable[str]) -> tuple[Feature, ...]:
    granted = set(granted_scopes)
    return tuple(feature for feature, groups in FEATURE_SCOPES.items()
                 if not all(granted.intersection(group) for group in groups))


@dataclass(frozen=True)
class ToolDescription:
    """The tool's public URLs (built by the web layer from BASE_URL) and how it introduces itself."""

    login_url: str
    launch_url: str
    jwks_url: str
    logo_url: str
    name: str = TOOL_NAME
    description: str = TOOL_DESCRIPTION

    @property
    def domain(self) -> str:
        """host[:port] of the launch URL: Moodle checks target_link_uri against it, so keep the port."""
        return urlsplit(self.launch_url).netloc

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return (self.launch_url,)

    @property
    def deep_linking_url(self) -> str:
        # Deep-linking requests arrive at the same redirect URI and are told apart by message type.
        return self.launch_url
