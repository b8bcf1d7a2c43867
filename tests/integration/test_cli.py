"""The administrator's command line: registering platforms, approving deployments, keys, migrations."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Deployment, Registration
from lti_tool.lti.tool_keys import KeyRing

ISSUER = "https://moodle.school.example"


def add_args(issuer: str = ISSUER, client_id: str = "moodle-client-1", deployments=("1",), **urls) -> list[str]:
    base = issuer.rstrip("/")
    values = {"auth-login-url": f"{base}/mod/lti/auth.php", "auth-token-url": f"{base}/mod/lti/token.php",
              "key-set-url": f"{base}/mod/lti/certs.php"}
    values.update({k.replace("_", "-"): v for k, v in urls.items()})
    args = ["platform", "add", "--issuer", issuer, "--client-id", client_id]
    for deployment in deployments:
        args += ["--deployment-id", deployment]
    for name, value in values.items():
        args += [f"--{name}", value]
    return args


def registrations(app) -> list[Registration]:
    with app.app_context():
        session = get_session()
        rows = list(session.scalars(select(Registration).order_by(Registration.id)))
        for row in rows:
            row.deployments  # load before the session closes
        session.expunge_all()
        return rows


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    # A ClickException (exit 1, "Error: …"), not an exception escaping with a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def registered_id(result) -> int:
    assert result.exit_code == 0, result.output
    return int(result.output.split("registered platform ", 1)[1].split(":", 1)[0])


# --- platform add -----------------------------------------------------------------------------
def test_platform_add_registers_an_active_platform(app, runner):
    result = runner.invoke(args=add_args(name="Moodle at school"))
    registration_id = registered_id(result)
    assert f"{ISSUER} (client_id moodle-client-1)" in result.output
    [row] = registrations(app)
    assert row.id == registration_id
    assert (row.issuer, row.client_id, row.name, row.is_active) == (ISSUER, "moodle-client-1",
                                                                    "Moodle at school", True)
    assert row.key_set_url == f"{ISSUER}/mod/lti/certs.php"
    assert [(d.id_on_platform, d.is_active) for d in row.deployments] == [("1", True)]


def test_platform_add_names_the_platform_after_its_host_by_default(app, runner):
    registered_id(runner.invoke(args=add_args()))
    assert registrations(app)[0].name == "moodle.school.example"


@pytest.mark.parametrize("option,value,field", [
    ("key_set_url", "not-a-url", "key_set_url"),
    ("auth_login_url", "ftp://moodle.school.example/auth", "auth_login_url"),
    ("auth_token_url", "https://", "auth_token_url"),
])
def test_platform_add_with_a_bad_url_is_a_one_line_error(app, runner, option, value, field):
    result = runner.invoke(args=add_args(**{option: value}))
    assert_one_line_error(result, field, repr(value))
    assert registrations(app) == []


def test_platform_add_with_an_issuer_that_is_not_a_url_is_refused(app, runner):
    result = runner.invoke(args=add_args(issuer="moodle"))
    assert_one_line_error(result, "issuer")
    assert registrations(app) == []


def test_platform_add_with_a_blank_client_id_is_refused(app, runner):
    result = runner.invoke(args=add_args(client_id="   "))
    assert_one_line_error(result, "client_id")
    assert registrations(app) == []


def test_platform_add_twice_is_an_error_and_keeps_the_first(app, runner):
    registered_id(runner.invoke(args=add_args(deployments=("1",))))
    result = runner.invoke(args=add_args(deployments=("2",)))
    assert_one_line_error(result, "exists already", ISSUER, "moodle-client-1")
    [row] = registrations(app)
    assert [d.id_on_platform for d in row.deployments] == ["1"]


def test_one_issuer_may_have_several_client_ids(app, runner):
    """Canvas: every school shares https://canvas.instructure.com with its own client_id."""
    registered_id(runner.invoke(args=add_args("https://canvas.instructure.com", "10000000000001")))
    registered_id(runner.invoke(args=add_args("https://canvas.instructure.com", "10000000000002")))
    assert [r.client_id for r in registrations(app)] == ["10000000000001", "10000000000002"]


def test_platform_add_with_several_deployments(app, runner):
    registered_id(runner.invoke(args=add_args(deployments=("1", "7", "1", "42"))))
    [row] = registrations(app)
    assert [(d.id_on_platform, d.is_active) for d in row.deployments] == [("1", True), ("7", True),
                                                                          ("42", True)]


