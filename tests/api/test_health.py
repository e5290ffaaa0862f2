import pytest

pytestmark = pytest.mark.integration


def test_health_reports_redis_and_consuming_workers(anonymous, worker):
    from tests.services import wait_until

    def healthy():
        body = anonymous.get("/health").json()
        return body if body["workers"] >= 1 else None

    body = wait_until(healthy, 25, interval=0.5, message="no worker heartbeat reached /health")
    assert body["status"] == "ok"
    assert body["redis"] == "ok"
