"""The tool's public keys, as platforms fetch them to verify the tool's signed messages."""
from __future__ import annotations

import jwt
import pytest
import requests

from lti_tool import create_app
from tests.support.jwk import PRIVATE_JWK_MEMBERS, b64url_decode_uint, thumbprint_of_members

JWKS_PATHS = ["/lti/jwks", "/.well-known/jwks.json"]


def assert_valid_public_jwks(document: dict) -> list[dict]:
    assert set(document) == {"keys"}
    keys = document["keys"]
    assert keys, "a JWKS with no keys: no platform could verify the tool"
    for key in keys:
        assert key["kty"] == "RSA"
        assert (key["alg"], key["use"]) == ("RS256", "sig")
        assert key["kid"] == thumbprint_of_members(key["e"], key["n"])
        assert not PRIVATE_JWK_MEMBERS & set(key), f"private members published: {PRIVATE_JWK_MEMBERS & set(key)}"
        assert b64url_decode_uint(key["n"]).bit_length() >= 2048
    assert len({k["kid"] for k in keys}) == len(keys)
    return keys


@pytest.mark.parametrize("path", JWKS_PATHS)
def test_jwks_over_http_is_public_and_cacheable(live_tool, path):
    response = requests.get(live_tool.url(path), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    keys = assert_valid_public_jwks(response.json())
    signing = live_tool.app.extensions["lti_services"].tool_keys.signing_key()
    assert keys[0]["kid"] == signing.kid


def test_both_paths_serve_the_same_keys(client):
    assert client.get("/lti/jwks").get_json() == client.get("/.well-known/jwks.json").get_json()


def test_a_platform_can_verify_the_tools_signature_with_the_published_key(live_tool):
    """What Moodle does with the tool's client_assertion: find the kid in the JWKS, verify."""
    signing = live_tool.app.extensions["lti_services"].tool_keys.signing_key()
    assertion = jwt.encode({"iss": "tool", "sub": "tool"}, signing.private_pem, algorithm="RS256",
                           headers={"kid": signing.kid})
    jwks = jwt.PyJWKSet.from_dict(requests.get(live_tool.url("/lti/jwks"), timeout=10).json())
    key = jwks[jwt.get_unverified_header(assertion)["kid"]]
    assert jwt.decode(assertion, key.key, algorithms=["RS256"]) == {"iss": "tool", "sub": "tool"}


@pytest.fixture
def own_keys_app(database_url, tmp_path):
    """An app with its own key folder, so rotations here leave the shared live tool alone."""
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(tmp_path / "keys"),
                      "SECRET_KEY": "test-secret-" + "x" * 32})
    yield app
    app.extensions["db_engine"].dispose()


def test_after_keys_rotate_both_keys_are_served(own_keys_app):
    runner, client = own_keys_app.test_cli_runner(), own_keys_app.test_client()
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    before = assert_valid_public_jwks(client.get("/lti/jwks").get_json())
    assert len(before) == 1

    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output

    for path in JWKS_PATHS:
        after = assert_valid_public_jwks(client.get(path).get_json())
        new_kid = result.output.strip().rsplit(" ", 1)[1]
        assert [k["kid"] for k in after] == [new_kid, before[0]["kid"]]


def test_rotation_by_another_process_reaches_a_running_app(own_keys_app):
    """`lti-tool keys rotate` runs as its own process: the serving app has its own KeyRing."""
    client = own_keys_app.test_client()
    other_process = create_app({"DATABASE_URL": own_keys_app.config["LTI_SETTINGS"].DATABASE_URL,
                                "KEYS_DIR": own_keys_app.config["LTI_SETTINGS"].KEYS_DIR})
    try:
        assert other_process.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
        first = [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
        result = other_process.test_cli_runner().invoke(args=["keys", "rotate"])
        new_kid = result.output.strip().rsplit(" ", 1)[1]
    finally:
        other_process.extensions["db_engine"].dispose()
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] == [new_kid] + first


def test_healthz_says_ok(live_tool):
    response = requests.get(live_tool.url("/healthz"), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "KEYS_DIR": str(tmp_path / "k")})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    assert response.get_json()["database"] == "unreachable"
