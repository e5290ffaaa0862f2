"""2FA prompts: the runner relays them and types the codes it is given (stand-in AutoRSA).

The relay here is an in-memory stand-in of :class:`brokers.autorsa.relay.AccountRelay`;
the Redis path and the API are covered in ``tests/api/test_job_codes.py``.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from brokers.autorsa.command import build_holdings_argv, build_trade_argv
from brokers.autorsa.holdings import parse_holdings
from brokers.autorsa.lines import Prompt, PromptMatcher, can_prompt
from brokers.autorsa.parser import parse_trade
from brokers.autorsa.runner import run_autorsa
from brokers.autorsa.scrub import Scrubber
from core.codes import PromptKind
from core.models import OrderAction, OrderRequest, ResultStatus
from tests.brokers.autorsa.support import FAKE_BIN

ENV_VARS = {"chase": "CHASE", "bbae": "BBAE", "robinhood": "ROBINHOOD", "fidelity": "FIDELITY"}
LABELS = {"chase": "Chase", "bbae": "BBAE", "robinhood": "Robinhood", "fidelity": "Fidelity"}


class FakeRelay:
    """Answers each code prompt with the next of ``codes`` (None: no answer)."""

    def __init__(self, *codes: str | None, delay: float = 0.0) -> None:
        self.codes = list(codes)
        self.delay = delay
        self.announced: list[tuple[Prompt, float, bool]] = []
        self.cleared = 0
        self._ready = threading.Event()

    def announce(self, prompt: Prompt, deadline: float, home: Path) -> bool:
        self.announced.append((prompt, deadline, (home / "captcha.png").exists()))
        self._ready.set()
        return True

    def take_code(self, timeout: float) -> str | None:
        time.sleep(min(self.delay, timeout))
        if not self.codes:
            time.sleep(timeout)
            return None
        code = self.codes.pop(0)
        if code is None:
            time.sleep(timeout)
        return code

    def clear(self, home: Path) -> None:
        self.cleared += 1
        (home / "captcha.png").unlink(missing_ok=True)


def run(tmp_path, brokerage, entry, argv, relay, *, code_timeout=5.0, timeout=10.0):
    return run_autorsa(
        argv,
        env_var=ENV_VARS[brokerage],
        entry=entry,
        data_dir=tmp_path,
        group="g1",
        account="a1",
        timeout=timeout,
        prompts=PromptMatcher(brokerage),
        relay=relay,
        code_timeout=code_timeout,
    )


def holdings(tmp_path, brokerage, entry, relay, **kwargs):
    argv = build_holdings_argv(str(FAKE_BIN), brokerage)
    outcome = run(tmp_path, brokerage, entry, argv, relay, **kwargs)
    reading = parse_holdings(
        outcome,
        brokerage=brokerage,
        label=LABELS[brokerage],
        account="a1",
        scrub=Scrubber([entry]),
    )
    return outcome, reading


def order(dry_run=False):
    return OrderRequest(
        action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("1"), dry_run=dry_run
    )


def trade(tmp_path, brokerage, entry, relay, *, dry_run=False, **kwargs):
    argv = build_trade_argv(str(FAKE_BIN), OrderAction.BUY, 1, ["AAPL"], brokerage, dry_run=dry_run)
    outcome = run(tmp_path, brokerage, entry, argv, relay, **kwargs)
    (result,) = parse_trade(
        outcome,
        brokerage=brokerage,
        label=LABELS[brokerage],
        account="a1",
        order=order(dry_run),
        scrub=Scrubber([entry]),
    )
    return outcome, result


def test_prompt_table_lists_the_prompting_brokerages() -> None:
    for brokerage in ("bbae", "dspac", "chase", "fidelity", "firstrade", "wellsfargo", "robinhood"):
        assert can_prompt(brokerage), brokerage
    for brokerage in ("tradier", "public", "webull", "schwab", "tastytrade"):
        assert not can_prompt(brokerage), brokerage
    assert PromptMatcher("chase").match("Enter code: ").kind is PromptKind.CODE
    assert PromptMatcher("bbae").match("Enter security code: ") is not None
    assert PromptMatcher("chase").match("Enter security code: ") is None
    approval = PromptMatcher("robinhood").match(
        "You have ~60 seconds to approve the login in the Robinhood app"
    )
    assert approval is not None and approval.kind is PromptKind.APPROVAL
    assert PromptMatcher("tradier").match("Enter code: ") is None


def test_code_prompt_is_relayed_and_the_code_completes_the_login(tmp_path) -> None:
    relay = FakeRelay("123456")
    outcome, reading = holdings(tmp_path, "chase", "me:otp-pw0001:1234", relay)
    assert reading.holdings is not None, reading.error
    ((prompt, deadline, _),) = relay.announced
    assert prompt.kind is PromptKind.CODE and prompt.text == "Enter code:"
    assert deadline > time.time()
    assert not outcome.waited_out and relay.cleared >= 1
    assert "123456" not in outcome.output  # a typed code is never echoed


def test_captcha_then_code_both_relayed_and_the_image_removed_after(tmp_path) -> None:
    relay = FakeRelay("W7KQ", "654321")
    _, result = trade(tmp_path, "bbae", "me@x.io:captcha-pw0002", relay)
    assert result.status is ResultStatus.FILLED, result.detail
    (captcha, _, image_there), (code, _, image_after) = relay.announced
    assert captcha.captcha and image_there
    assert not image_after  # removed once answered
    assert not code.captcha and code.text == "Enter security code:"
    home = tmp_path / "autorsa" / "g1" / "a1"
    assert not (home / "captcha.png").exists()


def test_approval_wait_shows_and_ends_when_the_app_approves(tmp_path) -> None:
    relay = FakeRelay()
    outcome, reading = holdings(tmp_path, "robinhood", "me:approve-1.5", relay)
    assert reading.holdings is not None, reading.error
    assert [p.kind for p, _, _ in relay.announced] == [PromptKind.APPROVAL]
    assert relay.cleared >= 1 and not outcome.waited_out


def test_no_code_in_time_stops_the_run_and_fails_the_login(tmp_path) -> None:
    started = time.monotonic()
    outcome, reading = holdings(
        tmp_path, "chase", "me:otp-pw0003:1234", FakeRelay(), code_timeout=1
    )
    assert outcome.waited_out and not outcome.timed_out
    assert time.monotonic() - started < 8
    assert reading.holdings is None and "no code came within 1s" in reading.error


def test_no_code_in_time_before_the_order_step_is_failed(tmp_path) -> None:
    outcome, result = trade(tmp_path, "chase", "me:otp-pw0004:1234", FakeRelay(), code_timeout=1)
    assert outcome.waited_out
    assert result.status is ResultStatus.FAILED
    assert "never reached the order step" in result.detail


def test_no_code_in_time_after_the_order_step_began_is_unknown(tmp_path) -> None:
    outcome, result = trade(tmp_path, "fidelity", "me:otplate-pw0005", FakeRelay(), code_timeout=1)
    assert outcome.waited_out
    assert result.status is ResultStatus.UNKNOWN
    assert "check the brokerage" in result.detail


def test_wrong_code_gets_autorsas_own_failure(tmp_path) -> None:
    relay = FakeRelay("111111")
    _, result = trade(tmp_path, "chase", "me:badcode-pw0006:1234", relay)
    assert result.status is ResultStatus.FAILED
    assert "Incorrect OTP code" in result.detail


@pytest.mark.parametrize("bad", ["12\n34", "x" * 17, "", "\x1b[2J"])
def test_anything_but_a_code_never_reaches_stdin(tmp_path, bad) -> None:
    relay = FakeRelay(bad)
    outcome, reading = holdings(tmp_path, "chase", "me:otp-pw0007:1234", relay, code_timeout=1.5)
    assert outcome.waited_out  # the process kept waiting: nothing was typed
    assert reading.holdings is None


def test_wait_does_not_count_against_the_runs_own_limit(tmp_path) -> None:
    relay = FakeRelay("123456", delay=2.5)
    outcome, reading = holdings(tmp_path, "chase", "me:otp-pw0008:1234", relay, timeout=2)
    assert not outcome.timed_out, outcome.output[-300:]
    assert reading.holdings is not None, reading.error


def test_relay_that_cannot_announce_fails_fast(tmp_path) -> None:
    class Mute(FakeRelay):
        def announce(self, prompt, deadline, home):
            return False

    started = time.monotonic()
    outcome, reading = holdings(tmp_path, "chase", "me:otp-pw0009:1234", Mute(), code_timeout=30)
    assert time.monotonic() - started < 10
    assert not outcome.waited_out and reading.holdings is None
    assert "EOF" in outcome.output
