"""The output of one AutoRSA run, kept within bounds.

A run's stdout and stderr arrive merged on one pipe; :class:`OutputCollector` keeps the
first and the last MiB of it (where the login and the results are) and counts what it drops
from the middle. **Raw**: what it holds may include secrets (see ``RunOutcome.output``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO

_KEEP_BYTES = 1 << 20  # output kept from the start and from the end of a run


class OutputCollector:
    """Keeps the first and the last MiB of a stream; drops the middle."""

    def __init__(self, listener: Callable[[bytes], None] | None = None) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._listener = listener
        self._lock = threading.Lock()

    def drain(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                self.add(chunk)
                if self._listener is not None:
                    self._listener(chunk)

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._add(chunk)

    def _add(self, chunk: bytes) -> None:
        room = _KEEP_BYTES - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            excess = len(self._tail) - _KEEP_BYTES
            if excess > 0:
                del self._tail[:excess]
                self._dropped += excess

    def text(self) -> str:
        middle = f"\n[... {self._dropped} bytes of output dropped ...]\n" if self._dropped else ""
        return (
            self._head.decode("utf-8", "replace") + middle + self._tail.decode("utf-8", "replace")
        )
