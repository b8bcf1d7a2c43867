"""Login on one app instance, launch on another: state and nonce are shared, never per process."""
from __future__ import annotations

from lti_tool import create_app
from tests.support.lms import DemoLms


def test_launch_lands_on_another_instance_than_its_login(live_tool, database_url, keys_dir):
    lms = DemoLms(live_tool)
    other = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "DEMO": True,
                        "BASE_URL": live_tool.base_url, "SECRET_KEY": "another-instance-" + "y" * 32})
    try:
        browser = lms.browser()
        login = lms.login(browser)  # served by the live instance
        token = lms.sign(lms.claims(login.nonce, "demo-instructor-1"))
        cookies = {c.name: c.value for c in browser.cookies}
        client = other.test_client()
        for name, value in cookies.items():
            client.set_cookie(name, value, path="/lti/")
        response = client.post("/lti/launch", data={"id_token": token, "state": login.state})
        assert response.status_code == 303
        # and the launch session is readable by the first instance too
        page = browser.get(live_tool.url(response.headers["Location"]))
        assert 'data-audience="instructor"' in page.text
        # a replay on the first instance is refused
        replay = lms.post_launch(browser, token, login.state)
        assert replay.status_code == 400 and "state_replayed" in replay.text
    finally:
        other.extensions["db_engine"].dispose()
