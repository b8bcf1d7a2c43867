"""Language: an explicit choice, the launch's locale, the browser's, then LTI_TOOL_DEFAULT_LOCALE (sv)."""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request, url_for
from flask_babel import Babel, get_locale

SUPPORTED_LOCALES = ("sv", "en")


def select_locale() -> str:
    chosen = chosen_language()
    if chosen:
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
    app.jinja_env.globals["this_page_in"] = this_page_in
    app.url_defaults(keep_language_choice)


def chosen_language() -> str | None:
    """The language a person picked with `?lang=` on this page (not the launch's or the browser's)."""
    chosen = request.args.get("lang") if has_request_context() else None
    return chosen if chosen in SUPPORTED_LOCALES else None


def keep_language_choice(endpoint: str, values: dict) -> None:
    """A link from a launched page to another one (it carries the launch id) keeps the language picked.

    Inside the LMS iframe the launch id in the URL is the only state the tool can rely on, so the
    choice travels with it. URLs without a launch (those an LMS is configured with) stay as they are.
    """
    if "launch" in values and "lang" not in values:
        chosen = chosen_language()
        if chosen:
            values["lang"] = chosen


def this_page_in(language: str) -> str:
    """This very page (its launch, filters and page number) in another language."""
    # One dict: a query argument named like a path argument (?enrolment_id=…) must not break the page.
    return url_for(request.endpoint, **{**request.args.to_dict(), **(request.view_args or {}), "lang": language})


def localised(sv: str, en: str) -> str:
    """The Swedish or English variant of a name the programme gives in both."""
    return sv if str(get_locale() or "sv") == "sv" else en
