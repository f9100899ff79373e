"""`make run` and `make test` install every tool the tests call (deploy/system-deps.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "system-deps.sh"
# How the tests and benchmarks find a tool: conftest's tool(<name>, <package>),
# shutil.which(<name>), or a fixed path of a Debian binary.
CALLS = re.compile(
    r"""(?:\btool\(|shutil\.which\()\s*["']([\w.-]+)["']|["']/usr/bin/([\w.-]+)["']"""
)


def listed() -> dict[str, str]:
    """Tool → Debian package, as the script lists them."""
    out = subprocess.run(["bash", str(SCRIPT), "list"], capture_output=True, text=True, check=True)
    return {line.split()[0]: line.split()[1] for line in out.stdout.splitlines() if line.strip()}


def called() -> set[str]:
    """Every tool a test, proof or benchmark looks up."""
    found: set[str] = set()
    for path in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        for match in CALLS.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def test_every_tool_the_tests_call_is_installed_by_the_script() -> None:
    tools = called()
    assert {"kcat", "promtool", "docker-compose", "chromium", "wrk"} <= tools
    assert tools - set(listed()) == set()


def test_the_broker_needs_java_and_maven_for_make_run() -> None:
    kafka = (ROOT / "deploy" / "local-kafka" / "kafka.sh").read_text()
    run_tools = {
        line.split()[0]
        for line in subprocess.run(
            ["bash", str(SCRIPT), "list"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if line.split()[2:3] == ["run"]
    }
    assert run_tools == {"java", "mvn"}
    assert "command -v java" in kafka
    assert "command -v mvn" in kafka


def test_without_root_or_sudo_it_names_the_one_command_to_run(tmp_path: Path) -> None:
    # A machine with none of the tools, a user who is not root and no sudo.
    (tmp_path / "id").write_text("#!/bin/sh\necho 1000\n")
    (tmp_path / "id").chmod(0o755)
    env = {**os.environ, "PATH": str(tmp_path), "PYTHON": str(tmp_path / "no-python")}
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT), "test"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    packages = " ".join(dict.fromkeys(listed().values()))
    assert f"sudo apt-get install -y --no-install-recommends {packages} python3-venv" in done.stderr


def test_nothing_is_installed_when_every_tool_is_there(tmp_path: Path) -> None:
    for tool in listed():
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    (tmp_path / "id").write_text("#!/bin/sh\necho 1000\n")
    (tmp_path / "id").chmod(0o755)
    env = {**os.environ, "PATH": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT), "test"], capture_output=True, text=True, env=env
    )
    assert (done.returncode, done.stderr) == (0, "")
