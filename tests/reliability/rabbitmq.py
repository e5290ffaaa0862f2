"""A private RabbitMQ virtual host for a test session, through ``rabbitmqctl``.

RabbitMQ itself is a system service (``.ci/run`` installs and starts it); each session gets
its own vhost ``tf-<random>`` so it never sees another session's queues, and drops it at the
end. Holds no fixtures.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import uuid

HOST, PORT = "127.0.0.1", 5672
USER, PASSWORD = "guest", "guest"


def _ctl(*args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def unavailable_reason() -> str | None:
    """Why RabbitMQ cannot be used here, or None when it answers on 127.0.0.1:5672."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed (apt-get install rabbitmq-server)"
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            pass
    except OSError as exc:
        return f"RabbitMQ does not answer on {HOST}:{PORT} ({exc}); rabbitmq-server -detached"
    return None


def make_vhost() -> str:
    """Create a fresh vhost that ``guest`` may use fully; return its name."""
    vhost = f"tf-{uuid.uuid4().hex[:10]}"
    _ctl("add_vhost", vhost)
    _ctl("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")
    return vhost


def drop_vhost(vhost: str) -> None:
    """Delete the vhost and everything in it (queues, exchanges, messages)."""
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        _ctl("delete_vhost", vhost)


def broker_url(vhost: str) -> str:
    return f"amqp://{USER}:{PASSWORD}@{HOST}:{PORT}/{vhost}"


def list_queues(vhost: str) -> dict[str, dict[str, int]]:
    """``{queue: {"messages": n, "consumers": n}}`` of the vhost, straight from the broker."""
    out = _ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages", "consumers")
    queues = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].isdigit():
            queues[parts[0]] = {"messages": int(parts[1]), "consumers": int(parts[2])}
    return queues


def list_exchanges(vhost: str) -> dict[str, str]:
    """``{exchange: type}`` of the vhost."""
    out = _ctl("list_exchanges", "-p", vhost, "--no-table-headers", "name", "type")
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
