"""Where the browser journeys find Debian's Chromium and keep their screenshots."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("LTI_TOOL_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def launch_from_demo(page, live_tool, user_id: str) -> None:
    """A person picks a seeded user on the demo platform and launches: login, signed launch, landing page."""
    page.goto(live_tool.url("/demo"))
    page.click(f"button[data-user='{user_id}']")
    page.wait_for_url("**/home?launch=*")
