"""Certificates: which are due, their unguessable codes, and whether one is still valid."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from lti_tool.domain.certification import CertificationStatus
from lti_tool.domain.completion import module_completed_at
from lti_tool.domain.enrolment import Enrolment
from lti_tool.domain.programme import LocalisedName, Programme
from lti_tool.domain.results import ExamAttempt, ModuleResult, current_results
from lti_tool.domain.timestamps import is_reached


class CertificateKind(Enum):
    # Certifierad näringslivsutvecklare: the whole programme and the final exam.
    CERTIFICATION = "certification"
    # Intyg: one completed module, for module-only and full-programme participants alike.
    MODULE = "module"


# The module key of a certification, which covers the whole programme rather than a module.
WHOLE_PROGRAMME = ""


class Validity(Enum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


class InvalidCertificateCode(ValueError):
    """Not a certificate code: wrong length, a character outside the alphabet, or a typo."""


@dataclass(frozen=True)
class DueCertificate:
    """A certificate the results now support and the participant does not hold yet."""

    kind: CertificateKind
    module_key: str
    # When the achievement was reached: certified_at, or when the module was completed.
    achieved_at: datetime


@dataclass(frozen=True)
class CertifiedModule:
    key: str
    name: LocalisedName
    completed_at: datetime


@dataclass(frozen=True)
class Certificate:
    """What a certificate says, as issued (names and programme are a snapshot)."""

    code: str
    kind: CertificateKind
    participant_name: str
    programme_code: str
    programme_version: int
    programme_name: LocalisedName
    # Every module for a certification; the one module for an intyg.
    modules: tuple[CertifiedModule, ...]
    exam_passed_at: datetime | None
    achieved_at: datetime
    issuer_name: str
    issued_at: datetime
    # 1 when first issued; each re-issue (a corrected name) adds one and keeps the code.
    revision: int
    revised_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def validity(self, as_of: date | datetime) -> Validity:
        if self.revoked_at is not None:
            return Validity.REVOKED
        if self.expires_at is not None and is_reached(self.expires_at, as_of):
            return Validity.EXPIRED
        return Validity.VALID

    @property
    def module(self) -> CertifiedModule | None:
        """The module of an intyg."""
        return self.modules[0] if self.kind is CertificateKind.MODULE else None


def modules_completed_at(
    programme: Programme, results: Iterable[ModuleResult | ExamAttempt]
) -> dict[str, datetime]:
    """When each completed module of the programme was completed, judged on current results."""
    current = current_results(results)
    completed = {}
    for module in programme.modules:
        moment = module_completed_at(module, current.modules.get(module.key))
        if moment is not None:
            completed[module.key] = moment
    return completed


def covered_module_keys(programme: Programme, enrolment: Enrolment) -> frozenset[str]:
    """The modules an enrolment takes: all of them on the full programme, else those bought."""
    return programme.module_keys if enrolment.is_full_programme else enrolment.module_keys


def due_certificates(
    programme: Programme,
    enrolment: Enrolment,
    status: CertificationStatus,
    completed: dict[str, datetime],
    held: Collection[tuple[CertificateKind, str]],
) -> tuple[DueCertificate, ...]:
    """The certificates to issue now, decided only from the computed status and results.

    A certification needs the CERTIFIED state, which module-only enrolments never reach.
    An intyg is due for every completed module the enrolment takes, on the full programme
    too: the modules are standalone, so proof of each one survives a participant who stops
    before the exam. `held` are the (kind, module key) pairs already issued, revoked ones
    included: a revoked certificate is never issued again behind an administrator's back.
    """
    due = []
    covered = covered_module_keys(programme, enrolment)
    for module in programme.modules:
        key = module.key
        if key in covered and key in completed and (CertificateKind.MODULE, key) not in held:
            due.append(DueCertificate(CertificateKind.MODULE, key, completed[key]))
    if status.is_certified and (CertificateKind.CERTIFICATION, WHOLE_PROGRAMME) not in held:
        assert status.certified_at is not None  # CERTIFIED always carries its moment
        due.append(DueCertificate(CertificateKind.CERTIFICATION, WHOLE_PROGRAMME, status.certified_at))
    return tuple(due)


# --- codes ------------------------------------------------------------------------------------
# Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {char: value for value, char in enumerate(ALPHABET)}
_DECODE.update({"O": 0, "I": 1, "L": 1})
RANDOM_BYTES = 16  # 128 bits: unguessable, and no lookup by a guessed neighbour
CHECK_BITS = 12  # catches a mistyped character before any lookup
CODE_LENGTH = 28  # (128 + 12) bits / 5 bits per character
GROUP = 4


def new_certificate_code(entropy: bytes) -> str:
    """A code such as `3M7Q-…` (7 groups of 4) from 16 random bytes (`secrets.token_bytes(16)`)."""
    if len(entropy) != RANDOM_BYTES:
        raise ValueError(f"a certificate code needs {RANDOM_BYTES} random bytes")
    number = (int.from_bytes(entropy, "big") << CHECK_BITS) | _check(entropy)
    characters = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, 32)
        characters.append(ALPHABET[digit])
    return _grouped("".join(reversed(characters)))


def parse_certificate_code(text: str) -> str:
    """The canonical form of a typed code: any case, with or without dashes or spaces."""
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != CODE_LENGTH or any(char not in _DECODE for char in compact):
        raise InvalidCertificateCode(text)
    number = 0
    for char in compact:
        number = number * 32 + _DECODE[char]
    entropy_number, check = divmod(number, 1 << CHECK_BITS)
    entropy = entropy_number.to_bytes(RANDOM_BYTES, "big")
    if _check(entropy) != check:
        raise InvalidCertificateCode(text)
    return new_certificate_code(entropy)


def _check(entropy: bytes) -> int:
    return int.from_bytes(hashlib.sha256(entropy).digest()[:2], "big") >> (16 - CHECK_BITS)


def _grouped(compact: str) -> str:
    return "-".join(compact[i:i + GROUP] for i in range(0, len(compact), GROUP))


def verification_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{code}"
