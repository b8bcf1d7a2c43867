"""The domain stays pure: no web framework, database or LTI library inside it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import lti_tool.domain

FORBIDDEN = ("flask", "sqlalchemy", "pylti1p3")
DOMAIN = Path(lti_tool.domain.__file__).parent
SOURCES = sorted(DOMAIN.rglob("*.py"))


def _imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_domain_has_modules_to_check():
    assert len(SOURCES) > 5


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_no_domain_module_imports_infrastructure(source):
    roots = {name.partition(".")[0] for name in _imported_modules(source)}
    assert not roots & set(FORBIDDEN)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_the_domain_imports_only_the_standard_library_and_itself(source):
    outside = {
        name for name in _imported_modules(source)
        if name.partition(".")[0] not in sys.stdlib_module_names
        and not name.startswith("lti_tool.domain")
    }
    assert outside == set()


# Loads every domain module with a bare `lti_tool` package, so that whatever the app's
# own lti_tool/__init__.py imports (Flask, for its app factory) cannot mask the check.
_PROBE = """
import importlib, json, pkgutil, sys, types
root = types.ModuleType("lti_tool")
root.__path__ = [sys.argv[1]]
sys.modules["lti_tool"] = root
import lti_tool.domain as domain
for info in pkgutil.walk_packages(domain.__path__, "lti_tool.domain."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_domain_loads_no_infrastructure():
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DOMAIN.parent)],
        capture_output=True, text=True, check=True,
    )
    loaded = json.loads(probe.stdout)
    assert "lti_tool.domain.certification" in loaded
    assert [name for name in loaded if name.partition(".")[0] in FORBIDDEN] == []
