"""The servers ``make up`` embeds: a Redis under ``var/redis/`` and, when ``influxd`` is
installed, an InfluxDB 1.x under ``var/influx/``.

Each starts in a session of its own, so Ctrl-C reaches honcho and not the data store, and
scripts/up.py stops it however it ends. The command lines and readiness checks are
:mod:`core.local_servers`'s, shared with the test suite. Ports: the preferred one when it
is free, else one the kernel hands out, never one of ``taken`` (the web and Flower ports).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from core import local_servers

REDIS_PREFERRED_PORT = 6390
INFLUX_PREFERRED_PORT = 8096


def port_is_free(port: int, host: str = local_servers.LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int, taken: set[int] = frozenset()) -> int:
    """``preferred`` if nothing listens there, else a free port the kernel hands out."""
    if preferred not in taken and port_is_free(preferred):
        return preferred
    while (port := local_servers.free_port()) in taken:
        pass
    return port


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (for Redis: flush the AOF and exit), then SIGKILL after ``timeout`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_stale_redis(directory: Path) -> None:
    """Stop a Redis left running on ``directory`` by an earlier run that was killed."""
    pidfile = directory / local_servers.REDIS_PIDFILE
    try:
        pid = int(pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/comm").read_text().strip()
        workdir = os.readlink(f"/proc/{pid}/cwd")  # Redis runs inside its --dir
    except (OSError, ValueError):
        return
    if command.startswith("redis-server") and workdir == str(directory):
        print(f"up: stopping the Redis left over from an earlier run (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def start_embedded_redis(env: dict[str, str], var: Path, taken: set[int]) -> subprocess.Popen:
    """Start Redis under ``var``/redis/ with AOF on, wait for PING, and export REDIS_URL."""
    directory = var / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    stop_stale_redis(directory)
    port = pick_port(REDIS_PREFERRED_PORT, taken)
    try:
        command = local_servers.redis_server_command(
            directory, port=port, appendonly=True, pidfile=True
        )
    except RuntimeError as exc:  # no redis-server anywhere
        raise SystemExit(f"up: {exc}") from None
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    _wait_until_answering(
        proc,
        lambda: local_servers.redis_answers_ping(port),
        timeout=15,
        interval=0.05,
        failure=f"up: Redis did not start; see {directory / local_servers.REDIS_LOG}",
    )
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return proc


def start_embedded_influx(
    env: dict[str, str], var: Path, taken: set[int]
) -> subprocess.Popen | None:
    """Start ``influxd`` (1.x) under ``var``/influx/ and export INFLUX_URL; None without it."""
    binary = local_servers.influxd_binary()
    if binary is None:
        print(
            "up: market history is off: no INFLUX_URL and no influxd (apt-get install influxdb,"
            " or set INFLUX_URL); quotes still flow through Redis",
            flush=True,
        )
        return None
    directory = var / "influx"
    directory.mkdir(parents=True, exist_ok=True)
    http_port = pick_port(INFLUX_PREFERRED_PORT, taken)
    rpc_port = pick_port(http_port + 1, taken | {http_port})
    command = local_servers.influxd_command(
        binary, directory, http_port=http_port, rpc_port=rpc_port
    )
    log_path = directory / local_servers.INFLUXD_LOG
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_until_answering(
        proc,
        lambda: local_servers.influx_answers_ping(http_port),
        timeout=30,
        interval=0.1,
        failure=f"up: influxd did not start; see {log_path}",
    )
    env["INFLUX_URL"] = f"http://127.0.0.1:{http_port}"
    env.setdefault("INFLUX_VERSION", "1")
    return proc


def _wait_until_answering(
    proc: subprocess.Popen,
    answers: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    failure: str,
) -> None:
    """Wait until ``answers()``; if ``proc`` exits or ``timeout`` s pass first, stop it and
    exit with ``failure``."""
    deadline = time.monotonic() + timeout
    while not answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise SystemExit(failure)
        time.sleep(interval)
