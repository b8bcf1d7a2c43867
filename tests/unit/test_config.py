"""Configuration: safe production checks, usable development defaults, readable errors."""
from __future__ import annotations

import secrets

import pytest
from flask import jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool import create_app
from lti_tool.config import DEV_SECRET_KEY, MIN_SECRET_LENGTH, PREFIX, ConfigError, Settings

STRONG_SECRET = secrets.token_urlsafe(48)
PRODUCTION = {"LTI_TOOL_ENV": "production", "LTI_TOOL_SECRET_KEY": STRONG_SECRET,
              "LTI_TOOL_BASE_URL": "https://tool.example.org"}


def production(**changes: str | None) -> dict[str, str]:
    environ = dict(PRODUCTION)
    for name, value in changes.items():
        if value is None:
            environ.pop(PREFIX + name, None)
        else:
            environ[PREFIX + name] = value
    return environ


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """create_app reads os.environ: the developer's own LTI_TOOL_* must not leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)


def test_a_complete_production_configuration_is_accepted():
    settings = Settings.from_env(production())
    assert settings.is_production
    assert settings.SECRET_KEY == STRONG_SECRET
    config = settings.flask_config()
    # Inside an LMS iframe the session cookie is third-party: Secure, SameSite=None, partitioned.
    assert (config["SESSION_COOKIE_SECURE"], config["SESSION_COOKIE_SAMESITE"],
            config["SESSION_COOKIE_PARTITIONED"]) == (True, "None", True)


@pytest.mark.parametrize("secret", [None, "", DEV_SECRET_KEY, "changeme", "secret",
                                    "x" * (MIN_SECRET_LENGTH - 1)],
                         ids=["missing", "empty", "dev-default", "changeme", "secret", "too-short"])
def test_production_refuses_a_missing_weak_or_short_secret(secret):
    with pytest.raises(ConfigError, match="LTI_TOOL_SECRET_KEY"):
        Settings.from_env(production(SECRET_KEY=secret))


def test_production_accepts_a_secret_of_exactly_the_minimum_length():
    Settings.from_env(production(SECRET_KEY="k" * MIN_SECRET_LENGTH))


def test_production_refuses_the_demo_platform():
    with pytest.raises(ConfigError, match="LTI_TOOL_DEMO"):
        Settings.from_env(production(DEMO="1"))


@pytest.mark.parametrize("base_url", ["http://tool.example.org", "http://127.0.0.1:5000"])
def test_production_refuses_an_http_base_url(base_url):
    with pytest.raises(ConfigError, match="LTI_TOOL_BASE_URL"):
        Settings.from_env(production(BASE_URL=base_url))


def test_create_app_refuses_an_unsafe_production_configuration():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "BASE_URL": "https://tool.example.org"})


@pytest.mark.parametrize("env", ["Production", "PRODUCTION", "production ", "prod"])
def test_a_misspelt_production_env_does_not_silently_skip_the_checks(env):
    with pytest.raises(ConfigError):
        Settings.from_env({"LTI_TOOL_ENV": env})


def test_development_defaults_work_without_any_environment():
    settings = Settings.from_env({})
    assert not settings.is_production
    assert settings.SECRET_KEY == DEV_SECRET_KEY
    assert settings.BASE_URL.startswith("http://")
    assert settings.DATABASE_URL.startswith("sqlite:///")
    assert (settings.DEMO, settings.TRUST_PROXY, settings.REDIS_URL) == (False, False, "")
    assert settings.JWT_LEEWAY == 10 and settings.LOGIN_STATE_TTL == 600
    config = settings.flask_config()
    # Plain http on a developer's machine: a Secure cookie would never come back.
    assert (config["SESSION_COOKIE_SECURE"], config["SESSION_COOKIE_SAMESITE"]) == (False, "Lax")


def test_development_allows_demo_and_http():
    settings = Settings.from_env({"LTI_TOOL_DEMO": "true", "LTI_TOOL_BASE_URL": "http://localhost:8000"})
    assert settings.DEMO is True and settings.BASE_URL == "http://localhost:8000"


def test_environment_values_are_converted_to_their_types():
    settings = Settings.from_env({"LTI_TOOL_JWT_LEEWAY": "30", "LTI_TOOL_HTTP_TIMEOUT": "2.5",
                                  "LTI_TOOL_TRUST_PROXY": "yes", "LTI_TOOL_DEMO": "0",
                                  "LTI_TOOL_KEY_GRACE_DAYS": "14"})
    assert (settings.JWT_LEEWAY, settings.HTTP_TIMEOUT, settings.TRUST_PROXY, settings.DEMO,
            settings.KEY_GRACE_DAYS) == (30, 2.5, True, False, 14)


def test_explicit_overrides_win_over_the_environment():
    settings = Settings.from_env({"LTI_TOOL_JWT_LEEWAY": "30"}, JWT_LEEWAY=5)
    assert settings.JWT_LEEWAY == 5


@pytest.mark.parametrize("name,value", [("JWT_LEEWAY", "ten"), ("LOGIN_STATE_TTL", "10m"),
                                        ("KEY_GRACE_DAYS", ""), ("HTTP_TIMEOUT", "fast")])
def test_a_bad_number_names_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({PREFIX + name: value})
    assert PREFIX + name in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("leeway", ["-1", "61"])
def test_leeway_outside_zero_to_sixty_seconds_is_refused(leeway):
    with pytest.raises(ConfigError, match="LTI_TOOL_JWT_LEEWAY"):
        Settings.from_env({"LTI_TOOL_JWT_LEEWAY": leeway})


def test_base_url_must_be_a_url_even_in_development():
    with pytest.raises(ConfigError, match="LTI_TOOL_BASE_URL"):
        Settings.from_env({"LTI_TOOL_BASE_URL": "tool.example.org"})


# --- TRUST_PROXY ------------------------------------------------------------------------------
def probed_app(tmp_path, **config):
    """A real app with a route that reports the request as the app sees it."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'config.sqlite3'}",
                      "KEYS_DIR": str(tmp_path / "keys"), **config})

    @app.get("/_probe")
    def probe():
        return jsonify(url=request.url, scheme=request.scheme, host=request.host,
                       remote_addr=request.remote_addr, is_secure=request.is_secure)

    return app


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tool.example.org",
                 "X-Forwarded-For": "203.0.113.7"}


