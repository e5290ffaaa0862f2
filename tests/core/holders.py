"""A separate process that takes a lease or a concurrency slot and holds it until killed.

Tests start it with :func:`spawn_holder` and SIGKILL it to see what a dead holder leaves
behind: ``python -m tests.core.holders lease|slot <redis url> <key|brokerage> <ttl>``.
"""

from __future__ import annotations

import select
import subprocess
import sys
import threading

import redis

from core.leases import Lease
from core.throttle import ConcurrencySlot
from tests.services import REPO_ROOT


def main(argv: list[str]) -> int:
    kind, url, name, ttl = argv[0], argv[1], argv[2], float(argv[3])
    connection = redis.Redis.from_url(url, decode_responses=True)
    if kind == "lease":
        hold = Lease(connection, name, ttl=ttl)
    else:
        hold = ConcurrencySlot(connection, name, limit=1, ttl=ttl)
    if not hold.acquire():
        print("refused", flush=True)
        return 1
    print("held", flush=True)
    threading.Event().wait()  # renewing in the background until killed
    return 0


def spawn_holder(kind: str, url: str, name: str, ttl: float) -> subprocess.Popen:
    """Start a holder process and return it once it holds ``name``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.core.holders", kind, url, name, str(ttl)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline().strip() if ready else ""
    if line != "held":
        process.kill()
        process.wait()
        raise AssertionError(f"the holder process did not take {kind} {name}: {line!r}")
    return process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
