"""What every page a browser journey visits must pass: axe-core's WCAG 2.1 A/AA rules, no sideways scroll of
the whole page at 320 px, a visible keyboard focus; and a screenshot of it kept as a test artefact."""
from __future__ import annotations

import re

from axe_playwright_python.base import AXE_SCRIPT  # axe-core's axe.min.js, bundled in the wheel

from tests.support.browser import ARTEFACTS

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 320)  # a desktop LMS, and the narrowest iframe the tool must fit
HEIGHT = 800
SCREENSHOTS = ARTEFACTS / "screenshots"


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now.

    The script goes in through page.evaluate (the DevTools protocol), which the page's
    Content-Security-Policy does not govern; a <script> tag would be refused by it.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate(
        "options => axe.run(document, options).then(r => ({violations: r.violations, passed: r.passes.length}))",
        {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
    assert results["passed"] or results["violations"], f"axe-core checked nothing on {page.url}"
    return results["violations"]


def violation_report(violations: list[dict]) -> str:
    """One paragraph per rule: its id, impact and help, then each failing element's selector and why."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} [{violation['helpUrl']}]")
        for node in violation["nodes"]:
            target = " ".join(" >> ".join(part) if isinstance(part, list) else part for part in node["target"])
            why = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {target}: {why}")
    return "\n".join(lines)


def assert_accessible(page, context: str) -> None:
    violations = axe_violations(page)
    assert not violations, (f"{context} ({page.url}): {len(violations)} WCAG 2.1 A/AA violation(s) found by "
                            f"axe-core:\n{violation_report(violations)}")


def page_scroll_width(page) -> int:
    return page.evaluate("() => document.scrollingElement.scrollWidth")


# The elements that stick out to the right (their box or their content), outside any box that scrolls itself.
_TOO_WIDE = """width => {
    const right = e => getComputedStyle(e).overflowX !== 'visible' ? e.getBoundingClientRect().right
        : Math.max(e.getBoundingClientRect().right, e.getBoundingClientRect().left + e.scrollWidth);
    const scrollsInItsBox = e => {
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
            if (getComputedStyle(a).overflowX !== 'visible') return true;
        return false;
    };
    return [...document.querySelectorAll('body *')].filter(e => right(e) > width + 1 && !scrollsInItsBox(e))
        .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.getAttribute('class') ? '.' + e.getAttribute('class') : '')
                              + ' right=' + Math.round(right(e)));
}"""


def assert_fits_width(page, context: str) -> None:
    """The whole page never scrolls sideways; a wide table scrolls inside its own container."""
    width = page.viewport_size["width"]
    scroll_width = page_scroll_width(page)
    if scroll_width > width:
        raise AssertionError(f"{context} ({page.url}): the page is {scroll_width} px wide at {width} px; "
                             f"too wide: {', '.join(page.evaluate(_TOO_WIDE, width))}")


def assert_focus_visible(page, context: str, limit: int = 60) -> int:
    """Tab through the page: every element that takes the focus shows an outline. Returns how many took it."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            const style = getComputedStyle(e);
            return {name: e.outerHTML.slice(0, 120), outline: style.outlineStyle !== 'none'
                    && parseFloat(style.outlineWidth) >= 2};
        }""")
        if focused is None or (seen and focused["name"] == seen[0]):
            break  # past the last element (or round again)
        assert focused["outline"], f"{context} ({page.url}): no visible focus on {focused['name']}"
        seen.append(focused["name"])
    return len(seen)


def screenshot_name(journey: str, page_name: str, width: int) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", f"{journey}-{page_name}-{width}px".lower()) + ".png"


def check_page(page, journey: str, page_name: str, widths: tuple[int, ...] = WIDTHS) -> None:
    """The page at each width: axe passes, it fits, and a full-page screenshot is kept; ends at the first width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in widths:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        context = f"{journey}: {page_name} at {width} px"
        assert_accessible(page, context)
        assert_fits_width(page, context)
        page.screenshot(path=str(SCREENSHOTS / screenshot_name(journey, page_name, width)), full_page=True)
    page.set_viewport_size({"width": widths[0], "height": HEIGHT})