def test_platform_add_without_deployments(app, runner):
    registered_id(runner.invoke(args=add_args(deployments=())))
    assert registrations(app)[0].deployments == []


def test_platform_add_requires_the_urls(runner):
    result = runner.invoke(args=["platform", "add", "--issuer", ISSUER, "--client-id", "c"])
    assert result.exit_code == 2
    assert "Missing option" in result.output


# --- platform list / show / remove / activate / deactivate ------------------------------------
def test_platform_list(runner):
    empty = runner.invoke(args=["platform", "list"])
    assert empty.exit_code == 0 and empty.output.strip() == "no platforms registered"
    first = registered_id(runner.invoke(args=add_args(deployments=("1", "2"), name="Moodle")))
    second = registered_id(runner.invoke(args=add_args("https://canvas.instructure.com", "17", ())))
    runner.invoke(args=["platform", "deactivate", str(second)])

    result = runner.invoke(args=["platform", "list"])

    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.output.strip().splitlines()]
    assert lines == [
        [str(first), "active", ISSUER, "moodle-client-1", "2 deployment(s)", "Moodle"],
        [str(second), "inactive", "https://canvas.instructure.com", "17", "0 deployment(s)",
         "canvas.instructure.com"],
    ]


def test_platform_show_prints_the_registration_as_json(runner):
    registration_id = registered_id(runner.invoke(args=add_args(deployments=("1", "9"),
                                                                auth_audience=f"{ISSUER}/token-aud")))
    result = runner.invoke(args=["platform", "show", str(registration_id)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert datetime.fromisoformat(shown.pop("created_at")).tzinfo is not None
    assert shown == {
        "id": registration_id, "name": "moodle.school.example", "issuer": ISSUER,
        "client_id": "moodle-client-1", "is_active": True,
        "auth_login_url": f"{ISSUER}/mod/lti/auth.php", "auth_token_url": f"{ISSUER}/mod/lti/token.php",
        "key_set_url": f"{ISSUER}/mod/lti/certs.php", "auth_audience": f"{ISSUER}/token-aud",
        "registered_via": "cli", "product_family_code": None, "granted_scopes": None,
        "is_first_deployment_preapproved": False,
        "deployments": [{"id_on_platform": "1", "is_active": True}, {"id_on_platform": "9", "is_active": True}],
    }


@pytest.mark.parametrize("command", [["platform", "show"], ["platform", "remove"], ["platform", "activate"],
                                     ["platform", "deactivate"]])
def test_platform_commands_on_an_unknown_id_are_one_line_errors(runner, command):
    result = runner.invoke(args=command + ["987654"])
    assert_one_line_error(result, "no registration with id 987654")


def test_platform_remove_deletes_the_registration_and_its_deployments(app, runner):
    keep = registered_id(runner.invoke(args=add_args("https://canvas.instructure.com", "17")))
    gone = registered_id(runner.invoke(args=add_args(deployments=("1", "2"))))
    result = runner.invoke(args=["platform", "remove", str(gone)])
    assert result.exit_code == 0, result.output
    assert f"removed platform {gone}" in result.output
    assert [r.id for r in registrations(app)] == [keep]
    with app.app_context():
        assert list(get_session().scalars(select(Deployment.registration_id))) == [keep]


def test_platform_deactivate_and_activate(app, runner):
    registration_id = registered_id(runner.invoke(args=add_args()))
    result = runner.invoke(args=["platform", "deactivate", str(registration_id)])
    assert result.exit_code == 0 and f"platform {registration_id} inactive" in result.output
    assert registrations(app)[0].is_active is False
    result = runner.invoke(args=["platform", "activate", str(registration_id)])
    assert result.exit_code == 0 and f"platform {registration_id} active" in result.output
    assert registrations(app)[0].is_active is True


# --- deployment -------------------------------------------------------------------------------
def test_deployment_activate_for_an_unknown_registration_is_an_error(app, runner):
    result = runner.invoke(args=["deployment", "activate", "987654", "dep-1"])
    assert_one_line_error(result, "no registration with id 987654")
    with app.app_context():
        assert get_session().scalar(select(Deployment).where(Deployment.id_on_platform == "dep-1")) is None


def test_deployment_activate_approves_a_new_deployment_and_deactivate_blocks_it(app, runner):
    registration_id = registered_id(runner.invoke(args=add_args(deployments=())))
    result = runner.invoke(args=["deployment", "activate", str(registration_id), "dep-7"])
    assert result.exit_code == 0, result.output
    assert "deployment dep-7 of platform" in result.output and "active" in result.output
    assert [(d.id_on_platform, d.is_active) for d in registrations(app)[0].deployments] == [("dep-7", True)]
    result = runner.invoke(args=["deployment", "deactivate", str(registration_id), "dep-7"])
    assert result.exit_code == 0, result.output
    assert [(d.id_on_platform, d.is_active) for d in registrations(app)[0].deployments] == [("dep-7", False)]


# --- database errors --------------------------------------------------------------------------
def test_an_unmigrated_database_gives_a_hint_not_a_traceback(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "KEYS_DIR": str(tmp_path / "k")})
    try:
        result = app.test_cli_runner().invoke(args=["platform", "list"])
    finally:
        app.extensions["db_engine"].dispose()
    assert_one_line_error(result, "db upgrade")


def test_db_upgrade_is_idempotent(app, runner):
    registered_id(runner.invoke(args=add_args()))
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "database at head" in result.output
    # the data survived and the schema still works
    assert [r.issuer for r in registrations(app)] == [ISSUER]


# --- keys -------------------------------------------------------------------------------------
@pytest.fixture
def keys_app(database_url, tmp_path):
    """An app with a key folder of its own, so rotating here does not touch the shared live tool."""
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(tmp_path / "keys"),
                      "SECRET_KEY": "test-secret-" + "x" * 32})
    yield app
    app.extensions["db_engine"].dispose()


