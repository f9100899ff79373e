"""Worker settings, read from ``STREAMSTATS_*`` environment variables.

The fold's own settings (:class:`FoldSettings`) are read by one function,
:func:`read_fold_settings`, for the worker and for ``streamstats replay`` alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final, Literal

from .core.instant import MICROS_PER_SECOND
from .core.rules import FoldConfig

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "OFFLINE_GAP_VARIABLE",
    "FoldSettings",
    "Settings",
    "SettingsError",
    "read_fold_settings",
]


class SettingsError(ValueError):
    """A setting has a value the worker cannot use."""


DEFAULT_BATCH_SIZE: Final = 5000
"""Default of ``STREAMSTATS_BATCH_SIZE``."""

OFFLINE_GAP_VARIABLE: Final = "STREAMSTATS_OFFLINE_GAP_HOURS"
DEFAULT_OFFLINE_GAP_HOURS: Final = 6.0


@dataclass(frozen=True, slots=True)
class FoldSettings:
    """The settings the fold itself reads: the worker and replay must agree on them (spec §7)."""

    offline_gap_hours: float = DEFAULT_OFFLINE_GAP_HOURS
    """Continuous offline time that ends an agent session (spec §2)."""

    @property
    def config(self) -> FoldConfig:
        """The fold's rules with these settings."""
        return FoldConfig(offline_gap=round(self.offline_gap_hours * 3600 * MICROS_PER_SECOND))


_FOLD_FIELDS: Final = frozenset(field.name for field in fields(FoldSettings))
"""Fields of :class:`Settings` that :func:`read_fold_settings` reads."""


def read_fold_settings(
    environ: Mapping[str, str] | None = None,
    *,
    offline_gap_hours: str | None = None,
    flag: str = "--offline-gap-hours",
) -> FoldSettings:
    """The fold settings from ``environ`` (default: the process environment).

    Only the fold's own ``STREAMSTATS_*`` variables are read. ``offline_gap_hours``
    is the text of the ``--offline-gap-hours`` flag (or of the flag named ``flag``); when
    given it overrides the variable. A bad value raises :class:`SettingsError` naming its
    variable or flag.
    """
    env = os.environ if environ is None else environ
    if offline_gap_hours is not None:
        return FoldSettings(_positive_hours(flag, offline_gap_hours))
    raw = env.get(OFFLINE_GAP_VARIABLE, "")
    if raw == "":
        return FoldSettings()
    return FoldSettings(_positive_hours(OFFLINE_GAP_VARIABLE, raw))


