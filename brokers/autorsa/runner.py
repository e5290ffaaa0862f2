"""Run AutoRSA as a subprocess for one account.

One run per account, so every line AutoRSA prints belongs to that account
(its label is always ``<Label> 1``) and one account's session files never mix
with another's. The run:

* gets a minimal clean environment: the credentials travel only in the
  brokerage's variable (e.g. ``ROBINHOOD=user:pass``), never in argv or a file;
* works in the account's private state directory, held under an exclusive lock;
* is limited in time; on expiry its whole process group (browsers included)
  gets SIGTERM, a short grace, then SIGKILL;
* has a pipe for stdin that only a :class:`PromptRelay` writes to: when the
  output ends in a prompt of the brokerage (``lines.PromptMatcher``), the relay
  shows it to the person and hands back a code, which is written to stdin. The
  time spent waiting is not counted against the run's limit but against its
  own allowance (``AUTORSA_CODE_TIMEOUT``); when that runs out, the process is
  stopped. Without a relay stdin is closed at once, so a prompt fails fast.

The runner only reports what happened (:class:`RunOutcome`); turning that into
per-account results is :mod:`brokers.autorsa.parser`'s job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from brokers.autorsa.lines import Prompt, PromptMatcher
from brokers.autorsa.state import StateLockTimeout, locked_state_dir
from core.codes import PromptKind, check_code
from core.errors import InvalidRequest

log = logging.getLogger(__name__)

# Process-level settings the child needs to find programs, speak UTF-8 and
# reach the network the way this worker does. Nothing else is inherited.
PASSTHROUGH_VARIABLES = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PLAYWRIGHT_BROWSERS_PATH",
)
TERM_GRACE_SECONDS = 2.0
_DRAIN_SECONDS = 5.0
_KEEP_BYTES = 1 << 20  # output kept from the start and from the end of a run
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


@dataclass(frozen=True)
class RunOutcome:
    """What one AutoRSA process did.

    Attributes:
        started: whether the process was started at all. When ``False``,
            ``problem`` says why (binary missing, state directory busy) and
            nothing can have reached the brokerage.
        returncode: the exit code; negative for a signal; ``None`` if not started.
        timed_out: the time limit expired and the process group was killed.
        output: stdout and stderr merged in order. **Raw**: it may hold
            secrets; scrub before storing or logging any part of it.
        elapsed: seconds the process ran.
        timeout: the time limit that applied, in seconds.
        problem: why the run did not start, safe to show (no secrets).
        waited_out: a prompt's deadline passed without a code or approval, and
            the process was stopped (``timed_out`` stays false).
        prompts: the prompts the run waited on, in order. **Raw** like ``output``.
        code_timeout: the allowance for waiting on the person, in seconds.
    """

    started: bool
    returncode: int | None = None
    timed_out: bool = False
    output: str = field(default="", repr=False)
    elapsed: float = 0.0
    timeout: float = 0.0
    problem: str = ""
    waited_out: bool = False
    prompts: tuple[Prompt, ...] = field(default=(), repr=False)
    code_timeout: float = 0.0


def child_environment(
    env_var: str,
    entry: str,
    home: Path,
    *,
    inherited: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of one AutoRSA run.

    Args:
        env_var: the brokerage's variable, e.g. ``ROBINHOOD``.
        entry: the account's colon-joined entry (one account only).
        home: the account's state directory; also ``HOME``, so libraries that
            write under ``~`` keep that state per account too.
        inherited: where :data:`PASSTHROUGH_VARIABLES` are copied from; the
            worker's own environment by default. These are process-level
            network and locale settings the child needs, not tradefleet
            settings, which is why this reads ``os.environ`` directly.
        extra: more variables to set (tests, a brokerage's optional knobs);
            applied before the fixed ones below, which cannot be overridden.

    Returns:
        A new dict; the caller's environment is not modified.
    """
    source = os.environ if inherited is None else inherited
    env = {name: source[name] for name in PASSTHROUGH_VARIABLES if source.get(name)}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    if "PLAYWRIGHT_BROWSERS_PATH" not in env and source.get("HOME"):
        # HOME moves to the state dir, so Playwright would look for its browsers
        # there; point it at the worker's own download instead when one exists.
        browsers = Path(source["HOME"]) / ".cache" / "ms-playwright"
        if browsers.is_dir():
            env["PLAYWRIGHT_BROWSERS_PATH"] = str(browsers)
    env.update(extra or {})
    env.update(
        {
            "HOME": str(home),
            "DANGER_MODE": "true",  # no confirmation prompt (reference 1.3)
            "HEADLESS": "true",  # exactly "true" for every browser brokerage (2.2)
            "PYTHONUNBUFFERED": "1",  # keeps merged stdout/stderr in order (4.1)
            "TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks, no boxes
            "PYTHONIOENCODING": "utf-8",
            env_var: entry,
        }
    )
    return env


