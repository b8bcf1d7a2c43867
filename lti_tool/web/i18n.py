"""Language: an explicit choice, the launch's locale, the browser's, then LTI_TOOL_DEFAULT_LOCALE (sv)."""
from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale

SUPPORTED_LOCALES = ("sv", "en")


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    launch = getattr(g, "launch", None)
    if launch is not None and launch.locale:
        language = launch.locale.replace("_", "-").split("-")[0].lower()
        if language in SUPPORTED_LOCALES:
            return language
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "sv")
    app.jinja_env.globals["localised"] = localised


def localised(sv: str, en: str) -> str:
    """The Swedish or English variant of a name the programme gives in both."""
    return sv if str(get_locale() or "sv") == "sv" else en
