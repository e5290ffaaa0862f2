"""The project's own programs, run for real: Celery workers, beat and Flower, the API over
real HTTP.

The API runs either under gunicorn in its own process (:class:`ApiProcess`) or under werkzeug in
a thread of the test process (:class:`LiveServer`).

The servers they talk to (Redis, InfluxDB) and the plumbing every launcher shares (spawning
children that die with this process, the ``atexit`` safety net, temporary directories) live in
``tests/services.py``; the classes here register with that same safety net, so a failing test
never leaves a worker or an API behind. Each class is a context manager.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.services import (
    REPO_ROOT,
    _make_temp_dir,
    _running,
    _spawn,
    _tail,
    _terminate,
    free_port,
    wait_until,
)


def _answers(url: str) -> bool:
    """Whether something answers HTTP at ``url`` (an error status is an answer: the API says
    503 while its broker or worker is missing)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class _CeleryProcess:
    """A ``celery -A tasks <subcommand>`` process run from the repository root."""

    subcommand: str = ""
    ready_marker: str = ""

    def __init__(self, env: Mapping[str, str | None], extra_args: Iterable[str] = ()):
        self.env = dict(env)
        self.extra_args = tuple(extra_args)
        self.directory = _make_temp_dir(f"tf-{self.subcommand}-")
        self.log_path = self.directory / f"{self.subcommand}.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "tasks", self.subcommand, "--loglevel=INFO"]

    def _environment(self) -> dict[str, str]:
        """The test's ``env`` layered over this process's environment; ``None`` removes a name."""
        merged = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, value in self.env.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"celery {self.subcommand} was not started")
        return self.proc.pid

    def start(self, wait: bool = True, timeout: float = 60):
        """Launch the process; with ``wait``, block until its log says it is ready.

        Raises:
            RuntimeError: it exited or did not get ready within ``timeout`` s; the message
                carries the end of its log.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"celery {self.subcommand} already running (pid {self.proc.pid})")
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = _spawn(
            [*self.command(), *self.extra_args],
            cwd=REPO_ROOT,
            env=self._environment(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        _running.add(self)
        if wait:
            self.wait_for_log(self.ready_marker, timeout)
        return self

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        """Block until ``text`` appears in the log; fail early if the process exits."""

        def seen() -> bool:
            if text in self.log_text():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"celery {self.subcommand} exited with {self.proc.returncode} "
                    f"before logging {text!r}:\n{_tail(self.log_path)}"
                )
            return False

        try:
            wait_until(seen, timeout, interval=0.1)
        except TimeoutError:
            raise RuntimeError(
                f"celery {self.subcommand} did not log {text!r} within {timeout} s:\n"
                f"{_tail(self.log_path)}"
            ) from None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Celery's warm shutdown), wait up to ``timeout`` s, then SIGKILL everything."""
        if self.proc is not None:
            _terminate(self.proc, timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        _running.discard(self)

    def kill(self, group: bool = False) -> None:
        """SIGKILL the main process (with ``group``: its pool children too), as a crash would."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class CeleryWorker(_CeleryProcess):
    """``celery -A tasks worker`` with the production options (see the Procfile).

    Args:
        env: variables layered over the current environment (``None`` removes one);
            normally REDIS_URL, TRADEFLEET_SECRET_KEY and friends.
        queues: the ``-Q`` list; the app adds group and brokerage queues itself.
        concurrency: prefork pool size.
        hostname: the node name (``-n``); unique per instance by default.
        extra_args: appended to the command line, e.g. ``("--without-mingle",)``.
    """

    subcommand = "worker"
    ready_marker = "ready."

    def __init__(
        self,
        env: Mapping[str, str | None],
        queues: str = "default,market,strategies",
        concurrency: int = 2,
        hostname: str | None = None,
        extra_args: Iterable[str] = (),
    ):
        super().__init__(env, extra_args)
        self.queues = queues
        self.concurrency = concurrency
        self.hostname = hostname or f"test-{uuid.uuid4().hex[:8]}@%h"

    def command(self) -> list[str]:
        return [
            *super().command(),
            "-Q", self.queues,
            f"--concurrency={self.concurrency}",
            "-n", self.hostname,
            "-E",
        ]  # fmt: skip

    def child_pids(self) -> list[int]:
        """The pool's child processes, read from ``/proc/<pid>/task/*/children``."""
        children: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                children += [int(p) for p in (task / "children").read_text().split()]
        return children

    def kill_child(self) -> int:
        """SIGKILL one pool child (as the OOM killer would) and return its pid."""
        children = wait_until(self.child_pids, 10, message="the worker has no pool children")
        os.kill(children[0], signal.SIGKILL)
        return children[0]


class CeleryBeat(_CeleryProcess):
    """``celery -A tasks beat``; its schedule file, if the scheduler wants one, is private."""

    subcommand = "beat"
    ready_marker = "beat: Starting..."

    def __init__(self, env: Mapping[str, str | None], extra_args: Iterable[str] = ()):
        super().__init__(env, extra_args)

    def command(self) -> list[str]:
        return [*super().command(), f"--schedule={self.directory / 'celerybeat-schedule'}"]


class _ServedProcess(_CeleryProcess):
    """A process serving HTTP on a free port of 127.0.0.1; started once ``health_path``
    answers."""

    health_path = "/health"

    def __init__(self, env: Mapping[str, str | None], extra_args: Iterable[str] = ()):
        super().__init__(env, extra_args)
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout: float = 60):
        super().start(wait=wait, timeout=timeout)
        if wait:
            wait_until(
                lambda: _answers(self.url + self.health_path),
                timeout,
                interval=0.1,
                message=f"{self.subcommand} did not answer at {self.health_path}",
            )
        return self


class ApiProcess(_ServedProcess):
    """The API under gunicorn in its own process, with its own environment (see the Procfile).

    For tests that need the API to see other settings than this process (another broker).
    """

    subcommand = "web"
    ready_marker = "Booting worker"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "api:create_app()",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--timeout",
            "60",
            "--no-control-socket",
        ]


class Flower(_ServedProcess):
    """``celery -A tasks flower`` on this session's broker, behind basic auth, with the
    project's ``scripts/flowerconfig.py`` (as the Procfile and docker-compose.yml run it).

    Start it before the work it should see: Flower builds its task list from events.
    """

    subcommand = "flower"
    health_path = "/healthcheck"
    auth = ("ops", "watch-it")

    def __init__(self, env: Mapping[str, str | None] | None = None):
        super().__init__(env or {})

    def command(self) -> list[str]:
        return [
            *super().command()[:-1],  # no --loglevel: Flower has its own logging options
            f"--port={self.port}",
            "--address=127.0.0.1",
            f"--basic-auth={self.auth[0]}:{self.auth[1]}",
            "--conf=scripts/flowerconfig.py",
        ]


class LiveServer:
    """A WSGI app served by werkzeug on 127.0.0.1 in a daemon thread (for HTTP-level tests)."""

    def __init__(self, app):
        self.app = app
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tf-live-server", daemon=True
        )
        self._thread.start()
        _running.add(self)
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the live server was not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None
        _running.discard(self)

    def __enter__(self) -> LiveServer:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
