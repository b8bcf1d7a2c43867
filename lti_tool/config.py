"""Configuration from LTI_TOOL_* environment variables, with embedded development defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "LTI_TOOL_"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-insecure-secret-key"
WEAK_SECRETS = {DEV_SECRET_KEY, "secret", "changeme", "dev", "development"}
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "production")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the setting."""


def _as_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every setting the tool reads. Field names are the env names without the prefix."""

    ENV: str = "development"  # "production" turns on the safety checks
    DATABASE_URL: str = f"sqlite:///{REPO_ROOT / 'instance' / 'lti_tool.sqlite3'}"
    SECRET_KEY: str = DEV_SECRET_KEY
    BASE_URL: str = "http://127.0.0.1:5000"
    KEYS_DIR: str = str(REPO_ROOT / "keys")
    DEMO: bool = False
    TRUST_PROXY: bool = False
    REDIS_URL: str = ""
    # Seconds of clock skew accepted on iat/exp/nbf; Moodle's id_tokens live exactly 60 s.
    JWT_LEEWAY: int = 10
    # How long a login's state and nonce stay usable between /lti/login and /lti/launch.
    LOGIN_STATE_TTL: int = 600
    # How long an old key stays in the JWKS after rotation, so platforms' caches keep working.
    KEY_GRACE_DAYS: int = 7
    PLATFORM_JWKS_TTL: int = 3600
    HTTP_TIMEOUT: float = 10.0
    DEFAULT_LOCALE: str = "sv"
    # The time zone pages show times in (stored times are UTC): the participants are in Sweden.
    TIMEZONE: str = "Europe/Stockholm"
    # Seconds after which an instructor's page starts a new grade and roster sync of the course (0: never).
    SYNC_MAX_AGE: int = 900
    # Who issues the certificates: printed on them and named in the signed credentials.
    ISSUER_NAME: str = "FEI"
    # Let Dynamic Registration and the manual registration form fetch URLs on private, loopback and
    # link-local addresses (an LMS on the local network or this machine); off, they are refused (SSRF).
    ALLOW_PRIVATE_PLATFORMS: bool = False

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = overrides.get(f.name, environ.get(PREFIX + f.name))
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.ENV not in ENVIRONMENTS:
            raise ConfigError(f"{PREFIX}ENV must be one of {', '.join(ENVIRONMENTS)}, got {self.ENV!r}")
        if self.JWT_LEEWAY < 0 or self.JWT_LEEWAY > 60:
            raise ConfigError(f"{PREFIX}JWT_LEEWAY must be between 0 and 60 seconds")
        if not self.BASE_URL.startswith(("http://", "https://")):
            raise ConfigError(f"{PREFIX}BASE_URL must be an http(s) URL")
        if not self.ISSUER_NAME.strip():
            raise ConfigError(f"{PREFIX}ISSUER_NAME must name who issues the certificates")
        try:
            ZoneInfo(self.TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{PREFIX}TIMEZONE must be an IANA time zone such as Europe/Stockholm, "
                              f"got {self.TIMEZONE!r}") from exc
        if not self.is_production:
            return
        if self.SECRET_KEY in WEAK_SECRETS or len(self.SECRET_KEY) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{PREFIX}SECRET_KEY is missing or weak: production needs a random value of "
                f"at least {MIN_SECRET_LENGTH} characters"
            )
        if self.DEMO:
            raise ConfigError(f"{PREFIX}DEMO cannot be on in production: the demo platform signs launches")
        if not self.BASE_URL.startswith("https://"):
            raise ConfigError(f"{PREFIX}BASE_URL must use https in production")

    def flask_config(self) -> dict[str, Any]:
        secure = self.BASE_URL.startswith("https://")
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SESSION_COOKIE_SECURE": secure,
            # Inside an LMS iframe the cookie is third-party: it needs SameSite=None (and so Secure).
            "SESSION_COOKIE_SAMESITE": "None" if secure else "Lax",
            "SESSION_COOKIE_PARTITIONED": secure,
            "SESSION_COOKIE_HTTPONLY": True,
            "WTF_CSRF_TIME_LIMIT": None,
            "BABEL_DEFAULT_LOCALE": self.DEFAULT_LOCALE,
            "BABEL_DEFAULT_TIMEZONE": self.TIMEZONE,
            "LTI_SETTINGS": self,
        }


def _convert(name: str, type_name: Any, raw: Any) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    if name == "ENV":
        # `Production` or `production ` must not quietly mean development.
        return str(raw).strip().lower()
    try:
        if kind == "bool":
            return _as_bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name} must be a {kind}, got {raw!r}") from exc
    return str(raw)
