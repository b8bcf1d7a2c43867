"""Fixtures shared by the integration tests."""
from __future__ import annotations

import pytest

from tests.support.admin import Console, add_operator


@pytest.fixture
def operator(live_tool) -> Console:
    """A console signed in as a new operator (the person who runs the tool)."""
    console = Console(live_tool)
    assert console.sign_in(add_operator(live_tool.app)).status_code == 302
    return console
