"""The ``streamstats`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import orjson

from .core.instant import parse_instant

if TYPE_CHECKING:
    from .core.replay import ReplayResult

__all__ = ["main"]


def _instant(text: str) -> int:
    try:
        return parse_instant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{error}; expected RFC 3339 such as 2026-11-25T09:30:00Z"
        ) from None


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add Z or +HH:MM")
    return moment


def _open_input(path: str) -> BinaryIO:
    return sys.stdin.buffer if path == "-" else Path(path).open("rb")


def _replay(args: argparse.Namespace) -> int:
    from .collector import tune_garbage_collector
    from .core.replay import compare, render, replay_lines
    from .settings import SettingsError, read_fold_settings

    try:
        fold = read_fold_settings(offline_gap_hours=args.offline_gap_hours)
        other = None
        if args.compare_offline_gap_hours is not None:
            flag = "--compare-offline-gap-hours"
            other = read_fold_settings(offline_gap_hours=args.compare_offline_gap_hours, flag=flag)
    except SettingsError as error:
        print(f"streamstats replay: {error}", file=sys.stderr)
        return 2
    try:
        source = _open_input(args.file)
    except OSError as error:
        print(f"streamstats replay: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        with source:
            tune_garbage_collector()
            lines = source if other is None else source.readlines()
            result = replay_lines(
                lines, config=fold.config, evidence=args.explain, sessions=args.sessions
            )
    except OSError as error:
        print(f"streamstats replay: reading {args.file} failed: {error}", file=sys.stderr)
        return 2
    _report_skipped(result)
    if other is not None:
        second = replay_lines(lines, config=other.config)
        comparison = compare(result, second, args.at)
        sys.stdout.buffer.write(orjson.dumps(comparison, option=orjson.OPT_SORT_KEYS) + b"\n")
    else:
        show = "breakdowns" if args.explain else "sessions" if args.sessions else "panels"
        sys.stdout.buffer.write(render(result, args.at, show))
    return 0


def _report_skipped(result: ReplayResult) -> None:
    for problem in result.problems:
        print(f"line {problem.line}: {problem.reason}: {problem.detail}", file=sys.stderr)
    for event_type, count in sorted(result.unknown_types.items()):
        print(f"ignored {count} event(s) of unknown type {event_type!r}", file=sys.stderr)


def _simulate(args: argparse.Namespace) -> int:
    from .tools.simulate import simulate_lines

    write = sys.stdout.buffer.write
    lines = simulate_lines(
        seed=args.seed,
        agents=args.agents,
        chats=args.chats,
        hours=args.hours,
        start=args.start,
        status_resend_minutes=args.status_resend_minutes,
    )
    try:
        first = next(lines, b"")  # the arguments are checked as the simulation starts
    except ValueError as error:
        print(f"streamstats simulate: {error}; see streamstats simulate --help", file=sys.stderr)
        return 2
    try:
        write(first)
        for line in lines:
            write(line)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # The reader (e.g. `head`) went away; that is not an error of ours.
        sys.stderr.close()
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from .tools.schemas import check_schemas, export_schemas

    if args.action == "export":
        for path in export_schemas(args.dir):
            print(f"wrote {path}")
        return 0
    stale = check_schemas(args.dir)
    for problem in stale:
        print(problem, file=sys.stderr)
    if stale:
        print("run `streamstats schemas export` to regenerate them", file=sys.stderr)
        return 1
    print(f"schemas in {args.dir} are up to date")
    return 0


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from .runtime.kafka import KafkaSetupError, ensure_topics
    from .runtime.tables import changelog_topics
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        asyncio.run(ensure_topics(settings, changelog_topics(settings)))
    except (SettingsError, KafkaSetupError) as error:
        print(f"streamstats worker: {error}", file=sys.stderr)
        return 2
    from .runtime.worker import run_worker

    return run_worker(settings)


def _produce(args: argparse.Namespace) -> int:
    import asyncio

    from .runtime.kafka import KafkaSetupError, ensure_topics, publish_lines
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env(serving=False)
        source = _open_input(args.file)
    except (SettingsError, OSError) as error:
        print(f"streamstats produce: {error}", file=sys.stderr)
        return 2
    try:
        with source:
            asyncio.run(ensure_topics(settings))
            report = asyncio.run(publish_lines(settings, source, args.speed, args.realtime))
    except KafkaSetupError as error:
        print(f"streamstats produce: {error}", file=sys.stderr)
        return 2
    print(
        f"published {report.messages} events in {report.seconds:.1f} s "
        f"to {settings.status_topic} and {settings.chat_topic}",
        file=sys.stderr,
    )
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from .runtime.dead_letters import fold_copies, read_dead_letters, render, select
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env(serving=False)
        records = asyncio.run(
            read_dead_letters(
                settings.bootstrap_servers, settings.dead_letter_topic, settings.partitions
            )
        )
    except SettingsError as error:
        print(f"streamstats dead-letters: {error}", file=sys.stderr)
        return 2
    except KafkaError as error:
        print(
            f"streamstats dead-letters: cannot read {settings.dead_letter_topic} at "
            f"{settings.bootstrap_servers} ({error}); check STREAMSTATS_BOOTSTRAP_SERVERS",
            file=sys.stderr,
        )
        return 2
    entries = select(fold_copies(records), args.reason, args.since, args.limit)
    for entry in entries:
        print(render(entry, as_json=args.json))
    if not args.json:
        print(
            f"{len(entries)} dead letter(s) shown, newest first, {len(records)} record(s) in "
            f"{settings.dead_letter_topic}",
            file=sys.stderr,
        )
    return 0


def _add_dead_letters(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser(
        "dead-letters",
        help="list the rejected input messages, newest first, one per source position",
    )
    listing.add_argument("--reason", help="only this reason, e.g. schema or key_mismatch")
    listing.add_argument(
        "--since", type=_instant, metavar="TIMESTAMP", help="only those written since then"
    )
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(run=_dead_letters)


def _token(args: argparse.Namespace) -> int:
    import os

    from .web.auth import mint_token

    private_key = Path(args.private_key).read_text() if args.private_key else ""
    try:
        token = mint_token(
            args.agent,
            args.role,
            secret="" if private_key else os.environ.get("STREAMSTATS_JWT_SECRET", ""),
            private_key=private_key,
            ttl_seconds=round(args.ttl_hours * 3600),
        )
    except ValueError as error:
        print(f"streamstats token: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate", help="print realistic, deterministic event traffic as JSON lines"
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--agents", type=int, default=20)
    simulate.add_argument("--chats", type=int, default=None, help="default: sized to the agents")
    simulate.add_argument("--hours", type=float, default=24.0)
    simulate.add_argument(
        "--status-resend-minutes",
        type=float,
        default=None,
        metavar="M",
        help="each agent's client also re-sends its current status every M minutes on shift",
    )
    simulate.add_argument(
        "--start", type=_aware, default=_aware("2026-11-25T06:00:00+00:00"), metavar="TIMESTAMP"
    )
    simulate.set_defaults(run=_simulate)


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="fold a JSON-lines file of events and print every agent's panel "
        "(fold settings: STREAMSTATS_OFFLINE_GAP_HOURS, as the worker)",
    )
    replay.add_argument("file", metavar="FILE", help="JSON-lines events, or - for standard input")
    replay.add_argument(
        "--at",
        type=_instant,
        metavar="TIMESTAMP",
        help="evaluate durations at this instant (default: the latest event time)",
    )
    replay.add_argument(
        "--offline-gap-hours",
        metavar="H",
        help="continuous offline time that ends a session, overriding "
        "STREAMSTATS_OFFLINE_GAP_HOURS (default: that variable, else 6), as the worker does",
    )
    output = replay.add_mutually_exclusive_group()
    output.add_argument(
        "--explain",
        action="store_true",
        help="print each agent's breakdown (segments, and the chats behind each counter) "
        "instead of its panel",
    )
    output.add_argument(
        "--sessions",
        action="store_true",
        help="print each agent's sessions (ended ones with their final figures, the "
        "current one last) instead of its panel",
    )
    output.add_argument(
        "--compare-offline-gap-hours",
        metavar="B",
        help="what-if: fold the file again with an offline gap of B hours and print the "
        "panel fields that differ, per agent, with a summary",
    )
    replay.set_defaults(run=_replay)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamstats", description="Real-time agent statistics for live-chat contact centers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_replay(commands)
    _add_dead_letters(commands)

    _add_simulate(commands)

    schemas = commands.add_parser("schemas", help="export or check the JSON Schema files")
    schemas.add_argument("action", choices=["export", "check"])
    schemas.add_argument("--dir", type=Path, default=Path("schemas"))
    schemas.set_defaults(run=_schemas)
    worker = commands.add_parser(
        "worker", help="run the streaming worker and its HTTP view (settings: STREAMSTATS_*)"
    )
    worker.set_defaults(run=_worker)

    produce = commands.add_parser(
        "produce", help="publish JSON-lines events to the status and chat topics"
    )
    produce.add_argument("file", metavar="FILE", help="JSON-lines events, or - for standard input")
    produce.add_argument(
        "--speed",
        type=float,
        default=None,
        help="pace events by their `at`: 1 = real time, 60 = a minute per second "
        "(default: as fast as possible)",
    )
    produce.add_argument(
        "--realtime",
        action="store_true",
        help="send each event when the clock reaches its `at` (past events at once)",
    )
    produce.set_defaults(run=_produce)

    token = commands.add_parser(
        "token", help="mint a bearer token for the HTTP view (signed with STREAMSTATS_JWT_SECRET)"
    )
    token.add_argument("--agent", required=True, metavar="ID", help="the token's subject")
    token.add_argument("--role", choices=["agent", "supervisor"], default="agent")
    token.add_argument("--ttl-hours", type=float, default=24.0)
    token.add_argument(
        "--private-key", metavar="FILE", help="sign RS256 with this PEM key instead of the secret"
    )
    token.set_defaults(run=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code
