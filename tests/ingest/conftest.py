"""A real InfluxDB 1.x (Debian's ``influxd``) for the ingest tests, one per session."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from core.settings import Settings
from tests.services import InfluxServer


@pytest.fixture(scope="session")
def influx_server():
    if not InfluxServer.available():
        pytest.skip("influxd is not installed (apt-get install influxdb)")
    with InfluxServer() as server:
        yield server


@pytest.fixture
def influx_settings(influx_server) -> Settings:
    """Settings pointing at the session influxd, with a database of this test's own."""
    return dataclasses.replace(
        Settings.from_env(),
        influx_url=influx_server.url,
        influx_bucket=f"t_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def store(influx_settings):
    from ingest.store import open_store

    opened = open_store(influx_settings)
    yield opened
    opened.close()


@pytest.fixture
def private_redis():
    """A Redis of this test's own, for records the session's workers must not see."""
    from core.connection import redis_client
    from tests.services import RedisServer

    with RedisServer() as server:
        yield redis_client(server.url)
