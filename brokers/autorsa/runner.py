"""Run AutoRSA as a subprocess for one account.

One run per account, so every line AutoRSA prints belongs to that account
(its label is always ``<Label> 1``) and one account's session files never mix
with another's. The run:

* gets a minimal clean environment: the credentials travel only in the
  brokerage's variable (e.g. ``ROBINHOOD=user:pass``), never in argv or a file;
* works in the account's private state directory, held under an exclusive lock;
* is limited in time; on expiry its whole process group (browsers included)
  gets SIGTERM, a short grace, then SIGKILL.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from brokers.autorsa.state import StateLockTimeout, locked_state_dir

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
    """

    started: bool
    returncode: int | None = None
    timed_out: bool = False
    output: str = field(default="", repr=False)
    elapsed: float = 0.0
    timeout: float = 0.0
    problem: str = ""


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

    Returns:
        The outcome; never raises for a run that went wrong.
    """
    try:
        with locked_state_dir(data_dir, group, account, timeout=timeout) as home:
            env = child_environment(env_var, entry, home, inherited=inherited_env, extra=extra_env)
            return _run(list(argv), env, home, timeout)
    except StateLockTimeout as exc:
        log.warning("autorsa %s/%s not started: %s", group, account, exc)
        return RunOutcome(started=False, timeout=timeout, problem=str(exc))


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> RunOutcome:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,  # an OTP or confirmation prompt fails fast
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
    collected = _Collector()
    assert proc.stdout is not None
    reader = threading.Thread(target=collected.drain, args=(proc.stdout,), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    # Always: after a normal exit this clears stray children (browsers) that
    # would otherwise keep the pipe, and the session files, busy.
    kill_process_group(proc)
    reader.join(_DRAIN_SECONDS)
    elapsed = time.monotonic() - started
    log.info(
        "autorsa finished: %s rc=%s%s in %.1fs",
        " ".join(argv[1:]),
        proc.returncode,
        " (timed out)" if timed_out else "",
        elapsed,
    )
    return RunOutcome(
        started=True,
        returncode=proc.returncode,
        timed_out=timed_out,
        output=collected.text(),
        elapsed=elapsed,
        timeout=timeout,
    )


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

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0

    def drain(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
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
