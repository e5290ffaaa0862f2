"""Beat's market entries: one per kind of work, on the market queue, 0 turns one off."""

from __future__ import annotations

import dataclasses

from core.settings import Settings
from tasks import beat, names


def test_market_entries_run_on_the_market_queue():
    entries = beat.schedule(Settings.from_env())
    wanted = {
        "market-pull-watchlist": (names.PULL_WATCHLIST, 60.0),
        "market-refresh-quotes": (names.REFRESH_QUOTES, 5.0),
        "market-operations-metrics": (names.WRITE_METRICS, 15.0),
    }
    for entry, (task, every) in wanted.items():
        assert entries[entry]["task"] == task
        assert entries[entry]["schedule"] == every
        assert entries[entry]["options"]["queue"] == "market"


def test_zero_turns_a_market_entry_off():
    settings = dataclasses.replace(Settings.from_env(), quote_refresh_seconds=0, metrics_seconds=0)
    entries = beat.schedule(settings)
    assert "market-pull-watchlist" in entries
    assert "market-refresh-quotes" not in entries and "market-operations-metrics" not in entries


def test_market_settings_parse_and_refuse_a_bad_influx_version():
    import pytest

    from core.errors import ConfigurationError

    base = {"REDIS_URL": "redis://x", "TRADEFLEET_SECRET_KEY": Settings.from_env().secret_keys[0]}
    settings = Settings.from_env({**base, "WATCHLIST_SYMBOLS": "spy, qqq", "INFLUX_VERSION": "2"})
    assert settings.watchlist_symbols == ("SPY", "QQQ") and settings.influx_version == "2"
    assert Settings.from_env(base).watchlist_symbols == ("SPY", "QQQ", "IWM")
    with pytest.raises(ConfigurationError, match="INFLUX_VERSION must be '1' or '2'"):
        Settings.from_env({**base, "INFLUX_VERSION": "3"})