def test_behind_a_trusted_proxy_the_app_sees_the_public_url(tmp_path):
    app = probed_app(tmp_path, TRUST_PROXY=True)
    assert isinstance(app.wsgi_app, ProxyFix)
    seen = app.test_client().get("/_probe", headers=PROXY_HEADERS,
                                 environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen["url"] == "https://tool.example.org/_probe"
    assert seen["is_secure"] is True
    assert seen["remote_addr"] == "203.0.113.7"
    assert app.test_client().get("/healthz", headers=PROXY_HEADERS).get_json()["status"] == "ok"


def test_a_trusted_proxy_is_trusted_for_one_hop_only(tmp_path):
    """A client's own forged X-Forwarded-For entry, appended to by the proxy, is not believed."""
    app = probed_app(tmp_path, TRUST_PROXY=True)
    seen = app.test_client().get("/_probe", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"},
                                 environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen["remote_addr"] == "203.0.113.7"


def test_without_trust_proxy_forwarded_headers_are_ignored(tmp_path):
    app = probed_app(tmp_path)
    assert not isinstance(app.wsgi_app, ProxyFix)
    seen = app.test_client().get("/_probe", headers=PROXY_HEADERS,
                                 environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen["url"] == "http://localhost/_probe"
    assert seen["is_secure"] is False
    assert seen["remote_addr"] == "10.0.0.2"


def test_an_unknown_time_zone_is_refused_at_start():
    with pytest.raises(ConfigError, match="LTI_TOOL_TIMEZONE"):
        Settings.from_env({"LTI_TOOL_TIMEZONE": "Europe/Atlantis"})
