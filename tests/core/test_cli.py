"""Spec §7: the replay command line, plus simulate and schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streamstats.cli import main

from ..factories import EventFactory, at, lines


def run(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m streamstats ARGS``; ``env`` replaces every ``STREAMSTATS_*`` variable."""
    environ = None
    if env is not None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSTATS_")}
        environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "streamstats", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
        env=environ,
    )


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    ev = EventFactory()
    events = [
        ev.status("b", "online", at("08:00")),
        ev.assigned("c1", "a", at("08:30")),
    ]
    path = tmp_path / "events.jsonl"
    raw = lines(events)
    path.write_bytes(raw[0] + b"\n{oops\n\n" + raw[1] + b"\n" + b'{"type": "x.y"}\n')
    return path


def test_replay_prints_every_agent_sorted_at_the_latest_event(events_file: Path) -> None:
    done = run("replay", str(events_file))
    assert done.returncode == 0
    output = orjson.loads(done.stdout)
    assert list(output) == ["agents"]
    assert list(output["agents"]) == ["a", "b"]
    assert output["agents"]["b"]["as_of"] == "2026-11-25T08:30:00Z"
    assert output["agents"]["b"]["status"]["seconds"] == 1800.0
    assert list(output["agents"]["a"]) == sorted(output["agents"]["a"])


def test_replay_reports_invalid_lines_with_their_numbers_and_goes_on(events_file: Path) -> None:
    done = run("replay", str(events_file))
    assert done.returncode == 0
    errors = done.stderr.decode()
    assert "line 2: not_json" in errors
    assert "line 3" not in errors
    assert "x.y" in errors


def test_replay_at_evaluates_durations_at_that_instant(events_file: Path) -> None:
    done = run("replay", str(events_file), "--at", "2026-11-25T10:00:00+01:00")
    panel = orjson.loads(done.stdout)["agents"]["b"]
    assert (panel["as_of"], panel["status"]["seconds"]) == ("2026-11-25T09:00:00Z", 3600.0)


def test_replay_reads_standard_input(events_file: Path) -> None:
    done = run("replay", "-", stdin=events_file.read_bytes())
    assert orjson.loads(done.stdout) == orjson.loads(run("replay", str(events_file)).stdout)


def test_replay_of_a_missing_file_fails_with_a_message(tmp_path: Path) -> None:
    done = run("replay", str(tmp_path / "nope.jsonl"))
    assert done.returncode != 0
    assert b"cannot read" in done.stderr


def test_replay_rejects_a_naive_at(events_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["replay", str(events_file), "--at", "2026-11-25T10:00:00"])
    assert stopped.value.code == 2
    assert "add Z or +HH:MM" in capsys.readouterr().err


def test_replay_of_an_empty_file_prints_no_agents(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert orjson.loads(run("replay", str(path)).stdout) == {"agents": {}}


@pytest.fixture
def gap_file(tmp_path: Path) -> Path:
    """Agent a is offline for 90 minutes: a new session with a 1 h gap, not with 6 h."""
    ev = EventFactory()
    events = [
        ev.status("a", "online", at("08:00")),
        ev.assigned("c1", "a", at("08:10")),
        ev.closed("c1", "a", at("08:20")),
        ev.status("a", "offline", at("09:00")),
        ev.status("a", "online", at("10:30")),
    ]
    path = tmp_path / "gap.jsonl"
    path.write_bytes(b"\n".join(lines(events)) + b"\n")
    return path


def session_of(done: subprocess.CompletedProcess[bytes]) -> tuple[str, int]:
    """(first_online, chats closed) of agent a in a replay's output."""
    assert done.returncode == 0, done.stderr
    panel = orjson.loads(done.stdout)["agents"]["a"]
    return panel["session"]["first_online"], panel["chats"]["closed"]


SIX_HOURS = ("2026-11-25T08:00:00Z", 1)
ONE_HOUR = ("2026-11-25T10:30:00Z", 0)


def test_replay_folds_with_the_workers_offline_gap_variable(gap_file: Path) -> None:
    assert session_of(run("replay", str(gap_file), env={})) == SIX_HOURS
    gap = {"STREAMSTATS_OFFLINE_GAP_HOURS": "1"}
    assert session_of(run("replay", str(gap_file), env=gap)) == ONE_HOUR


@pytest.mark.parametrize(
    ("variable", "flag", "expected"),
    [("1", "6", SIX_HOURS), ("6", "1", ONE_HOUR), ("soon", "1", ONE_HOUR), (None, "1.0", ONE_HOUR)],
)
def test_the_offline_gap_flag_overrides_the_variable(
    gap_file: Path, variable: str | None, flag: str, expected: tuple[str, int]
) -> None:
    env = {} if variable is None else {"STREAMSTATS_OFFLINE_GAP_HOURS": variable}
    done = run("replay", str(gap_file), "--offline-gap-hours", flag, env=env)
    assert session_of(done) == expected


def test_replay_needs_no_other_worker_setting(gap_file: Path) -> None:
    env = {
        "STREAMSTATS_OFFLINE_GAP_HOURS": "1",
        "STREAMSTATS_AUTH": "on",  # with no JWT key: the worker would refuse to start
        "STREAMSTATS_PARTITIONS": "four",
        "STREAMSTATS_BOOTSTRAP_SERVERS": "nowhere:1",
    }
    assert session_of(run("replay", str(gap_file), env=env)) == ONE_HOUR


@pytest.mark.parametrize("value", ["soon", "0", "-2", "nan", "inf", " "])
def test_replay_refuses_a_bad_offline_gap_variable(gap_file: Path, value: str) -> None:
    done = run("replay", str(gap_file), env={"STREAMSTATS_OFFLINE_GAP_HOURS": value})
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode() == (
        f"streamstats replay: STREAMSTATS_OFFLINE_GAP_HOURS={value!r} is not a positive "
        "number of hours; give one such as 6 or 0.5\n"
    )


@pytest.mark.parametrize("value", ["soon", "0", "-1", "-0.5", "", "1e400"])
def test_replay_refuses_a_bad_offline_gap_flag(
    gap_file: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(gap_file), f"--offline-gap-hours={value}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"streamstats replay: --offline-gap-hours={value!r} is not a positive "
        "number of hours; give one such as 6 or 0.5\n"
    )


def test_simulate_piped_into_replay_gives_a_panel_for_every_agent() -> None:
    simulated = run("simulate", "--seed", "1", "--agents", "5", "--hours", "24")
    assert simulated.returncode == 0
    output = orjson.loads(run("replay", "-", stdin=simulated.stdout).stdout)
    assert len(output["agents"]) == 5
    for panel in output["agents"].values():
        assert panel["status"]["current"] in {"online", "offline", "paused"}
        assert panel["session"]["first_online"] is not None


def test_simulate_sends_a_status_heartbeat_when_asked() -> None:
    common = ("simulate", "--seed", "2", "--agents", "3", "--hours", "12")
    plain = run(*common).stdout.splitlines()
    beating = run(*common, "--status-resend-minutes", "10").stdout.splitlines()
    assert len(beating) > len(plain) + 3 * 20  # ~8 h on shift, every 10 minutes


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (("--hours", "0"), "hours must be positive and finite"),
        (("--agents", "-1"), "agents and chats must not be negative"),
        (("--status-resend-minutes", "0"), "status_resend_minutes must be positive and finite"),
    ],
)
def test_simulate_explains_bad_arguments(
    flags: tuple[str, ...], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"streamstats simulate: {problem}; see streamstats simulate --help\n")


