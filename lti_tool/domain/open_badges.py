"""A certificate as an Open Badges 3.0 OpenBadgeCredential (W3C Verifiable Credentials 2.0).

Pure JSON building: signing it as a JWT happens outside the domain. The achievement texts
are in English, the credential's one language (`inLanguage`); the PDF and the verification
page carry the Swedish.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from lti_tool.domain.certificates import Certificate, CertificateKind, verification_url

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
REVOCATION = "revocation"


@dataclass(frozen=True)
class Issuer:
    """The tool as an Open Badges issuer profile (one for every platform it serves)."""

    base_url: str
    name: str

    @property
    def id(self) -> str:
        return self.base_url.rstrip("/") + "/issuer"

    def profile(self) -> dict:
        return {"@context": [VC_CONTEXT, OB_CONTEXT], "id": self.id, "type": ["Profile"], "name": self.name,
                "url": self.base_url.rstrip("/")}


@dataclass(frozen=True)
class StatusEntry:
    """Where a credential's revocation bit lives."""

    list_id: int
    index: int


def status_list_url(base_url: str, list_id: int) -> str:
    return f"{base_url.rstrip('/')}/status/{list_id}"


def credential_id(base_url: str, certificate: Certificate) -> str:
    """The verification page, with the revision: a re-issue is a new credential under the same code."""
    return f"{verification_url(base_url, certificate.code)}#r{certificate.revision}"


def achievement_id(base_url: str, tenant: int, certificate: Certificate) -> str:
    """The same for everyone who reaches the achievement, on one platform (tenant)."""
    module = certificate.module.key if certificate.module else ""
    name = f"{base_url.rstrip('/')}/achievements/{tenant}/{certificate.programme_code}/" \
           f"{certificate.programme_version}/{module}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def open_badge_credential(issuer: Issuer, tenant: int, certificate: Certificate, status: StatusEntry) -> dict:
    """The OpenBadgeCredential of a certificate's current revision."""
    programme = certificate.programme_name.en
    if certificate.kind is CertificateKind.CERTIFICATION:
        achievement = {
            "achievementType": "Certification",
            "name": programme,
            "description": f"Awarded for completing the whole programme {programme} "
                           f"({certificate.programme_code}, version {certificate.programme_version}) "
                           "and passing its final exam.",
            "criteria": {"narrative": f"Every one of the programme's {len(certificate.modules)} modules completed "
                                      "with at least its pass mark, and the final exam passed."},
        }
    else:
        module = certificate.modules[0].name.en
        achievement = {
            "achievementType": "CourseCompletion",
            "name": module,
            "description": f"Awarded for completing the module {module} of the programme {programme} "
                           f"({certificate.programme_code}, version {certificate.programme_version}).",
            "criteria": {"narrative": "The module completed with at least its pass mark."},
        }
    credential = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(issuer.base_url, certificate),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.id, "type": ["Profile"], "name": certificate.issuer_name},
        "name": achievement["name"],
        "validFrom": iso(certificate.revised_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            # No DID for the participant: the name identifies them, as printed on the PDF.
            "identifier": [{"type": "IdentityObject", "identityHash": certificate.participant_name,
                            "identityType": "name", "hashed": False}],
            "activityEndDate": iso(certificate.achieved_at),
            "achievement": {"id": achievement_id(issuer.base_url, tenant, certificate), "type": ["Achievement"],
                            "inLanguage": "en", **achievement},
        },
        "credentialStatus": {
            "id": f"{status_list_url(issuer.base_url, status.list_id)}#{status.index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": REVOCATION,
            "statusListIndex": str(status.index),
            "statusListCredential": status_list_url(issuer.base_url, status.list_id),
        },
    }
    if certificate.expires_at is not None:
        credential["validUntil"] = iso(certificate.expires_at)
    return credential


def status_list_credential(issuer: Issuer, list_id: int, encoded_list: str, valid_from: datetime) -> dict:
    url = status_list_url(issuer.base_url, list_id)
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.id,
        "validFrom": iso(valid_from),
        "credentialSubject": {"id": url + "#list", "type": "BitstringStatusList", "statusPurpose": REVOCATION,
                              "encodedList": encoded_list},
    }


def iso(moment: datetime) -> str:
    """XML Schema dateTime in UTC, seconds precision: 2027-09-01T12:00:00Z."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
