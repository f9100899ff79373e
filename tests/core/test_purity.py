"""The core is pure: no broker, web, metrics or clock imports, and no reads of the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import streamstats

CORE_MODULES = ["events", "instant", "state", "fold", "view", "replay", "schemas", "simulate"]
FORBIDDEN_IMPORTS = {
    "faust",
    "mode",
    "aiokafka",
    "aiohttp",
    "prometheus_client",
    "time",
    "asyncio",
    "socket",
    "streamstats.cli",
    "streamstats.settings",
    "streamstats.worker",
    "streamstats.web",
    "streamstats.metrics",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
PACKAGE = Path(streamstats.__file__).parent


def imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "streamstats." + (node.module or "") if node.level else node.module or ""
            names.add(base.rstrip("."))
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_shell_and_no_clock(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    bad = {
        name
        for name in imported_modules(tree)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN_IMPORTS)
    }
    assert not bad, f"{module}.py imports {sorted(bad)}"


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_never_reads_the_clock(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK_CALLS, f"{module}.py calls {sorted(calls & CLOCK_CALLS)}"


def test_the_purity_check_catches_a_forbidden_import() -> None:
    tree = ast.parse("import time\nfrom faust import App\nfrom .web import x\n")
    assert imported_modules(tree) == {"time", "faust", "streamstats.web"}
