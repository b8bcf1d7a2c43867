"""The application factory."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import db, extensions
from .config import Settings
from .web.cookie_session import CookieSessionInterface

csrf = CSRFProtect()


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` is a Settings or a mapping of setting names to override the environment."""
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    app = Flask(__name__, template_folder="web/templates", instance_relative_config=False)
    app.config.update(settings.flask_config())
    app.session_interface = CookieSessionInterface()
    if settings.TRUST_PROXY:
        # Behind one TLS-terminating proxy: trust its X-Forwarded-For/Proto/Host/Port.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    extensions.init_app(app)
    csrf.init_app(app)

    from .web import errors, headers, i18n
    from .web.health import bp as health_bp
    from .web.home import bp as home_bp
    from .web.instructor import bp as instructor_bp
    from .web.learner import bp as learner_bp
    from .web.lti_endpoints import bp as lti_bp

    i18n.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    # The LMS posts to these cross-site; state, nonce and signature protect them instead of a CSRF token.
    csrf.exempt(lti_bp)
    app.register_blueprint(lti_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(learner_bp)
    app.register_blueprint(instructor_bp)
    app.register_blueprint(health_bp)
    from .web.registration import bp as registration_bp

    # Dynamic Registration's confirmation carries its own cookie-less CSRF token (see web/registration.py).
    csrf.exempt("lti_tool.web.registration.complete_dynamic_registration")
    app.register_blueprint(registration_bp)
    from .web.certificates import bp as certificates_bp
    from .web.verify import bp as verify_bp

    app.register_blueprint(certificates_bp)
    app.register_blueprint(verify_bp)
    from .web.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from .web.course import bp as course_bp  # course link, gradebook columns, sync, deep linking (issue 5)

    app.register_blueprint(course_bp)
    if settings.DEMO:
        from .demo.platform import bp as demo_bp

        csrf.exempt("lti_tool.demo.platform.authorize")
        csrf.exempt("lti_tool.demo.platform.token")
        app.register_blueprint(demo_bp)

    from .cli import register_commands

    register_commands(app)
    return app
