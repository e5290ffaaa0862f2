"""Fixtures: a private Redis, real Celery workers and the real Flask app over real HTTP.

One Redis server (AOF on, free port) and one worker serve the whole session.
Tests create their own uniquely named groups instead of flushing Redis, so the
running worker is never disturbed. Groups named ``t-*`` go to the main worker;
``slow-*`` groups go to a second worker whose paper legs are slowed down.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import requests
from cryptography.fernet import Fernet

from tests.processes import CeleryWorker, LiveServer
from tests.services import REPO_ROOT, InfluxServer, RedisServer, free_port, wait_until

FAKE_AUTORSA = REPO_ROOT / "tests" / "fakes" / "auto_rsa_bot"
TERMINAL_STATES = {"succeeded", "partial", "failed", "unknown", "cancelled"}


def pytest_configure(config) -> None:
    """Point the whole process at a private Redis before any tradefleet module reads settings."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if _xdist_controller(config):
        return  # each pytest-xdist worker process starts its own services
    server = RedisServer().start(appendonly=True)
    config._tradefleet_redis = server
    data_dir = server.directory / "data"
    os.environ.update(
        {
            "REDIS_URL": server.url,
            "CELERY_BROKER_URL": server.url,
            "CELERY_RESULT_BACKEND": server.url,
            "TRADEFLEET_SECRET_KEY": Fernet.generate_key().decode(),
            "TRADEFLEET_DATA_DIR": str(data_dir),
            "TRADEFLEET_VISIBILITY_TIMEOUT": "60",
            "AUTORSA_BIN": str(FAKE_AUTORSA),
            "AUTORSA_TIMEOUT": "5",
            # 2FA waits: short enough for the legs' budget (TRADEFLEET_LEG_TIME_LIMIT is 30 s
            # here), shorter still where tests let the deadline pass.
            "AUTORSA_CODE_TIMEOUT": "12",
            "AUTORSA_CODE_TIMEOUTS": "fidelity=2,robinhood=2",
            # No default watchlist: beat's synthetic quotes would overwrite the tests' prices.
            "WATCHLIST_SYMBOLS": "",
            # Telegram's Bot API is a local server the notification tests start on this port.
            "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}/telegram",
        }
    )
    # Market history on for the app under test (the bars route answers, not 503), when
    # Debian's influxd is installed; its own tests start theirs (tests/ingest/conftest.py).
    if InfluxServer.available() and not os.environ.get("INFLUX_URL"):
        influx = InfluxServer().start()
        config._tradefleet_influx = influx
        os.environ.update({"INFLUX_URL": influx.url, "INFLUX_BUCKET": "tradefleet_tests"})


def _xdist_controller(config) -> bool:
    """True in the process that hands test files to pytest-xdist workers (and runs none)."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_unconfigure(config) -> None:
    influx = getattr(config, "_tradefleet_influx", None)
    if influx is not None:
        influx.stop()
    server = getattr(config, "_tradefleet_redis", None)
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(pytestconfig) -> RedisServer:
    return pytestconfig._tradefleet_redis


@pytest.fixture(scope="session")
def redis_client(redis_server):
    from core.connection import redis_client

    return redis_client(redis_server.url)


def worker_env(**overrides: str) -> dict[str, str]:
    env = {
        name: os.environ[name]
        for name in (
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "TRADEFLEET_SECRET_KEY",
            "TRADEFLEET_DATA_DIR",
            "TRADEFLEET_VISIBILITY_TIMEOUT",
            "AUTORSA_BIN",
            "AUTORSA_TIMEOUT",
            "AUTORSA_CODE_TIMEOUT",
            "AUTORSA_CODE_TIMEOUTS",
            "WATCHLIST_SYMBOLS",
            "TELEGRAM_API_URL",
        )
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def worker(redis_server) -> Iterator[CeleryWorker]:
    """The main worker: serves ``t-*`` groups (and the README tour's ``family``) and every brokerage queue."""
    with CeleryWorker(worker_env(TRADEFLEET_WORKER_GROUPS="t-*,family"), concurrency=2) as running:
        yield running


@pytest.fixture(scope="session")
def slow_worker(redis_server) -> Iterator[CeleryWorker]:
    """Serves ``slow-*`` groups; each paper order takes 0.6 s, to make overlap visible."""
    env = worker_env(TRADEFLEET_WORKER_GROUPS="slow-*", TRADEFLEET_PAPER_DELAY="0.6")
    with CeleryWorker(env, concurrency=2, hostname=f"slow-{uuid.uuid4().hex[:6]}@%h") as running:
        yield running


@pytest.fixture(scope="session")
def app(redis_server):
    from api import create_app

    return create_app()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def api_key(redis_client) -> str:
    from core.apikeys import ApiKeyStore

    return ApiKeyStore(redis_client).create("tests", replace=True)


class ApiClient:
    """Real HTTP to the live server, with the bearer key and job helpers."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def wait_job(self, job_id: str, timeout: float = 30) -> dict:
        """Poll the job until it reaches a terminal state; return it."""

        def finished():
            job = self.get(f"/api/v1/jobs/{job_id}").json()
            return job if job.get("state") in TERMINAL_STATES else None

        return wait_until(finished, timeout, interval=0.05, message=f"job {job_id} did not finish")

    def create_group(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        response = self.post("/api/v1/groups", json={"name": name})
        assert response.status_code == 201, response.text
        return name

    def add_paper_account(self, group: str, name: str, cash: str = "10000") -> dict:
        response = self.post(
            f"/api/v1/groups/{group}/accounts",
            json={"name": name, "brokerage": "paper", "credentials": {"starting_cash": cash}},
        )
        assert response.status_code == 202, response.text
        job = self.wait_job(response.json()["job_id"])
        assert job["state"] == "succeeded", job
        return job

    def set_quote(self, symbol: str, price: str) -> None:
        response = self.put(f"/api/v1/market-data/{symbol}", json={"price": price})
        assert response.status_code == 200, response.text

    def order(self, group: str, **order) -> dict:
        """Submit an order and wait for its job."""
        response = self.post(f"/api/v1/groups/{group}/transactions", json=order)
        assert response.status_code == 202, response.text
        return self.wait_job(response.json()["job_id"])


@pytest.fixture(scope="session")
def api(live_server, api_key, worker) -> ApiClient:
    """An authenticated client of the live API, with the main worker running."""
    return ApiClient(live_server.url, api_key)


@pytest.fixture
def anonymous(live_server) -> ApiClient:
    return ApiClient(live_server.url, None)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(predicate, timeout: float = 20, message: str = ""):
    return wait_until(predicate, timeout, interval=0.05, message=message)
