"""Prompt answering for one AutoRSA run: notice a prompt, relay it, type the code.

The runner (:mod:`brokers.autorsa.runner`) hands every chunk of output to a
:class:`PromptWatch` (on its reader thread) and lets the watch supervise the process (on
the caller's thread). When the output ends in a prompt of the brokerage
(``lines.PromptMatcher``), the watch tells the :class:`PromptRelay`, which shows it to the
person, and writes the code the relay hands back to the process's stdin. Time spent
waiting on the person comes out of its own allowance (``AUTORSA_CODE_TIMEOUT``), not the
run's limit; when the allowance runs out, the run is stopped (``waited_out``).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from brokers.autorsa.lines import Prompt, PromptMatcher
from brokers.autorsa.process import close_quietly
from core.codes import PromptKind, check_code
from core.errors import InvalidRequest

# The run's own lines ("waits for ..."): logged under the runner's name, as operators know it.
log = logging.getLogger("brokers.autorsa.runner")

_POLL_SECONDS = 0.1  # how often the run checks the process and its prompts
_TAKE_SECONDS = 0.5  # longest single wait for a code (the process is checked in between)


class PromptRelay(Protocol):
    """Where a run's prompts go and its codes come from (one account's run).

    ``prompt.text`` is raw output; an implementation scrubs it before showing it.
    """

    def announce(self, prompt: Prompt, deadline: float, home: Path) -> bool:
        """The run waits on ``prompt`` until ``deadline`` (epoch seconds); ``home`` is
        the run's state directory (where a captcha image is saved). ``False``: the
        prompt cannot be relayed, so stdin is closed and the process fails fast."""

    def take_code(self, timeout: float) -> str | None:
        """A code for the announced prompt, waiting up to ``timeout`` s, or ``None``."""

    def clear(self, home: Path) -> None:
        """The run no longer waits (answered, went on, or ended)."""


class PromptWatch:
    """Follows one run's output for prompts and relays them (see the module docstring).

    ``feed`` runs on the reader thread; ``supervise`` on the caller's.
    """

    def __init__(self, prompts: PromptMatcher, relay: PromptRelay, code_timeout: float) -> None:
        self.prompts = prompts
        self.relay = relay
        self.allowance_total = code_timeout
        self.asked: list[Prompt] = []
        self._lock = threading.Lock()
        self._tail = ""  # output after the last newline (a prompt has none)
        self._last_line = ""  # the last complete non-empty line
        self._seq = 0  # counts chunks: a prompt is identified by the chunk it ended
        self._current: tuple[int, Prompt] | None = None
        # Where a typed answer's newline goes (the output), as a terminal would echo it;
        # never the code itself.
        self.echo: Callable[[bytes], None] | None = None

    def feed(self, chunk: bytes) -> None:
        text = chunk.decode("utf-8", "replace")
        with self._lock:
            self._seq += 1
            *complete, self._tail = (self._tail + text).split("\n")
            for line in reversed(complete):
                if line.strip():
                    self._last_line = line[-4096:]
                    break
            self._tail = self._tail[-4096:]
            candidate = self._tail if self._tail.strip() else self._last_line
            prompt = self.prompts.match(candidate)
            self._current = (self._seq, prompt) if prompt else None

    def _seen(self) -> tuple[int, Prompt] | None:
        with self._lock:
            return self._current

    def supervise(self, proc: subprocess.Popen, timeout: float, home: Path) -> tuple[bool, bool]:
        """Run ``proc`` to its end; ``(timed_out, waited_out)``."""
        run_left, allowance = timeout, self.allowance_total
        answered: set[int] = set()
        waiting: tuple[int, Prompt] | None = None
        last = time.monotonic()
        while proc.poll() is None:
            now = time.monotonic()
            if waiting is None:
                run_left -= now - last
            else:
                allowance -= now - last
            last = now
            seen = self._seen()
            if waiting is not None and (seen is None or seen[0] != waiting[0]):
                self.relay.clear(home)  # the process went on (an approval came, or output)
                waiting = None
            if waiting is None and seen is not None and seen[0] not in answered:
                answered.add(seen[0])  # each prompt is relayed once
                self.asked.append(seen[1])
                if allowance <= 0:
                    return False, True
                log.info(
                    "autorsa pid %s waits for %s (%.0fs left)", proc.pid, seen[1].kind, allowance
                )
                if self.relay.announce(seen[1], time.time() + allowance, home):
                    waiting = seen
                else:
                    close_quietly(proc.stdin)  # nobody can answer: let the login fail fast
            if waiting is not None:
                if allowance <= 0:
                    return False, True
                if waiting[1].kind is PromptKind.CODE:
                    code = self.relay.take_code(min(_TAKE_SECONDS, allowance))
                    if code is not None and self._type(proc, code):
                        self.relay.clear(home)
                        waiting = None
                    continue
                step = min(_POLL_SECONDS, allowance)
            else:
                if run_left <= 0:
                    return True, False
                step = min(_POLL_SECONDS, run_left)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=step)
        return False, False

    def _answered(self) -> None:
        """The prompt's line is over: the next output starts a new line."""
        with self._lock:
            self._tail, self._last_line, self._current = "", "", None
        if self.echo is not None:
            self.echo(b"\n")

    def _type(self, proc: subprocess.Popen, code: str) -> bool:
        """Write ``code`` and a newline to the process; whether it was a code and went in.

        The prompt's line is closed first, while the process still waits, so whatever it
        prints next (another prompt) is read as a line of its own.
        """
        try:
            text = check_code(code)
        except InvalidRequest:
            return False
        self._answered()
        assert proc.stdin is not None
        try:
            proc.stdin.write(text.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def end(self, home: Path) -> None:
        self.relay.clear(home)
