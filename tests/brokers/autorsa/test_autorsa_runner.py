"""The runner against the stand-in, as a real subprocess."""

from __future__ import annotations

import os
import stat
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from brokers.autorsa.command import build_holdings_argv, build_trade_argv
from brokers.autorsa.parser import parse_trade
from brokers.autorsa.runner import child_environment, run_autorsa
from brokers.autorsa.scrub import Scrubber
from brokers.autorsa.state import state_dir, wipe_state
from core.models import OrderAction, OrderRequest, ResultStatus
from tests.brokers.autorsa.support import FAKE_BIN


def _run(tmp_path: Path, argv, entry="ok-tok0000001", *, account="a1", timeout=10.0, **kwargs):
    return run_autorsa(
        argv,
        env_var="TRADIER",
        entry=entry,
        data_dir=tmp_path,
        group="g1",
        account=account,
        timeout=timeout,
        **kwargs,
    )


def trade_argv(dry_run: bool = True) -> list[str]:
    return build_trade_argv(str(FAKE_BIN), OrderAction.BUY, 1, ["AAPL"], "tradier", dry_run=dry_run)


def test_child_environment_is_minimal_and_holds_the_entry_only_in_its_variable(tmp_path) -> None:
    inherited = {
        "PATH": "/usr/bin",
        "HTTPS_PROXY": "http://proxy:3128",
        "REDIS_URL": "redis://secret",
        "TRADEFLEET_SECRET_KEY": "k",
        "ROBINHOOD": "other:account",
    }
    env = child_environment("TRADIER", "tok", tmp_path, inherited=inherited)
    assert env["TRADIER"] == "tok"
    assert env["HOME"] == str(tmp_path)
    assert env["DANGER_MODE"] == "true" and env["HEADLESS"] == "true"
    assert env["PYTHONUNBUFFERED"] == "1" and env["TYPER_STANDARD_TRACEBACK"] == "1"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    for leaked in ("REDIS_URL", "TRADEFLEET_SECRET_KEY", "ROBINHOOD"):
        assert leaked not in env


def test_run_works_in_private_state_dir_reused_between_runs(tmp_path) -> None:
    first = _run(tmp_path, trade_argv())
    assert first.started and first.returncode == 0 and not first.timed_out
    home = state_dir(tmp_path, "g1", "a1")
    assert f"Current Directory: {home}" in first.output
    for directory in (home, home.parent, home.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    second = _run(tmp_path, trade_argv())
    assert second.returncode == 0
    # The session file written by the first run is still there for the second.
    assert (home / "creds" / "session").read_text().count("login") == 2
    assert "home_is_cwd=True" in (home / "runs.log").read_text()
    env_names = (home / "env.log").read_text().split()
    assert "TRADIER" in env_names and "REDIS_URL" not in env_names


def test_credentials_never_in_argv(tmp_path) -> None:
    outcome = _run(tmp_path, trade_argv(), entry="ok-VerySecretToken99")
    assert "Running main with args: ['buy', '1', 'AAPL', 'tradier']" in outcome.output
    assert "VerySecretToken99" not in outcome.output


def test_timeout_kills_the_whole_process_group(tmp_path) -> None:
    started = time.monotonic()
    outcome = _run(tmp_path, trade_argv(dry_run=False), entry="hang-tok000001", timeout=1.5)
    assert outcome.timed_out and outcome.started
    assert time.monotonic() - started < 8  # SIGTERM is ignored: SIGKILL after the grace
    child = int((state_dir(tmp_path, "g1", "a1") / "child.pid").read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "a child of AutoRSA outlived the run"
    assert "Tradier 1: buying 1.0 of AAPL" in outcome.output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (reaped by init later) counts as dead.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_missing_binary_is_reported_not_raised(tmp_path) -> None:
    outcome = _run(tmp_path, ["/nonexistent/auto_rsa_bot", "holdings", "tradier"])
    assert not outcome.started
    assert "AUTORSA_BIN='/nonexistent/auto_rsa_bot'" in outcome.problem


def test_stdin_is_closed_so_prompts_fail_fast(tmp_path) -> None:
    argv = build_holdings_argv(str(FAKE_BIN), "tradier")
    outcome = _run(tmp_path, argv, entry="otp-tok0000001", timeout=5)
    assert "EOF when reading a line" in outcome.output


def test_extra_env_reaches_the_child(tmp_path) -> None:
    outcome = _run(tmp_path, trade_argv(), extra_env={"FAKE_AUTORSA_PYPI_DOWN": "1"})
    assert outcome.returncode == 1 and "pypi.org" in outcome.output


def test_concurrent_runs_of_one_account_are_serialised(tmp_path) -> None:
    outcomes = []

    def run() -> None:
        outcomes.append(_run(tmp_path, trade_argv(), entry="slow-1", timeout=10))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(o.returncode == 0 for o in outcomes)
    runs = (state_dir(tmp_path, "g1", "a1") / "runs.log").read_text().splitlines()
    (_, start1, end1, _), (_, start2, end2, _) = (line.split() for line in runs)
    assert float(start2) >= float(end1) or float(start1) >= float(end2)


def test_second_run_gives_up_after_its_timeout_when_state_is_busy(tmp_path) -> None:
    holder = threading.Thread(
        target=_run, args=(tmp_path, trade_argv()), kwargs={"entry": "slow-2"}
    )
    holder.start()
    time.sleep(0.5)
    outcome = _run(tmp_path, trade_argv(), timeout=1)
    holder.join()
    assert not outcome.started
    assert "held its state" in outcome.problem


def test_different_accounts_run_in_parallel_dirs(tmp_path) -> None:
    a = _run(tmp_path, trade_argv(), account="a1")
    b = _run(tmp_path, trade_argv(), account="a2")
    assert str(state_dir(tmp_path, "g1", "a1")) in a.output
    assert str(state_dir(tmp_path, "g1", "a2")) in b.output


def test_wipe_state_deletes_the_directory(tmp_path) -> None:
    _run(tmp_path, trade_argv())
    assert wipe_state(tmp_path, "g1", "a1")
    assert not state_dir(tmp_path, "g1", "a1").exists()
    assert not wipe_state(tmp_path, "g1", "a1")


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".."])
def test_state_dir_rejects_path_tricks(tmp_path, name) -> None:
    with pytest.raises(ValueError):
        state_dir(tmp_path, "g1", name)


@pytest.mark.parametrize(
    ("argv_tail", "fragment"),
    [
        (["buy", "abc", "AAPL", "tradier"], "amount"),
        (["buy", "1", "AAPL", "nosuchbroker"], "brokerage name"),
        (["buy", "1", "AAPL"], "arguments"),
    ],
)
def test_argument_errors_exit_1_and_parse_as_failed(tmp_path, argv_tail, fragment) -> None:
    outcome = _run(tmp_path, [str(FAKE_BIN), *argv_tail])
    assert outcome.returncode == 1
    order = OrderRequest(
        action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("1"), dry_run=False
    )
    (result,) = parse_trade(
        outcome, brokerage="tradier", label="Tradier", account="a1", order=order, scrub=Scrubber([])
    )
    assert result.status is ResultStatus.FAILED
    assert fragment in result.detail


def test_prompt_without_danger_mode_aborts_on_eof(tmp_path) -> None:
    # DANGER_MODE is forced by the runner; a stand-in run without it shows why.
    import subprocess

    proc = subprocess.run(
        [str(FAKE_BIN), "buy", "1", "AAPL", "tradier"],
        env={"PATH": os.environ["PATH"], "TRADIER": "ok-1234"},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 1 and "Aborted." in proc.stderr
