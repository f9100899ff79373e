"""Settings from STREAMSTATS_* variables: values are converted, bad ones are named."""

from __future__ import annotations

import pytest

from streamstats.settings import Settings, SettingsError

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
    ],
)
def test_an_unusable_value_is_named_with_what_to_use(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({**OPEN, name: value})
    assert name in str(raised.value)
