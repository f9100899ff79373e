"""Settings from STREAMSTATS_* variables: values are converted, bad ones are named.

The fold settings are read by one function for the worker and replay (spec §7)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from streamstats.core.instant import MICROS_PER_SECOND
from streamstats.core.rules import FoldConfig
from streamstats.settings import FoldSettings, Settings, SettingsError, read_fold_settings

OPEN = {"STREAMSTATS_AUTH": "off"}


def test_values_are_converted_to_the_field_types() -> None:
    settings = Settings.from_env(
        {**OPEN, "STREAMSTATS_SESSION_TIMEOUT_S": "10", "STREAMSTATS_BATCH_SIZE": "1"}
    )
    assert (settings.session_timeout_s, settings.batch_size) == (10.0, 1)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STREAMSTATS_SESSION_TIMEOUT_S", "5", "between 6 and 300 seconds"),
        ("STREAMSTATS_SESSION_TIMEOUT_S", "soon", "not a valid float"),
        ("STREAMSTATS_BATCH_SIZE", "0", "at least 1"),
        ("STREAMSTATS_PARTITIONS", "four", "not a valid int"),
        ("STREAMSTATS_STORE", "disk", "use rocksdb or memory"),
        ("STREAMSTATS_STORE_MEMORY_MB", "4", "at least 8"),
    ],
)
def test_an_unusable_value_is_named_with_what_to_use(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({**OPEN, name: value})
    assert name in str(raised.value)


def test_the_worker_and_replay_read_the_offline_gap_alike() -> None:
    env = {**OPEN, "STREAMSTATS_OFFLINE_GAP_HOURS": "1.5"}
    worker = Settings.from_env(env).fold_config
    assert worker == read_fold_settings(env).config
    assert worker.offline_gap == 90 * 60 * MICROS_PER_SECOND
    assert Settings.from_env(OPEN).fold_config == read_fold_settings({}).config == FoldConfig()


def test_the_fold_settings_are_worker_settings_with_the_same_defaults() -> None:
    worker = {item.name: item.default for item in fields(Settings)}
    for item in fields(FoldSettings):
        assert worker[item.name] == item.default


def test_fold_settings_ignore_every_other_variable() -> None:
    env = {"STREAMSTATS_PARTITIONS": "four", "STREAMSTATS_AUTH": "on", "X": "1"}
    assert read_fold_settings(env) == FoldSettings()
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_the_flag_overrides_the_variable() -> None:
    env = {"STREAMSTATS_OFFLINE_GAP_HOURS": "2"}
    assert read_fold_settings(env, offline_gap_hours="0.25").offline_gap_hours == 0.25
    assert read_fold_settings(env).offline_gap_hours == 2.0


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_the_worker_refuses_a_bad_offline_gap_as_replay_does(value: str) -> None:
    env = {**OPEN, "STREAMSTATS_OFFLINE_GAP_HOURS": value}
    with pytest.raises(SettingsError) as worker:
        Settings.from_env(env)
    with pytest.raises(SettingsError) as replay:
        read_fold_settings(env)
    assert str(worker.value) == str(replay.value)
    assert str(worker.value).startswith(f"STREAMSTATS_OFFLINE_GAP_HOURS={value!r} is not a")


@pytest.mark.parametrize("hours", [0.0, -3.0, float("nan")])
def test_settings_built_in_code_are_checked_by_the_same_rule(hours: float) -> None:
    with pytest.raises(SettingsError, match=r"STREAMSTATS_OFFLINE_GAP_HOURS=.* positive number"):
        Settings(auth="off", offline_gap_hours=hours).validate()
