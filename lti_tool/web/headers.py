"""Security headers on every response."""
from __future__ import annotations

from flask import Flask

from . import csp


def init_app(app: Flask) -> None:
    csp.init_app(app)

    @app.after_request
    def add_security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Page URLs carry the launch id: never leak them to another site through Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response
