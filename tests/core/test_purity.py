"""The pure packages import only what the allowlist names, and never read the clock.

``streamstats.core`` (events, rules, state, view, replay) may import the standard library
(less its clock, I/O and concurrency modules), pydantic and orjson; ``streamstats.streaming``
(records, the batch fold) may import the core and the murmur2 hash on top of that.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import streamstats

PACKAGE = Path(streamstats.__file__).parent
STDLIB_DENIED = {
    "time",
    "asyncio",
    "socket",
    "threading",
    "subprocess",
    "multiprocessing",
    "concurrent",
    "os",
    "random",
    "logging",
}
STDLIB = set(sys.stdlib_module_names) - STDLIB_DENIED
THIRD_PARTY = {"pydantic", "orjson", "typing_extensions"}
"""typing_extensions only for ``TypedDict``, which pydantic needs from it on Python 3.11."""
ALLOWED = {
    "core": STDLIB | THIRD_PARTY | {"streamstats.core"},
    "streaming": STDLIB
    | THIRD_PARTY
    | {"streamstats.core", "streamstats.streaming", "murmurhash2"},
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}
PURE_MODULES = sorted(
    (package, path.stem) for package in ALLOWED for path in (PACKAGE / package).glob("*.py")
)


def imported_modules(tree: ast.Module, package: str) -> set[str]:
    """Absolute names of everything ``tree``, a module of ``package``, imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module or "")
    return names


def allowed(name: str, allowlist: set[str]) -> bool:
    return any(name == entry or name.startswith(entry + ".") for entry in allowlist)


def test_every_pure_package_has_modules() -> None:
    assert {package for package, _ in PURE_MODULES} == set(ALLOWED)


@pytest.mark.parametrize(("package", "module"), PURE_MODULES)
def test_pure_module_imports_only_the_allowlist(package: str, module: str) -> None:
    tree = ast.parse((PACKAGE / package / f"{module}.py").read_text())
    found = imported_modules(tree, f"streamstats.{package}")
    bad = {name for name in found if not allowed(name, ALLOWED[package])}
    assert not bad, f"streamstats/{package}/{module}.py imports {sorted(bad)}"


@pytest.mark.parametrize(("package", "module"), PURE_MODULES)
def test_pure_module_never_reads_the_clock(package: str, module: str) -> None:
    tree = ast.parse((PACKAGE / package / f"{module}.py").read_text())
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK_CALLS, f"{package}/{module}.py calls {sorted(calls & CLOCK_CALLS)}"


def test_the_allowlist_refuses_the_shell() -> None:
    tree = ast.parse(
        "import time\nfrom faust import App\nfrom ..runtime import worker\nfrom .view import v\n"
        "from datetime import UTC\nimport orjson\n"
    )
    found = imported_modules(tree, "streamstats.core")
    assert found == {
        "time",
        "faust",
        "streamstats.runtime",
        "streamstats.core.view",
        "datetime",
        "orjson",
    }
    assert {name for name in found if not allowed(name, ALLOWED["core"])} == {
        "time",
        "faust",
        "streamstats.runtime",
    }