def test_schema_files_are_up_to_date() -> None:
    schemas = Path(__file__).parents[2] / "schemas"
    assert main(["schemas", "check", "--dir", str(schemas)]) == 0


def test_schema_check_notices_a_stale_file(tmp_path: Path) -> None:
    assert main(["schemas", "export", "--dir", str(tmp_path)]) == 0
    (tmp_path / "panel.json").write_text("{}")
    assert main(["schemas", "check", "--dir", str(tmp_path)]) == 1


def test_what_if_prints_the_fields_that_differ_between_two_offline_gaps(gap_file: Path) -> None:
    """Spec §11: agent a's session starts over only with the 1 h gap."""
    done = run(
        "replay",
        str(gap_file),
        "--offline-gap-hours",
        "1",
        "--compare-offline-gap-hours",
        "6",
        "--at",
        "2026-11-25T11:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {
        "changed": {
            "a": {
                "chats.closed": [0, 1],
                "session.first_online": ["2026-11-25T10:30:00Z", "2026-11-25T08:00:00Z"],
                "session.seconds": [1800.0, 10800.0],
                "time.offline": [0.0, 5400.0],
                "time.online": [1800.0, 5400.0],
            }
        },
        "summary": {
            "agents": 1,
            "changed_agents": 1,
            "fields": {
                "chats.closed": 1,
                "session.first_online": 1,
                "session.seconds": 1,
                "time.offline": 1,
                "time.online": 1,
            },
        },
    }


def test_what_if_of_the_same_gap_changes_nothing(gap_file: Path) -> None:
    done = run("replay", str(gap_file), "--compare-offline-gap-hours", "6", env={})
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {
        "changed": {},
        "summary": {"agents": 1, "changed_agents": 0, "fields": {}},
    }


def test_what_if_refuses_a_bad_compare_flag(
    gap_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(gap_file), "--compare-offline-gap-hours=0"]) == 2
    assert capsys.readouterr().err == (
        "streamstats replay: --compare-offline-gap-hours='0' is not a positive "
        "number of hours; give one such as 6 or 0.5\n"
    )


def test_replay_explain_prints_the_breakdown_of_every_agent(gap_file: Path) -> None:
    done = run("replay", str(gap_file), "--explain", "--at", "2026-11-25T11:00:00Z", env={})
    assert done.returncode == 0, done.stderr
    breakdown = orjson.loads(done.stdout)["agents"]["a"]
    assert breakdown["session"]["first_online"] == "2026-11-25T08:00:00Z"
    assert [(item["status"], item["seconds"]) for item in breakdown["session"]["segments"]] == [
        ("online", 3600.0),
        ("offline", 5400.0),
        ("online", 1800.0),
    ]
    assert [item["event_id"] for item in breakdown["chats"]["closed"]] == [
        lines_event_id(gap_file, 2)
    ]


def lines_event_id(path: Path, index: int) -> str:
    event_id: str = orjson.loads(path.read_bytes().splitlines()[index])["event_id"]
    return event_id
