"""Smoke tests of the service helpers the integration tests stand on."""

from __future__ import annotations

import pytest
import redis

from tests.processes import LiveServer
from tests.services import InfluxServer, RedisServer, free_port, wait_until

needs_influxd = pytest.mark.skipif(
    not InfluxServer.available(), reason="influxd is missing: apt-get install influxdb"
)


def test_free_port_returns_bindable_port():
    port = free_port()

    assert 1024 < port < 65536


def test_wait_until_returns_value_or_times_out():
    assert wait_until(lambda: 42, timeout=1) == 42
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: False, timeout=0.2, message="never")


@pytest.mark.integration
def test_redis_server_restart_keeps_aof_data():
    with RedisServer() as server:
        server.restart()  # the context manager started it without AOF; turn AOF on
        server.stop()
        server.start(appendonly=True)
        client = redis.Redis.from_url(server.url)
        client.set("tf:test", "kept")
        port = server.port

        server.restart()

        assert server.port == port
        assert redis.Redis.from_url(server.url).get("tf:test") == b"kept"
        assert redis.Redis.from_url(server.url).config_get("maxmemory-policy") == {
            "maxmemory-policy": "noeviction"
        }

    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()


@pytest.mark.integration
def test_redis_server_kill_then_restart_keeps_written_data():
    with RedisServer().start(appendonly=True) as server:
        redis.Redis.from_url(server.url).set("tf:test", "survives")

        server.kill()
        server.restart()

        assert redis.Redis.from_url(server.url).get("tf:test") == b"survives"


@pytest.mark.integration
def test_live_server_serves_wsgi_app():
    import urllib.request

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    with LiveServer(app) as server, urllib.request.urlopen(server.url, timeout=5) as answer:
        assert answer.read() == b"hello"


@pytest.mark.integration
@needs_influxd
def test_influx_server_accepts_writes_and_queries():
    import urllib.request

    with InfluxServer() as influx:
        assert influx.http_port != 8086
        influx.create_database("tf_test")
        request = urllib.request.Request(
            f"{influx.url}/write?db=tf_test&precision=ms",
            data=b"ohlcv,symbol=AAPL close=175.04 1639137600000",
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 204

        result = influx.query("SELECT close FROM ohlcv", db="tf_test")

        assert result["results"][0]["series"][0]["values"] == [["2021-12-10T12:00:00Z", 175.04]]
