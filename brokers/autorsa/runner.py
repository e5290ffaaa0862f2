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
per-account results is :mod:`brokers.autorsa.parser`'s job. Its parts live beside it:
the prompt answering in :mod:`brokers.autorsa.prompt_watch`, the bounded output in
:mod:`brokers.autorsa.output`, stopping the process group in
:mod:`brokers.autorsa.process`; the names callers use are importable from here.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from brokers.autorsa.lines import Prompt, PromptMatcher
from brokers.autorsa.output import OutputCollector
from brokers.autorsa.process import TERM_GRACE_SECONDS, close_quietly, kill_process_group
from brokers.autorsa.prompt_watch import PromptRelay, PromptWatch
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
_DRAIN_SECONDS = 5.0


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
    watch = PromptWatch(prompts, relay, code_timeout) if prompts and relay else None
    try:
        with locked_state_dir(data_dir, group, account, timeout=timeout) as home:
            env = child_environment(env_var, entry, home, inherited=inherited_env, extra=extra_env)
            return _run(list(argv), env, home, timeout, watch)
    except StateLockTimeout as exc:
        log.warning("autorsa %s/%s not started: %s", group, account, exc)
        return RunOutcome(started=False, timeout=timeout, problem=str(exc))


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float, watch: PromptWatch | None
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
        close_quietly(proc.stdin)
    collected = OutputCollector(watch.feed if watch else None)
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
        close_quietly(proc.stdin)
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


__all__ = [
    "PASSTHROUGH_VARIABLES",
    "TERM_GRACE_SECONDS",
    "PromptRelay",
    "RunOutcome",
    "child_environment",
    "kill_process_group",
    "run_autorsa",
]
