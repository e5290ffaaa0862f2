"""The system a load run drives: a private Redis, gunicorn serving the API, Celery workers.

Also the same-run baseline: raw Celery ``send_task`` rate and task round trip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from tests.services import (  # noqa: E402
    CeleryWorker,
    RedisServer,
    _make_temp_dir,
    _spawn,
    _terminate,
    free_port,
    wait_until,
)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class System:
    """Redis, gunicorn and the Celery workers, stopped in reverse order by :meth:`stop`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.redis = RedisServer()
        self.directory = _make_temp_dir("tf-bench-")
        self.gunicorn: subprocess.Popen | None = None
        self.workers: list[CeleryWorker] = []
        self.port = free_port()
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> System:
        self.redis.start(appendonly=self.args.appendonly)
        self.env = {
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.args.broker_url or self.redis.url,
            "CELERY_RESULT_BACKEND": self.redis.url,
            "TRADEFLEET_SECRET_KEY": Fernet.generate_key().decode(),
            "TRADEFLEET_DATA_DIR": str(self.directory / "data"),
            "LOG_LEVEL": "WARNING",
        }
        # This process sends the baseline tasks: its Celery app must read the same settings.
        os.environ.update(self.env)
        for n in range(self.args.workers):
            worker = CeleryWorker(
                self.env,
                concurrency=self.args.worker_concurrency,
                hostname=f"bench{n}-{uuid.uuid4().hex[:6]}@%h",
                extra_args=("--loglevel=WARNING",),
            )
            self.workers.append(worker.start(wait=False))
        log = open(self.directory / "gunicorn.log", "ab")  # noqa: SIM115 - lives with the process
        command = [
            str(Path(sys.executable).with_name("gunicorn")), "api:create_app()",
            "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread",
            "--workers", str(self.args.web_workers),
            "--threads", str(self.args.web_threads),
            "--backlog", "2048",
            "--keep-alive", "30",
            "--timeout", "60",
        ]  # fmt: skip
        self.gunicorn = _spawn(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for worker in self.workers:
            worker.wait_for_log("[queues]", 60)  # the banner; "ready." is INFO, not logged
        wait_until(self._web_answers, 60, interval=0.2, message="gunicorn did not answer")
        wait_until(self._workers_live, 60, interval=0.5, message="workers sent no heartbeat")
        return self

    def _web_answers(self) -> bool:
        if self.gunicorn is not None and self.gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {self.directory / 'gunicorn.log'}")
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _workers_live(self) -> bool:
        body = requests.get(f"{self.url}/health", timeout=5).json()
        return body.get("workers", 0) >= len(self.workers)

    def stop(self) -> None:
        if self.gunicorn is not None:
            _terminate(self.gunicorn, timeout=20)
        for worker in self.workers:
            worker.stop(timeout=30)
        self.redis.stop()


# Baselines from this process --------------------------------------------------------------


def baseline(count: int, round_trips: int) -> dict:
    """Raw ``send_task`` rate (nobody consumes the queue) and raw task round trips."""
    from core import keys
    from core.connection import redis_client
    from core.settings import get_settings
    from tasks import names
    from tasks.celery import app

    queue = f"bench-noop-{uuid.uuid4().hex[:6]}"
    app.send_task("bench.noop", queue=queue)  # warm up: connection, queue declaration
    start = time.perf_counter()
    for _ in range(count):
        app.send_task("bench.noop", queue=queue)
    elapsed = time.perf_counter() - start
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)

    # Round trip: the heartbeat task records a key in Redis; poll until it appears.
    redis = redis_client(get_settings().redis_url)
    latencies = []
    for n in range(round_trips):
        name = f"bench-rt-{uuid.uuid4().hex[:8]}-{n}"
        started = time.perf_counter()
        app.send_task(names.HEARTBEAT, args=[name], queue="default")
        wait_until(lambda name=name: redis.exists(keys.worker_heartbeat(name)), 10, interval=0.0005)
        latencies.append(time.perf_counter() - started)
        redis.delete(keys.worker_heartbeat(name))
    return {
        "send_task_per_s": count / elapsed,
        "send_task_count": count,
        "round_trip_p50_ms": statistics.median(latencies) * 1000,
        "round_trip_p99_ms": percentile(latencies, 99) * 1000,
        "round_trip_count": round_trips,
    }


# Setup and load ------------------------------------------------------------------------
