"""LTI 1.3 Advantage tool for a certification programme on Moodle and Canvas."""
__version__ = "0.1.0"


def create_app(config=None):
    """Build the Flask app (see lti_tool.app.create_app); `flask --app lti_tool` finds it here."""
    from .app import create_app as _create_app

    return _create_app(config)
