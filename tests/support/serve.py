"""Serve a Flask app over real HTTP in a background thread, like conftest's live tool."""
from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

from werkzeug.serving import make_server

from lti_tool import create_app
from tests.conftest import LiveTool, free_port


@contextlib.contextmanager
def served_app(config: dict[str, Any]) -> Iterator[LiveTool]:
    """create_app(config + BASE_URL of a free port), with a signing key, served until the block ends."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app({"BASE_URL": base_url, "SECRET_KEY": "test-secret-" + "x" * 32, **config})
    app.extensions["lti_services"].tool_keys.ensure_key(datetime.now(timezone.utc))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveTool(app, base_url)
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["db_engine"].dispose()
