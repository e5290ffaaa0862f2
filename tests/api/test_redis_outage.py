"""When Redis is down the API answers 503 with a clear message, and recovers by itself."""

import pytest

from tests.processes import LiveServer
from tests.services import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def isolated(api_key):
    """An app on its own Redis, so stopping that Redis disturbs no other test."""
    from api import create_app
    from core.apikeys import ApiKeyStore
    from core.connection import redis_client
    from core.settings import Settings, get_settings

    server = RedisServer().start(appendonly=True)
    settings = Settings(**{**get_settings().__dict__, "redis_url": server.url})
    key = ApiKeyStore(redis_client(server.url)).create("outage", replace=True)
    with LiveServer(create_app(settings)) as live:
        yield server, live, key
    server.stop()


def test_redis_down_gives_503_and_recovery(isolated):
    from tests.conftest import ApiClient

    server, live, key = isolated
    client = ApiClient(live.url, key)
    assert client.get("/api/v1/groups").status_code == 200

    server.stop()
    for method, path in [("GET", "/api/v1/groups"), ("POST", "/api/v1/groups"), ("GET", "/health")]:
        response = client.request(method, path, json={"name": "t-down"})
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        if path != "/health":
            assert "Redis" in body["message"] and "unreachable" in body["message"]
        else:
            assert body["redis"] == "down"
        assert "redis://" not in response.text

    server.start(appendonly=True)
    assert client.get("/api/v1/groups").status_code == 200
    assert client.get("/health").json()["redis"] == "ok"