def _positive_hours(source: str, raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and hours > 0):
        raise SettingsError(
            f"{source}={raw!r} is not a positive number of hours; give one such as 6 or 0.5"
        )
    return hours


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the worker and its commands can be told from outside.

    Each field is read from ``STREAMSTATS_<FIELD NAME IN CAPITALS>``.
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    """Kafka bootstrap servers; ``KAFKA_BOOTSTRAP_SERVERS`` is used when this is unset."""
    app_id: str = "streamstats"
    """Consumer group and prefix of internal topics and changelogs."""
    partitions: int = 4
    """Partitions of every topic the worker reads; all must match (co-partitioning)."""
    status_topic: str = "agent-status"
    chat_topic: str = "chat-events"
    dead_letter_topic: str = "streamstats.dead-letter"
    panels_topic: str = "agent-panels"
    """Compacted topic of panel JSON per agent, the change feed behind the SSE streams."""
    panel_interval_ms: int = 250
    """Shortest time between two published panels of one agent."""
    sessions_topic: str = "agent-sessions"
    """Compacted topic of every ended session (key agent id and start), spec §10."""
    session_retention_days: float = 90.0
    """How long an ended session is kept (in the tables and on the sessions topic)."""
    store: Literal["rocksdb", "memory"] = "rocksdb"
    data_dir: Path = Path("streamstats-data")
    """Where RocksDB tables live; each worker process needs its own."""
    store_memory_mb: int = 64
    """Memory of the RocksDB tables, every partition the worker holds together: one block
    cache, which also holds the files' indexes and filters and is charged with the write
    buffers."""
    web_host: str = "127.0.0.1"
    """The host name other workers and clients reach this worker by."""
    web_bind: str = "127.0.0.1"
    web_port: int = 6066
    offline_gap_hours: float = DEFAULT_OFFLINE_GAP_HOURS
    """Continuous offline time that ends an agent session (spec §2); see :class:`FoldSettings`."""
    log_level: str = "info"
    log_format: str = "text"
    """``text`` lines for a terminal, or ``json``: one object a line for log shippers."""
    session_timeout_s: float = 45.0
    """How long the consumer group waits for a worker that stopped answering (a crash,
    a SIGKILL) before its partitions move to the others; Kafka's own default."""
    batch_size: int = DEFAULT_BATCH_SIZE
    """Most messages fetched and folded as one batch; 1 folds and writes the table event
    by event through plain Faust agents (the benchmarks' naive baseline). Bigger batches
    decode and write a record once for more of its events, but hold the event loop
    longer while a backlog is folded (~150 ms at 5000)."""
    auth: Literal["on", "off"] = "on"
    """Access control of the HTTP view; "off" only by explicit choice (a warning is logged)."""
    jwt_secret: str = ""
    """HS256 secret that signs bearer tokens."""
    jwt_public_key_file: str = ""
    """PEM public key for RS256 tokens, when no secret is set."""
    metrics_auth: bool = False
    """Require a supervisor token for /metrics."""
    faq_url: str = "https://beesender.com/faq"
    """Where the panel's FAQ link leads (panel item 16)."""
    support_url: str = "https://beesender.com/support"
    """Where the panel's Support link leads (panel item 16)."""

    @property
    def fold_config(self) -> FoldConfig:
        """The fold's rules as configured."""
        return FoldSettings(self.offline_gap_hours).config

    @property
    def session_retention(self) -> int:
        """:attr:`session_retention_days` in microseconds."""
        return round(self.session_retention_days * 86_400 * 1_000_000)

    @property
    def changes_topic(self) -> str:
        """Internal topic carrying per-agent changes from the chat stage to the agent stage."""
        return f"{self.app_id}-agent-changes"

    @property
    def web_url(self) -> str:
        """The URL other workers use to reach this one."""
        return f"http://{self.web_host}:{self.web_port}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, serving: bool = True
    ) -> Settings:
        """Settings from ``environ`` (default: the process environment).

        ``serving=False`` for commands that only talk to Kafka (``produce``,
        ``dead-letters``): they need no key for the HTTP view's access control.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        fold = read_fold_settings(env)
        for field in fields(cls):
            if field.name in _FOLD_FIELDS:
                values[field.name] = getattr(fold, field.name)
                continue
            name = f"STREAMSTATS_{field.name.upper()}"
            raw = env.get(name)
            if raw is None and field.name == "bootstrap_servers":
                raw = env.get("KAFKA_BOOTSTRAP_SERVERS")
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(name, raw, field.default)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate(serving=serving)
        return settings

    def validate(self, *, serving: bool = True) -> None:
        """Raise :class:`SettingsError` naming the first unusable value."""
        if self.auth not in ("on", "off"):
            raise SettingsError(f"STREAMSTATS_AUTH={self.auth!r}: use on or off")
        if serving and self.auth == "on" and not (self.jwt_secret or self.jwt_public_key_file):
            raise SettingsError(
                "access control is on but no key is set: set STREAMSTATS_JWT_SECRET (HS256) "
                "or STREAMSTATS_JWT_PUBLIC_KEY_FILE (RS256), or STREAMSTATS_AUTH=off"
            )
        if self.store not in ("rocksdb", "memory"):
            raise SettingsError(
                f"STREAMSTATS_STORE={self.store!r} is not a store; use rocksdb or memory"
            )
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"STREAMSTATS_LOG_FORMAT={self.log_format!r}: use text or json")
        if self.partitions < 1:
            raise SettingsError("STREAMSTATS_PARTITIONS must be at least 1")
        _positive_hours(OFFLINE_GAP_VARIABLE, repr(self.offline_gap_hours))
        if not 1 <= self.web_port <= 65535:
            raise SettingsError("STREAMSTATS_WEB_PORT must be a TCP port number")
        if not 6 <= self.session_timeout_s <= 300:
            raise SettingsError(
                "STREAMSTATS_SESSION_TIMEOUT_S must be between 6 and 300 seconds "
                "(the broker's default group.min/max.session.timeout.ms)"
            )
        if self.store_memory_mb < 8:
            raise SettingsError("STREAMSTATS_STORE_MEMORY_MB must be at least 8 (MiB)")
        if self.batch_size < 1:
            raise SettingsError("STREAMSTATS_BATCH_SIZE must be at least 1")
        if self.panel_interval_ms < 1:
            raise SettingsError("STREAMSTATS_PANEL_INTERVAL_MS must be at least 1")
        if not (math.isfinite(self.session_retention_days) and self.session_retention_days > 0):
            raise SettingsError(
                "STREAMSTATS_SESSION_RETENTION_DAYS must be a positive number of days, such as 90"
            )


def _convert(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError:
        kind = type(default).__name__
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw
