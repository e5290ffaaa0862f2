"""Run a command so that stopping it is a warm shutdown: ``warm_stop.py -- celery -A tasks worker``.

honcho stops a Procfile entry by signalling its whole process group. For a Celery worker
that reaches the pool children too, and they die mid-leg (``WorkerLostError``; an order
that may have been placed is left ``unknown``). This wrapper starts the command in a
session of its own and, when it is asked to stop (SIGTERM, SIGINT, SIGHUP), sends one
SIGTERM to the command's main process only: Celery's warm shutdown, in which running legs
finish. After ``TRADEFLEET_STOP_GRACE`` seconds (default 30) it kills the command's whole
group; legs still running then are settled by the leg protocol (paper from its ledger,
others ``unknown``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

DEFAULT_GRACE_SECONDS = 30.0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: warm_stop.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    grace = float(os.environ.get("TRADEFLEET_STOP_GRACE") or DEFAULT_GRACE_SECONDS)
    child = subprocess.Popen(argv, start_new_session=True)
    asked_at: list[float] = []

    def stop(signum, frame):
        if not asked_at and child.poll() is None:
            asked_at.append(time.monotonic())
            child.send_signal(signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    while True:
        try:
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if asked_at and time.monotonic() - asked_at[0] > grace:
                print(
                    f"warm_stop: still running {grace:g} s after SIGTERM; killing it",
                    file=sys.stderr,
                    flush=True,
                )
                os.killpg(child.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
