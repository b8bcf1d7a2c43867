"""Parses HTTP Link headers as LMSes really send them (RFC 8288 and Moodle's variant)."""
from __future__ import annotations

import html
import re

# Moodle writes `&amp;` inside the URL and typographic quotes around rel values;
# other platforms send `rel=next` with no quotes at all.
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,<]+)*)")
_PARAM = re.compile(r";\s*([\w*-]+)\s*=\s*([^;,]+)")
_QUOTES = "\"'“”‘’„«» "


def parse_links(header: str | None) -> dict[str, str]:
    """Map each relation (lower case) to its URL; the first link of a relation wins."""
    links: dict[str, str] = {}
    if not header:
        return links
    for match in _LINK.finditer(_as_sent(header).replace("\n", " ")):
        url = html.unescape(match.group(1).strip())
        for name, value in _PARAM.findall(match.group(2)):
            if name.lower() != "rel":
                continue
            for rel in value.strip(_QUOTES).lower().split():
                links.setdefault(rel.strip(_QUOTES), url)
    return links


def next_page(header: str | None) -> str | None:
    return parse_links(header).get("next")


def _as_sent(header: str) -> str:
    """Moodle's quotes arrive as UTF-8 bytes, which HTTP clients decode as Latin-1 (“ becomes â\x80\x9c)."""
    try:
        return header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return header
