"""The long-lived collaborators of one app: keys, platform key cache, HTTP session, shared store."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app

from .config import Settings
from .db import get_connection
from .db.queries import DatabaseRegistrations
from .db.shared_state import DatabaseStore, RedisStore
from .lti.http import TimeoutSession
from .lti.login import LoginStateSigner
from .lti.platform_keys import PlatformKeys
from .lti.tool_keys import KeyRing


@dataclass
class Services:
    settings: Settings
    tool_keys: KeyRing
    platform_keys: PlatformKeys
    http: TimeoutSession
    store: object
    registrations: DatabaseRegistrations
    login_states: LoginStateSigner


def init_app(app: Flask) -> None:
    settings: Settings = app.config["LTI_SETTINGS"]
    http = TimeoutSession(settings.HTTP_TIMEOUT)
    tool_keys = KeyRing(settings.KEYS_DIR, grace=timedelta(days=settings.KEY_GRACE_DAYS))
    # Both on the request's connection: the launch and the pages run them without an ORM session.
    registrations = DatabaseRegistrations(get_connection, engine=app.extensions["db_engine"])
    store = RedisStore(settings.REDIS_URL) if settings.REDIS_URL else DatabaseStore(get_connection)
    app.extensions["lti_services"] = Services(
        settings=settings, tool_keys=tool_keys,
        platform_keys=PlatformKeys(http, ttl_seconds=settings.PLATFORM_JWKS_TTL),
        http=http, store=store, registrations=registrations, login_states=LoginStateSigner(tool_keys),
    )


def services() -> Services:
    return current_app.extensions["lti_services"]


def demo_keys_dir(settings: Settings) -> Path:
    return Path(settings.KEYS_DIR) / "demo-platform"