def test_keys_list_rotate_and_ensure(keys_app):
    runner = keys_app.test_cli_runner()
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0 and "no keys yet" in result.output and "keys rotate" in result.output

    first = runner.invoke(args=["keys", "rotate"])
    assert first.exit_code == 0, first.output
    first_kid = first.output.strip().rsplit(" ", 1)[1]
    ensured = runner.invoke(args=["keys", "ensure"])
    assert ensured.exit_code == 0 and ensured.output.strip() == f"signing key {first_kid}"
    second = runner.invoke(args=["keys", "rotate"])
    second_kid = second.output.strip().rsplit(" ", 1)[1]
    assert second_kid != first_kid

    listed = [line.split("\t") for line in runner.invoke(args=["keys", "list"]).output.strip().splitlines()]
    assert [(row[0], row[2]) for row in listed] == [(first_kid, "published"), (second_kid, "signing")]
    assert keys_app.extensions["lti_services"].tool_keys.signing_key().kid == second_kid


def test_keys_list_marks_keys_past_the_grace_period_retired(keys_app):
    ring = KeyRing(keys_app.config["LTI_SETTINGS"].KEYS_DIR)
    now = datetime.now(timezone.utc)
    oldest = ring.rotate(now - timedelta(days=90))
    older = ring.rotate(now - timedelta(days=60))
    runner = keys_app.test_cli_runner()
    newest_kid = runner.invoke(args=["keys", "rotate"]).output.strip().rsplit(" ", 1)[1]
    listed = [line.split("\t") for line in runner.invoke(args=["keys", "list"]).output.strip().splitlines()]
    assert [(row[0], row[2]) for row in listed] == [(oldest.kid, "retired"), (older.kid, "published"),
                                                    (newest_kid, "signing")]


def test_platform_remove_after_launches_keeps_the_launch_log(live_tool, runner):
    """Removing an LMS that was used deletes its users and courses but keeps the audit trail."""
    from lti_tool.db.tenancy import Context, LaunchLog, LmsUser
    from tests.support.lms import DemoLms

    lms = DemoLms(live_tool)
    _, page = lms.launch_as("demo-instructor-1")
    assert page.status_code == 200

    result = runner.invoke(args=["platform", "remove", str(lms.registration_id)])

    assert result.exit_code == 0, result.output
    with live_tool.app.app_context():
        session = get_session()
        assert session.scalars(select(LmsUser)).all() == []
        assert session.scalars(select(Context)).all() == []
        entries = session.scalars(select(LaunchLog)).all()
        assert [(e.is_accepted, e.sub, e.registration_id) for e in entries] == [(True, "demo-instructor-1", None)]


def test_the_lti_tool_command_reports_an_unsafe_production_config_in_one_line():
    from click.testing import CliRunner

    from lti_tool.cli import main

    result = CliRunner().invoke(main, ["platform", "list"],
                                env={"LTI_TOOL_ENV": "production", "LTI_TOOL_BASE_URL": "https://tool.example.org",
                                     "LTI_TOOL_SECRET_KEY": "changeme", "LTI_TOOL_DEMO": None})
    assert_one_line_error(result, "LTI_TOOL_SECRET_KEY")
