"""Server-rendered SVG charts: no scripts, nothing fetched from elsewhere, readable by screen readers."""
from __future__ import annotations

from markupsafe import Markup, escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 70
WIDTH = 560


def completion_chart(title: str, bars: list[tuple[str, str, int, int]]) -> Markup:
    """Horizontal bars: (short label, long label, completed, participants) per module."""
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    track = WIDTH - LABEL_WIDTH - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="chart-title" class="chart" width="100%">',
             f'<title id="chart-title">{escape(title)}</title>']
    for index, (short, long, done, total) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        share = done / total if total else 0
        percent = round(share * 100)
        parts.append(
            f'<g><title>{escape(long)}: {done}/{total} ({percent} %)</title>'
            f'<text x="0" y="{y + 16}" font-size="13" fill="#1b1f24">{escape(short)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{track}" height="{BAR_HEIGHT}" fill="#e6ebf0"/>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{round(track * share, 1)}" height="{BAR_HEIGHT}" '
            f'fill="#0b5cad" data-module="{escape(short)}" data-completed="{done}"/>'
            f'<text x="{LABEL_WIDTH + track + 6}" y="{y + 16}" font-size="13" fill="#1b1f24">{percent} %</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
