"""Real servers for the test suite, Redis and InfluxDB, and the plumbing every launcher shares.

Every class starts its process on free local ports with its own temporary directory and is a
context manager. Whatever is still running when the interpreter exits is stopped by an
``atexit`` hook, so a failing test never leaves a server behind. The project's own programs
(Celery workers and beat, the API) are launched by ``tests/processes.py`` with the same
helpers and the same safety net. Fixtures in ``tests/conftest.py`` wrap these classes; this
module holds no fixtures itself.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from core import local_servers
from core.local_servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]

_running: set = set()  # started objects with a .stop(); stopped at exit as a safety net
_temp_dirs: set[Path] = set()  # removed at exit


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
        return self.directory / local_servers.REDIS_LOG

    def start(self, appendonly: bool = False) -> RedisServer:
        """Start the server and wait until it answers PING."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"redis already running on port {self.port}")
        self.appendonly = appendonly
        command = local_servers.redis_server_command(
            self.directory, port=self.port, appendonly=appendonly
        )
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
        return local_servers.redis_answers_ping(self.port)

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


class InfluxServer:
    """A private InfluxDB 1.x (Debian's ``influxd``) speaking the v1 HTTP API.

    Raises (from :meth:`start`):
        RuntimeError: ``influxd`` is not installed (``apt-get install influxdb``).
    """

    def __init__(self):
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.directory = _make_temp_dir("tf-influx-")
        self.log_path = self.directory / local_servers.INFLUXD_LOG
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return local_servers.influxd_binary() is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30) -> InfluxServer:
        binary = local_servers.influxd_binary()
        if binary is None:
            raise RuntimeError("influxd is not installed: apt-get install influxdb")
        command = local_servers.influxd_command(
            binary, self.directory, http_port=self.http_port, rpc_port=self.rpc_port
        )
        with open(self.log_path, "ab") as log:
            self.proc = _spawn(command, stdout=log, stderr=subprocess.STDOUT)
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
        return local_servers.influx_answers_ping(self.http_port)

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
