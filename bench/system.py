"""The system a bench drives: a private Redis, gunicorn serving this tree, Celery workers.

Everything listens on 127.0.0.1 and is stopped by :meth:`System.stop`, in reverse order
(``tests.services`` also stops whatever is left when the interpreter exits). Children get
``PYTHONPATH`` with this tree first, so a bench copied into another worktree measures that
tree even when the venv has tradefleet installed editable from elsewhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
import requests
from cryptography.fernet import Fernet

from bench.errors import BenchError, StartupError
from tasks import routing
from tests.processes import CeleryWorker
from tests.services import RedisServer, _make_temp_dir, _spawn, _terminate, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]


class System:
    """Redis, gunicorn serving ``app`` (a gunicorn WSGI spec) and, once started, the workers.

    Args:
        app: what gunicorn serves, e.g. ``"api:create_app()"``.
        label: names the temporary directory and the workers' hostnames.
        web_workers, web_threads: gunicorn's gthread workers and threads per worker.
        broker_url: the Celery broker; the private Redis when empty.
        appendonly: run Redis with its AOF, as in production.
    """

    def __init__(
        self,
        app: str,
        *,
        label: str,
        web_workers: int,
        web_threads: int,
        broker_url: str = "",
        appendonly: bool = False,
    ) -> None:
        self.app = app
        self.label = label
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.appendonly = appendonly
        self.redis = RedisServer()
        self.broker_url = broker_url or self.redis.url
        self.directory = _make_temp_dir(f"tf-bench-{label}-")
        self.port = free_port()
        self.secret = Fernet.generate_key().decode()
        self.gunicorn: subprocess.Popen | None = None
        self.workers: list[CeleryWorker] = []
        self.paused = False
        self.env: dict[str, str] = {}
        # The queues the bench's work goes to (in_flight counts them); add group.<name>.
        self.queues = list(routing.STATIC_QUEUES)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gunicorn_log(self) -> Path:
        return self.directory / "gunicorn.log"

    def start(self) -> System:
        """Start Redis and gunicorn and wait until ``/health`` answers 200.

        Raises:
            StartupError: either did not start (the message names the log).
        """
        try:
            self.redis.start(appendonly=self.appendonly)
        except RuntimeError as exc:
            raise StartupError(str(exc)) from None
        path = os.environ.get("PYTHONPATH", "")
        self.env = {
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_RESULT_BACKEND": self.redis.url,
            "TRADEFLEET_SECRET_KEY": self.secret,
            "TRADEFLEET_DATA_DIR": str(self.directory / "data"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), path) if p),
        }
        log = open(self.gunicorn_log, "ab")  # noqa: SIM115 - lives with the process
        command = [
            sys.executable, "-m", "gunicorn", self.app,
            "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread",
            "--workers", str(self.web_workers),
            "--threads", str(self.web_threads),
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
        try:
            wait_until(self._web_answers, 60, interval=0.2, message="gunicorn did not answer")
        except TimeoutError as exc:
            raise StartupError(f"{exc}: see {self.gunicorn_log}") from None
        return self

    def _web_answers(self) -> bool:
        if self.gunicorn is not None and self.gunicorn.poll() is not None:
            log = self.gunicorn_log.read_text(errors="replace")[-3000:]
            raise StartupError(f"gunicorn exited:\n{log}")
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_workers(self, count: int, concurrency: int, imports: tuple[str, ...] = ()) -> None:
        """Start ``count`` workers serving every group; wait until each answers a ping.

        Args:
            imports: extra modules each worker loads (``-I``), e.g. the bench's no-op task.

        Raises:
            StartupError: a worker exited or did not answer within 90 s.
        """
        extra = ("--loglevel=WARNING", *(arg for m in imports for arg in ("-I", m)))
        for n in range(count):
            worker = CeleryWorker(
                # Every group and brokerage, whatever the calling shell's environment says.
                {
                    **self.env,
                    "TRADEFLEET_WORKER_GROUPS": None,
                    "TRADEFLEET_WORKER_BROKERAGES": None,
                },
                concurrency=concurrency,
                hostname=f"{self.label}{n}-{uuid.uuid4().hex[:6]}@%h",
                extra_args=extra,
            )
            self.workers.append(worker.start(wait=False))
        client = celery_client(self.broker_url, backend=self.redis.url)
        try:
            for worker in self.workers:
                worker.wait_for_log("[queues]", 90)  # the banner; "ready." is INFO, not logged

            def all_answer() -> bool:
                return len(client.control.ping(timeout=1.0)) >= len(self.workers)

            wait_until(all_answer, 60, interval=0.2, message="workers did not answer ping")
        except (RuntimeError, TimeoutError) as exc:
            raise StartupError(str(exc)) from None
        finally:
            client.close()

    def create_api_key(self) -> str:
        """A new API key called ``bench``, written straight to the system's Redis."""
        from core.apikeys import ApiKeyStore

        connection = redis.Redis.from_url(self.redis.url, decode_responses=True)
        try:
            return ApiKeyStore(connection).create("bench", replace=True)
        finally:
            connection.close()

    def _signal_workers(self, sig: int) -> None:
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                os.killpg(worker.proc.pid, sig)  # the main process and its pool children

    def pause_workers(self) -> None:
        """SIGSTOP every worker process: queued messages wait, nothing is consumed."""
        self._signal_workers(signal.SIGSTOP)
        self.paused = True

    def resume_workers(self) -> None:
        self._signal_workers(signal.SIGCONT)
        self.paused = False

    def in_flight(self, connection: redis.Redis) -> int:
        """Messages waiting in :attr:`queues`, plus delivered but not acknowledged.

        Redis broker only: kombu keeps a queue as a list named after it and unacknowledged
        deliveries in the ``unacked`` hash.
        """
        with connection.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.llen(queue)
            pipe.hlen("unacked")
            return sum(pipe.execute())

    def wait_quiet(self, connection: redis.Redis, timeout: float = 120) -> float:
        """Wait until no message is queued or unacknowledged twice in a row; returns the wait.

        Raises:
            BenchError: still messages after ``timeout`` s.
        """
        started = time.monotonic()
        quiet = 0
        while quiet < 2:
            quiet = quiet + 1 if self.in_flight(connection) == 0 else 0
            if time.monotonic() - started > timeout:
                raise BenchError(f"tasks still in flight after {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.paused:
            self.resume_workers()  # a stopped process would not see SIGTERM
        if self.gunicorn is not None:
            _terminate(self.gunicorn, timeout=20)
        for worker in self.workers:
            worker.stop(timeout=30)
        self.redis.stop()


def celery_client(url: str, backend: str = ""):
    """A Celery app that sends to ``url`` only (no environment override, not set current).

    Args:
        backend: the result backend; ``url`` when empty.
    """
    from celery import Celery

    app = Celery("bench", broker=url, backend=backend or url, set_as_current=False)
    app.conf.update(
        broker_write_url=url,
        broker_read_url=url,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        task_create_missing_queues=True,
    )
    return app
