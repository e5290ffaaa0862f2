"""A fake Schwab on 127.0.0.1 and settings that point tradefleet at it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.schwab_server import FakeSchwab, SchwabServer

APP_KEY = "tfAppKeyFake01"
APP_SECRET = "tfAppSecretFake-9c1d07e2"
CALLBACK = "https://127.0.0.1:8182/api/v1/brokers/schwab/callback"


@pytest.fixture
def fake_schwab() -> Iterator[SchwabServer]:
    with SchwabServer(FakeSchwab(APP_KEY, APP_SECRET, CALLBACK)) as server:
        yield server


def schwab_env(server: SchwabServer, **overrides: str) -> dict[str, str]:
    """The variables a process needs to use the fake (the test process's Redis and key)."""
    env = {
        name: os.environ[name]
        for name in (
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "TRADEFLEET_SECRET_KEY",
        )
    }
    env.update(
        SCHWAB_APP_KEY=APP_KEY,
        SCHWAB_APP_SECRET=APP_SECRET,
        SCHWAB_CALLBACK_URL=CALLBACK,
        SCHWAB_BASE_URL=server.url,
        SCHWAB_RATE_LIMIT="6000/m",
    )
    env.update(overrides)
    return env


@pytest.fixture
def schwab_settings(fake_schwab):
    from core.settings import Settings

    return Settings.from_env(schwab_env(fake_schwab))


@pytest.fixture
def clean_schwab(redis_client) -> Iterator[None]:
    """No Schwab tokens, login states or rate bucket before and after the test."""
    from core import keys

    def wipe():
        fixed = [keys.schwab_access(), keys.schwab_refresh(), keys.schwab_refresh_lock(),
                 keys.schwab_bucket()]  # fmt: skip
        redis_client.delete(*fixed)
        for key in redis_client.scan_iter(keys.schwab_login_state("*")):
            redis_client.delete(key)

    wipe()
    yield
    wipe()


@pytest.fixture
def logged_in(fake_schwab, schwab_settings, redis_client, clean_schwab):
    """A finished login: returns the fake, with its tokens issued."""
    import requests

    import brokers.schwab

    login = brokers.schwab.login(redis_client, schwab_settings)
    redirect = requests.get(login.start(), allow_redirects=False, timeout=5)
    login.finish_url(redirect.headers["Location"])
    return fake_schwab.fake
