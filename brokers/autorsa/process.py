"""Stopping an AutoRSA process and everything it started (its browsers).

Each run is started in a session of its own (``start_new_session=True``), so the process
group id is the leader's pid and one signal reaches the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import IO

TERM_GRACE_SECONDS = 2.0


def kill_process_group(proc: subprocess.Popen, grace: float = TERM_GRACE_SECONDS) -> None:
    """Stop ``proc`` and everything in its process group.

    SIGTERM first, then up to ``grace`` seconds for the leader to exit, then
    SIGKILL to whatever is left of the group. Safe to call on a finished process.
    """
    pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
    if proc.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    _signal_group(pgid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # ProcessLookupError: the group is gone already.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def close_quietly(stream: IO[bytes]) -> None:
    """Close a pipe to the process; one that is closed or broken already is fine."""
    with contextlib.suppress(OSError, ValueError):
        stream.close()
