"""Which certificates are due, their codes, their validity, and their Open Badges form."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.domain.certificates import (
    Certificate,
    CertificateKind,
    CertifiedModule,
    InvalidCertificateCode,
    Validity,
    due_certificates,
    modules_completed_at,
    new_certificate_code,
    parse_certificate_code,
)
from lti_tool.domain.certification import certification_status
from lti_tool.domain.open_badges import Issuer, StatusEntry, open_badge_credential
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from tests.unit.domain.conftest import EXAMPLE_MODULE_KEYS, at, build_enrolment, build_fei_programme

CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$")
PROGRAMME = build_fei_programme()
CERT, MODULE = CertificateKind.CERTIFICATION, CertificateKind.MODULE


def module_passed(key: str, day: float = 10) -> ModuleResult:
    return ModuleResult(module_key=key, score=Score(Decimal(1), Decimal(1)), graded_at=at(day), source=f"li:{key}")


def exam(given: int, day: float = 100) -> ExamAttempt:
    return ExamAttempt(score=Score(Decimal(given), Decimal(100)), graded_at=at(day), source="exam", attempt=1)


def due(results, module_keys=None, held=()):
    enrolment = build_enrolment(PROGRAMME, module_keys=module_keys)
    status = certification_status(PROGRAMME, enrolment, results, at(200))
    completed = modules_completed_at(PROGRAMME, results)
    return {(d.kind, d.module_key): d.achieved_at
            for d in due_certificates(PROGRAMME, enrolment, status, completed, held)}


ALL_MODULES = [module_passed(key) for key in EXAMPLE_MODULE_KEYS]
FIRST, SECOND = EXAMPLE_MODULE_KEYS[:2]


@pytest.mark.parametrize("results,module_keys,held,expected", [
    # full programme, everything passed: the certification and an intyg per module
    (ALL_MODULES + [exam(75)], None, (),
     {(CERT, ""), *((MODULE, key) for key in EXAMPLE_MODULE_KEYS)}),
    # full programme, exam failed: intyg only
    (ALL_MODULES + [exam(10)], None, (), {(MODULE, key) for key in EXAMPLE_MODULE_KEYS}),
    # full programme, one module so far
    ([module_passed(FIRST)], None, (), {(MODULE, FIRST)}),
    # module-only with every module and the exam passed: intyg for the modules bought, never a certification
    (ALL_MODULES + [exam(100)], {FIRST, SECOND}, (), {(MODULE, FIRST), (MODULE, SECOND)}),
    # already held (revoked ones included): never issued twice
    (ALL_MODULES + [exam(75)], None, [(CERT, ""), *((MODULE, key) for key in EXAMPLE_MODULE_KEYS[1:])],
     {(MODULE, FIRST)}),
    # nothing passed
    ([], None, (), set()),
])
def test_due_certificates(results, module_keys, held, expected):
    assert set(due(results, module_keys, held)) == expected


def test_a_certification_is_dated_when_the_last_requirement_was_met_and_an_intyg_when_its_module_was():
    results = [module_passed(key, day=10 + i) for i, key in enumerate(EXAMPLE_MODULE_KEYS)] + [exam(75, day=5)]
    dates = due(results)
    assert dates[(CERT, "")] == at(10 + 11)  # the exam came first; the last module completed it
    assert dates[(MODULE, FIRST)] == at(10)


@given(st.frozensets(st.sampled_from(EXAMPLE_MODULE_KEYS), min_size=1),
       st.frozensets(st.sampled_from(EXAMPLE_MODULE_KEYS)), st.integers(0, 100))
def test_module_only_participants_never_get_a_certification(bought, passed, exam_score):
    results = [module_passed(key) for key in passed] + [exam(exam_score)]
    issued = due(results, module_keys=bought)
    assert (CERT, "") not in issued
    assert {key for _, key in issued} == bought & passed


@given(st.binary(min_size=16, max_size=16))
def test_codes_have_the_printed_shape_and_read_back(entropy):
    code = new_certificate_code(entropy)
    assert CODE_SHAPE.match(code)
    assert parse_certificate_code(code) == code
    assert parse_certificate_code(code.lower().replace("-", " ")) == code


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_different_randomness_gives_different_codes(a, b):
    assert (new_certificate_code(a) == new_certificate_code(b)) == (a == b)


EXAMPLE = new_certificate_code(bytes(range(16)))


@pytest.mark.parametrize("typed", [
    EXAMPLE.replace("-", ""), EXAMPLE.lower(), f"  {EXAMPLE}  ", EXAMPLE.replace("0", "O").replace("1", "l"),
])
def test_a_code_is_read_as_people_type_it(typed):
    assert parse_certificate_code(typed) == EXAMPLE


@pytest.mark.parametrize("typed", [
    "", EXAMPLE[:-1], EXAMPLE + "0", EXAMPLE.replace(EXAMPLE[5], "U" if EXAMPLE[5] != "U" else "0", 1),
    # one character changed: the check bits catch it before any lookup
    EXAMPLE[:5] + ("A" if EXAMPLE[5] != "A" else "B") + EXAMPLE[6:],
    "../../etc/passwd", "x" * 10_000,
])
def test_a_mistyped_or_made_up_code_is_refused(typed):
    with pytest.raises(InvalidCertificateCode):
        parse_certificate_code(typed)


def test_codes_need_sixteen_random_bytes():
    with pytest.raises(ValueError):
        new_certificate_code(b"short")


def certificate(kind=CERT, revoked_at=None, expires_at=None, revision=1) -> Certificate:
    modules = tuple(CertifiedModule(m.key, m.name, at(10)) for m in PROGRAMME.modules)
    return Certificate(
        code=EXAMPLE, kind=kind, participant_name="Åsa Öberg", programme_code="FEI-NLU", programme_version=1,
        programme_name=PROGRAMME.name, modules=modules if kind is CERT else modules[:1],
        exam_passed_at=at(100) if kind is CERT else None, achieved_at=at(100), issuer_name="FEI",
        issued_at=at(101), revision=revision, revised_at=at(101 + revision - 1), expires_at=expires_at,
        revoked_at=revoked_at)


@pytest.mark.parametrize("revoked_at,expires_at,as_of,expected", [
    (None, None, at(5000), Validity.VALID),
    (None, at(400), at(399), Validity.VALID),
    (None, at(400), at(400), Validity.EXPIRED),
    (None, at(400), at(400).date(), Validity.EXPIRED),
    (at(200), None, at(300), Validity.REVOKED),
    (at(200), at(150), at(300), Validity.REVOKED),  # revoked says more than expired
])
def test_validity(revoked_at, expires_at, as_of, expected):
    assert certificate(revoked_at=revoked_at, expires_at=expires_at).validity(as_of) is expected


ISSUER = Issuer("https://tool.example/", "FEI")


def test_the_credential_is_an_open_badge_with_a_status_list_entry():
    credential = open_badge_credential(ISSUER, 7, certificate(expires_at=at(800)), StatusEntry(3, 4711))
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                      "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == f"https://tool.example/verify/{EXAMPLE}#r1"
    assert credential["issuer"] == {"id": "https://tool.example/issuer", "type": ["Profile"], "name": "FEI"}
    assert credential["validFrom"] == "2025-11-27T08:00:00Z"
    assert credential["validUntil"] == at(800).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = credential["credentialSubject"]
    assert subject["identifier"] == [{"type": "IdentityObject", "identityHash": "Åsa Öberg",
                                      "identityType": "name", "hashed": False}]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["achievementType"] == "Certification"
    assert achievement["name"] == PROGRAMME.name.en
    assert achievement["id"].startswith("urn:uuid:") and achievement["criteria"]["narrative"]
    assert credential["credentialStatus"] == {
        "id": "https://tool.example/status/3#4711", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "4711",
        "statusListCredential": "https://tool.example/status/3"}


def test_everyone_with_the_same_achievement_shares_its_id_and_a_reissue_is_a_new_credential():
    first = open_badge_credential(ISSUER, 7, certificate(), StatusEntry(1, 1))
    again = open_badge_credential(ISSUER, 7, certificate(revision=2), StatusEntry(1, 2))
    intyg = open_badge_credential(ISSUER, 7, certificate(kind=MODULE), StatusEntry(1, 3))
    other_platform = open_badge_credential(ISSUER, 8, certificate(), StatusEntry(1, 4))
    ids = [c["credentialSubject"]["achievement"]["id"] for c in (first, again, intyg, other_platform)]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    assert first["id"] != again["id"] and again["id"].endswith("#r2")
    assert intyg["credentialSubject"]["achievement"]["achievementType"] == "CourseCompletion"
    assert "validUntil" not in first


def test_dates_are_utc_even_from_another_zone():
    stockholm = timezone(timedelta(hours=2))
    moment = datetime(2026, 6, 2, 15, 30, tzinfo=stockholm)
    credential = open_badge_credential(ISSUER, 1, replace(certificate(), revised_at=moment), StatusEntry(1, 1))
    assert credential["validFrom"] == "2026-06-02T13:30:00Z"
