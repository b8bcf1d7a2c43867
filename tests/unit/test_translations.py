"""Every user-facing string has a Swedish translation, and pages render in the language asked for."""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from lti_tool import create_app
from lti_tool.db.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO_ROOT / "lti_tool" / "translations"
SV_PO = TRANSLATIONS / "sv" / "LC_MESSAGES" / "messages.po"
SV_MO = SV_PO.with_suffix(".mo")
# The same command as in the README, so the test sees exactly what a translator would extract.
EXTRACT = ["extract", "-F", str(REPO_ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext"]
HOW_TO_FIX = ("extract and update the catalogue, then translate (README, 'Translations'): "
              "pybabel extract -F babel.cfg -k _l -k lazy_gettext -o lti_tool/translations/messages.pot . && "
              "pybabel update -i lti_tool/translations/messages.pot -d lti_tool/translations -D messages")
# printf-style (%(name)s, %s, %%) and str.format-style ({name}) placeholders.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\w*\}")


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def forms(value: str | tuple | list | None) -> tuple[str, ...]:
    """A message's singular (and plural) strings as a tuple."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def messages(catalogue: Catalog) -> list[Message]:
    return [message for message in catalogue if message.id]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def compile_swedish() -> None:
    """Write sv/messages.mo from messages.po (as `make install` does), so a clean clone can render."""
    catalogue = read_catalogue(SV_PO)
    partial = SV_MO.with_name(f".messages.mo.{os.getpid()}")
    with partial.open("wb") as handle:
        write_mo(handle, catalogue)
    os.replace(partial, SV_MO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", *EXTRACT, "-o", str(pot), str(REPO_ROOT)],
                   check=True, cwd=REPO_ROOT)
    return read_catalogue(pot)


@pytest.fixture(scope="module")
def swedish() -> Catalog:
    return read_catalogue(SV_PO)


def test_the_code_has_strings_to_translate(extracted):
    # Guards the extraction itself: a broken babel.cfg would make every other check pass vacuously.
    assert len(messages(extracted)) > 20


def test_every_user_facing_string_has_a_swedish_translation(extracted, swedish):
    problems = []
    for message in messages(extracted):
        translated = swedish.get(message.id)
        if translated is None:
            problems.append(f"not in sv/messages.po: {message.id!r}")
        elif translated.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not forms(translated.string) or not all(forms(translated.string)):
            problems.append(f"no Swedish text: {message.id!r}")
    assert not problems, "\n".join(problems + [HOW_TO_FIX])


def test_the_swedish_catalogue_is_not_fuzzy(swedish):
    # A fuzzy header makes `pybabel compile` (without --use-fuzzy) skip the whole catalogue.
    assert not swedish.fuzzy


def test_translations_keep_the_placeholders_of_the_english(swedish):
    mismatches = []
    for message in messages(swedish):
        for english, translated in zip(forms(message.id), forms(message.string)):
            if translated and placeholders(english) != placeholders(translated):
                mismatches.append(f"{english!r}: {placeholders(english)} ≠ {translated!r}: {placeholders(translated)}")
    assert not mismatches, "\n".join(mismatches)


@pytest.fixture(scope="module")
def tool_client(tmp_path_factory):
    if not SV_MO.exists() or SV_MO.stat().st_mtime < SV_PO.stat().st_mtime:
        compile_swedish()
    folder = tmp_path_factory.mktemp("i18n-app")
    database_url = f"sqlite:///{folder / 'x.sqlite3'}"
    upgrade(database_url)
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(folder / "keys")})
    yield app.test_client()
    app.extensions["db_engine"].dispose()


SESSION_ENDED = "Your session with the tool has ended. Open the tool again from your course."
NO_ID_TOKEN = "The LMS sent no launch token."


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "english", "language"),
    [
        ("GET", "/home?launch=nope", {"Accept-Language": "sv"}, 401, SESSION_ENDED, "sv"),
        ("GET", "/home?launch=nope", {"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"}, 401, SESSION_ENDED, "sv"),
        ("GET", "/home?launch=nope", {}, 401, SESSION_ENDED, "sv"),
        ("GET", "/home?launch=nope", {"Accept-Language": "de"}, 401, SESSION_ENDED, "sv"),
        ("GET", "/home?launch=nope", {"Accept-Language": "en"}, 401, SESSION_ENDED, "en"),
        ("GET", "/home?launch=nope", {"Accept-Language": "en-GB,en;q=0.9"}, 401, SESSION_ENDED, "en"),
        ("GET", "/home?launch=nope&lang=en", {"Accept-Language": "sv"}, 401, SESSION_ENDED, "en"),
        ("GET", "/home?launch=nope&lang=sv", {"Accept-Language": "en"}, 401, SESSION_ENDED, "sv"),
        ("POST", "/lti/launch", {"Accept-Language": "sv"}, 400, NO_ID_TOKEN, "sv"),
        ("POST", "/lti/launch", {"Accept-Language": "en"}, 400, NO_ID_TOKEN, "en"),
    ],
)
def test_pages_render_in_the_language_asked_for(tool_client, swedish, method, path, headers, status, english,
                                                language):
    response = tool_client.open(path, method=method, headers=headers, data={} if method == "POST" else None)
    page = html.unescape(response.get_data(as_text=True))
    swedish_text = swedish[english].string
    assert response.status_code == status
    assert f'<html lang="{language}">' in page
    if language == "sv":
        assert swedish_text in page and english not in page
    else:
        assert english in page and swedish_text not in page
