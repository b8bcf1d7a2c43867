"""The errors the LTI layer raises: a rejected launch with a reason, and a failing LMS service."""
from __future__ import annotations

import enum


class RejectionReason(str, enum.Enum):
    """Why a login or launch was refused; the value is logged and translated on the error page."""

    LOGIN_PARAMETER_MISSING = "login_parameter_missing"
    REGISTRATION_UNKNOWN = "registration_unknown"
    REGISTRATION_INACTIVE = "registration_inactive"
    STATE_MISSING = "state_missing"
    STATE_UNKNOWN = "state_unknown"
    STATE_REPLAYED = "state_replayed"
    STATE_MISMATCH = "state_mismatch"
    ID_TOKEN_MISSING = "id_token_missing"
    ID_TOKEN_MALFORMED = "id_token_malformed"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    KID_MISSING = "kid_missing"
    KID_UNKNOWN = "kid_unknown"
    PLATFORM_KEYS_UNAVAILABLE = "platform_keys_unavailable"
    SIGNATURE_INVALID = "signature_invalid"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    ISSUER_MISMATCH = "issuer_mismatch"
    AUDIENCE_MISMATCH = "audience_mismatch"
    AUDIENCE_UNTRUSTED = "audience_untrusted"
    AZP_MISMATCH = "azp_mismatch"
    NONCE_MISMATCH = "nonce_mismatch"
    CLAIM_MISSING = "claim_missing"
    VERSION_INVALID = "version_invalid"
    MESSAGE_TYPE_UNSUPPORTED = "message_type_unsupported"
    DEPLOYMENT_MISSING = "deployment_missing"
    RESOURCE_LINK_MISSING = "resource_link_missing"
    ROLES_MISSING = "roles_missing"
    SUB_MISSING = "sub_missing"
    TARGET_LINK_URI_FOREIGN = "target_link_uri_foreign"
    MESSAGE_INVALID = "message_invalid"


class LaunchRejected(Exception):
    """A login or launch that must not go on; always answered with a 4xx page."""

    def __init__(self, reason: RejectionReason, detail: str = "", *, claims: dict | None = None):
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        # What could be read from the (untrusted) token, for the launch log only.
        self.claims = claims or {}


class LmsServiceError(Exception):
    """A call to the LMS (JWKS, token, AGS, NRPS) failed; retryable unless `is_permanent`."""

    def __init__(self, message: str, *, status: int | None = None, is_permanent: bool = False,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.is_permanent = is_permanent
        self.retry_after = retry_after
