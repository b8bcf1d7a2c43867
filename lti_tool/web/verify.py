"""Public verification: anyone with a code (or the QR code) checks a certificate, without logging in.

Also the issuer's public documents: its Open Badges profile, the keys it signs with, and the
status lists that carry revocations. Only what verification needs is shown: the name, the
programme and modules, dates and the issuer; never an e-mail address or an LMS identifier.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from ..credentials.signing import MEDIA_TYPE, CredentialInvalid, issuer_jwks, sign_credential, verify_credential
from ..db import get_session
from ..db.certificates import CertificateRecord, StatusListRecord
from ..domain.certificates import (Certificate, InvalidCertificateCode, Validity,
                                   parse_certificate_code, verification_url)
from ..domain.open_badges import Issuer, credential_id, status_list_credential, status_list_url
from ..domain.status_list import encode_status_list
from ..extensions import services
from ..services import certificates as service
from .rate_limit import rate_limited

bp = Blueprint("verify", __name__)
# Enough for an employer checking a pile of applications; too few to walk the code space.
VERIFY_LIMIT, VERIFY_WINDOW = 60, 60
# Wallets and verifiers fetch status lists often; they are the same for everyone.
STATUS_LIMIT, STATUS_WINDOW = 600, 60
JSON_SUFFIX = ".json"
NOT_FOUND = _l("No certificate has this code. Check that it was typed exactly as printed.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _issuer() -> Issuer:
    settings = services().settings
    return Issuer(settings.BASE_URL, settings.ISSUER_NAME)


@dataclass(frozen=True)
class SignatureCheck:
    """The stored credential checked against the issuer's published keys, and against the record."""

    is_valid: bool
    kid: str | None
    # The signed name and credential id are this record's: nobody edited one without the other.
    matches_record: bool


def check_signature(record: CertificateRecord, certificate: Certificate) -> SignatureCheck:
    credential = record.current_credential
    try:
        claims = verify_credential(credential.token, issuer_jwks(services().tool_keys))
    except CredentialInvalid:
        return SignatureCheck(False, credential.kid, False)
    names = [entry.get("identityHash") for entry in claims.get("credentialSubject", {}).get("identifier", [])]
    matches = (claims.get("jti") == credential_id(services().settings.BASE_URL, certificate)
               and names == [certificate.participant_name]
               and claims.get("credentialStatus", {}).get("statusListIndex") == str(credential.status_list_index))
    return SignatureCheck(True, credential.kid, matches)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


@bp.get("/verify")
@rate_limited("verify", VERIFY_LIMIT, VERIFY_WINDOW)
def lookup():
    """A form for a code typed from paper; a valid code goes to its page."""
    typed = request.args.get("code", "").strip()
    if not typed:
        return render_template("certificates/lookup.html", typed="", error=None)
    try:
        code = parse_certificate_code(typed)
    except InvalidCertificateCode:
        return render_template("certificates/lookup.html", typed=typed[:64], error=NOT_FOUND), 404
    return redirect(url_for(".verify", code=code), 303)


@bp.get("/verify/<code>")
@rate_limited("verify", VERIFY_LIMIT, VERIFY_WINDOW)
def verify(code: str):
    as_json = code.endswith(JSON_SUFFIX) or _wants_json()
    code = code.removesuffix(JSON_SUFFIX)
    record = service.find_certificate(get_session(), code)
    if record is None:
        if as_json:
            return _public(jsonify(error="not_found", message=str(NOT_FOUND)), 404)
        abort(404, description=NOT_FOUND)
    certificate = service.to_certificate(record)
    now = _now()
    validity = certificate.validity(now)
    signature = check_signature(record, certificate)
    if as_json:
        return _public(jsonify(_as_json(record, certificate, validity, signature)))
    return _public(render_template("certificates/verify.html", certificate=certificate, validity=validity,
                                   Validity=Validity, signature=signature, now=now,
                                   credential=record.current_credential))


def _as_json(record: CertificateRecord, certificate: Certificate, validity: Validity,
             signature: SignatureCheck) -> dict:
    def day(moment: datetime | None) -> str | None:
        return moment.date().isoformat() if moment else None

    issuer = _issuer()
    credential = record.current_credential
    return {
        "code": certificate.code,
        "status": validity.value,
        "kind": certificate.kind.value,
        "name": certificate.participant_name,
        "programme": {"code": certificate.programme_code, "version": certificate.programme_version,
                      "name": {"sv": certificate.programme_name.sv, "en": certificate.programme_name.en}},
        "modules": [{"name": {"sv": m.name.sv, "en": m.name.en}, "completed_on": day(m.completed_at)}
                    for m in certificate.modules],
        "exam_passed_on": day(certificate.exam_passed_at),
        "achieved_on": day(certificate.achieved_at),
        "issued_on": day(certificate.issued_at),
        "reissued_on": day(certificate.revised_at) if certificate.revision > 1 else None,
        "valid_until": day(certificate.expires_at),
        "revoked": certificate.revoked_at is not None,
        "revoked_on": day(certificate.revoked_at),
        "issuer": {"id": issuer.id, "name": certificate.issuer_name},
        "verification_url": verification_url(issuer.base_url, certificate.code),
        "credential": {
            "signature_valid": signature.is_valid,
            "matches_record": signature.matches_record,
            "kid": signature.kid,
            "status_list_credential": status_list_url(issuer.base_url, credential.status_list_id),
            "status_list_index": credential.status_list_index,
        },
    }


def _public(body, status: int = 200):
    """Always the current state (a revocation shows at once), and kept out of search engines."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/issuer")
def issuer_profile():
    return jsonify(_issuer().profile())


@bp.get("/issuer/jwks")
def issuer_keys():
    response = jsonify(issuer_jwks(services().tool_keys))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/status/<int:list_id>")
@rate_limited("status-list", STATUS_LIMIT, STATUS_WINDOW)
def status_list(list_id: int):
    """The BitstringStatusListCredential: signed (VC-JWT) by default, plain JSON when asked for."""
    record = get_session().get(StatusListRecord, list_id)
    if record is None:
        abort(404)
    encoded = encode_status_list(record.size, service.revoked_indexes(get_session(), list_id))
    credential = status_list_credential(_issuer(), list_id, encoded, _now())
    if request.args.get("format") == "json" or _wants_json():
        response = jsonify(credential)
    else:
        response = make_response(sign_credential(credential, services().tool_keys).token)
        response.mimetype = MEDIA_TYPE
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    return response