def run_autorsa(
    argv: Sequence[str],
    *,
    env_var: str,
    entry: str,
    data_dir: Path | str,
    group: str,
    account: str,
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
    inherited_env: Mapping[str, str] | None = None,
    prompts: PromptMatcher | None = None,
    relay: PromptRelay | None = None,
    code_timeout: float = 0.0,
) -> RunOutcome:
    """Run AutoRSA once for one account and collect its output.

    The account's state directory is locked first; waiting for another run of
    the same account takes at most ``timeout`` seconds, and the run itself
    gets ``timeout`` seconds more.

    Args:
        argv: from :mod:`brokers.autorsa.command`; holds no secrets.
        env_var: the brokerage's AutoRSA variable.
        entry: the account's entry; goes only into the child's environment.
        data_dir: ``settings.data_dir``.
        group: the account's group.
        account: the account's name.
        timeout: ``settings.autorsa_timeout_for(brokerage)``, in seconds.
        extra_env: see :func:`child_environment`.
        inherited_env: see :func:`child_environment`.
        prompts: the brokerage's prompts; with ``relay``, they are relayed.
        relay: where prompts go and codes come from; ``None`` closes stdin.
        code_timeout: ``settings.autorsa_code_timeout_for(brokerage)``: the time
            the run may wait on the person in all, on top of ``timeout``.

    Returns:
        The outcome; never raises for a run that went wrong.
    """
    watch = _Watch(prompts, relay, code_timeout) if prompts and relay else None
    try:
        with locked_state_dir(data_dir, group, account, timeout=timeout) as home:
            env = child_environment(env_var, entry, home, inherited=inherited_env, extra=extra_env)
            return _run(list(argv), env, home, timeout, watch)
    except StateLockTimeout as exc:
        log.warning("autorsa %s/%s not started: %s", group, account, exc)
        return RunOutcome(started=False, timeout=timeout, problem=str(exc))


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float, watch: _Watch | None
) -> RunOutcome:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            # Only a relayed code is ever written here; without a relay it is closed at
            # once, so an OTP or confirmation prompt fails fast (EOF).
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
            close_fds=True,
        )
    except FileNotFoundError:
        return RunOutcome(
            started=False,
            timeout=timeout,
            problem=f"AutoRSA was not found: AUTORSA_BIN={argv[0]!r} does not exist "
            "(install it with scripts/install_autorsa.sh and set AUTORSA_BIN)",
        )
    except PermissionError:
        return RunOutcome(
            started=False,
            timeout=timeout,
            problem=f"AutoRSA cannot be run: AUTORSA_BIN={argv[0]!r} is not executable",
        )
    log.info("autorsa started: %s (pid %s, limit %gs)", " ".join(argv[1:]), proc.pid, timeout)
    assert proc.stdout is not None and proc.stdin is not None
    if watch is None:
        _close(proc.stdin)
    collected = _Collector(watch.feed if watch else None)
    if watch is not None:
        watch.echo = collected.add
    reader = threading.Thread(target=collected.drain, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        if watch is None:
            timed_out, waited_out = _wait_plain(proc, timeout), False
        else:
            timed_out, waited_out = watch.supervise(proc, timeout, cwd)
    finally:
        # Always: after a normal exit this clears stray children (browsers) that
        # would otherwise keep the pipe, and the session files, busy.
        kill_process_group(proc)
        _close(proc.stdin)
        if watch is not None:
            watch.end(cwd)
    reader.join(_DRAIN_SECONDS)
    elapsed = time.monotonic() - started
    log.info(
        "autorsa finished: %s rc=%s%s in %.1fs",
        " ".join(argv[1:]),
        proc.returncode,
        " (timed out)" if timed_out else " (no code in time)" if waited_out else "",
        elapsed,
    )
    return RunOutcome(
        started=True,
        returncode=proc.returncode,
        timed_out=timed_out,
        output=collected.text(),
        elapsed=elapsed,
        timeout=timeout,
        waited_out=waited_out,
        prompts=tuple(watch.asked) if watch else (),
        code_timeout=watch.allowance_total if watch else 0.0,
    )


def _wait_plain(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for ``proc`` up to ``timeout`` s; whether it timed out."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return True
    return False


def _close(stream: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        stream.close()


class _Watch:
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
                    _close(proc.stdin)  # nobody can answer: let the login fail fast
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


class _Collector:
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
