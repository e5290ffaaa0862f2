"""AutoRSABroker end to end against the stand-in (real subprocesses)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from brokers.autorsa import ActivationResult, AutoRSABroker, wipe_state
from brokers.autorsa.diagnosis import SOFI_BUG
from brokers.autorsa.state import state_dir
from core.models import LegResult, OrderAction, OrderRequest, OrderType, ResultStatus
from tests.brokers.autorsa.support import GROUP, broker_account, credentials_for

FILLED, DRY, REJECTED, FAILED, UNKNOWN, OK = (
    ResultStatus.FILLED,
    ResultStatus.DRY_RUN,
    ResultStatus.REJECTED,
    ResultStatus.FAILED,
    ResultStatus.UNKNOWN,
    ResultStatus.OK,
)
USER = "alice.smith"
SIMULATED = [
    "tradier",
    "robinhood",
    "webull",
    "schwab",
    "firstrade",
    "public",
    "tastytrade",
    "chase",
    "fidelity",
]


def order(*, dry_run: bool = True, symbols=("AAPL", "MSFT"), **kwargs) -> OrderRequest:
    return OrderRequest(
        action=OrderAction.BUY,
        symbols=tuple(symbols),
        quantity=Decimal("1"),
        dry_run=dry_run,
        **kwargs,
    )


def account(brokerage: str, secret: str, name: str = "a1"):
    return broker_account(name, brokerage, **credentials_for(brokerage, secret, USER))


def place(settings, brokerage, secret, **order_kwargs) -> list[LegResult]:
    broker = AutoRSABroker(brokerage, settings, GROUP)
    acct = account(brokerage, secret)
    results = broker.place_orders("job-1", order(**order_kwargs), [acct])
    assert_no_secrets(results, acct.credentials)
    return results


def assert_no_secrets(results, credentials) -> None:
    text = json.dumps([r.to_json() for r in results])
    for value in credentials.values():
        if len(value) >= 4 and value != "NA":
            assert value not in text, value
    assert "5QR" not in text  # the stand-in's unmasked account numbers


def statuses(results) -> list[tuple[str, ResultStatus]]:
    return [(r.symbol, r.status) for r in results]


@pytest.mark.parametrize("brokerage", SIMULATED)
def test_live_order_filled_and_placed_exactly_once(settings, brokerage) -> None:
    results = place(settings, brokerage, "ok-Secr3tValue9", dry_run=False)
    assert statuses(results) == [("AAPL", FILLED), ("MSFT", FILLED)], results
    log = (state_dir(settings.data_dir, GROUP, "a1") / "orders.log").read_text().splitlines()
    assert len(log) == 2 and log[0].endswith("AAPL") and log[1].endswith("MSFT")


@pytest.mark.parametrize("brokerage", SIMULATED)
def test_dry_run_reports_dry_run_and_places_nothing(settings, brokerage) -> None:
    results = place(settings, brokerage, "ok-Secr3tValue9", dry_run=True)
    assert statuses(results) == [("AAPL", DRY), ("MSFT", DRY)], results
    assert not (state_dir(settings.data_dir, GROUP, "a1") / "orders.log").exists()


@pytest.mark.parametrize("brokerage", SIMULATED)
def test_rejection_is_rejected(settings, brokerage) -> None:
    # Public's only unambiguous refusal is the dry-run preflight; its live
    # "Error placing order" may come after the order left (see the next test).
    dry_run = brokerage == "public"
    results = place(settings, brokerage, "reject-Secr3tValue9", dry_run=dry_run)
    assert {r.status for r in results} == {REJECTED}, results
    assert all(r.detail for r in results)


def test_public_live_order_error_is_unknown(settings) -> None:
    results = place(settings, "public", "reject-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {UNKNOWN}, results
    assert "order rejected by risk checks" in results[0].detail


@pytest.mark.parametrize("brokerage", SIMULATED)
def test_login_failure_is_failed_with_reason(settings, brokerage) -> None:
    results = place(settings, brokerage, "badlogin-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}, results
    assert all("never reached the order step" in r.detail for r in results)
    assert USER not in results[0].detail


@pytest.mark.parametrize("brokerage", ["tradier", "robinhood", "public", "chase"])
def test_false_logged_in_with_zero_lines_is_failed(settings, brokerage) -> None:
    results = place(settings, brokerage, "zero-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}, results


def test_hang_times_out_unknown_for_orders(make_settings) -> None:
    settings = make_settings(AUTORSA_TIMEOUTS="webull=1.5")
    results = place(settings, "webull", "hang-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {UNKNOWN}
    assert results[0].detail == (
        "timed out after 1.5s: the order may have reached webull; check the brokerage before retrying"
    )


def test_hang_times_out_failed_for_holdings_and_activation(make_settings) -> None:
    settings = make_settings(AUTORSA_TIMEOUT="1.5")
    broker = AutoRSABroker("robinhood", settings, GROUP)
    acct = account("robinhood", "hang-Secr3tValue9")
    found, results = broker.holdings([acct])
    assert found == [] and results[0].status is FAILED
    assert "timed out after 1.5s" in results[0].detail
    assert broker.activate(acct).status is FAILED


def test_garbage_after_order_step_is_unknown(settings) -> None:
    results = place(settings, "webull", "garbage-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {UNKNOWN}
    assert "unexpected widget state" in results[0].detail


def test_crash_after_order_step_is_unknown(settings) -> None:
    results = place(settings, "tradier", "crash-Secr3tValue9", dry_run=False, symbols=("AAPL",))
    assert statuses(results) == [("AAPL", UNKNOWN)]


def test_pypi_down_is_failed_nothing_placed(settings) -> None:
    broker = AutoRSABroker("tradier", settings, GROUP, extra_env={"FAKE_AUTORSA_PYPI_DOWN": "1"})
    results = broker.place_orders(
        "j", order(dry_run=False), [account("tradier", "ok-Secr3tValue9")]
    )
    assert {r.status for r in results} == {FAILED}
    assert "pypi.org" in results[0].detail


def test_missing_binary_is_failed_naming_autorsa_bin(make_settings) -> None:
    settings = make_settings(AUTORSA_BIN="/opt/none/auto_rsa_bot")
    results = place(settings, "tradier", "ok-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}
    assert "AUTORSA_BIN='/opt/none/auto_rsa_bot'" in results[0].detail


def test_sofi_always_fails_with_the_upstream_bug(settings) -> None:
    results = place(settings, "sofi", "ok-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}
    assert results[0].detail == SOFI_BUG


def test_chase_login_failure_without_error_with_line(settings) -> None:
    results = place(settings, "chase", "badlogin-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}
    assert "Error logging in to Chase" in results[0].detail


def test_otp_prompt_is_failed_with_2fa_hint(settings) -> None:
    results = place(settings, "firstrade", "otp-Secr3tValue9", dry_run=False)
    assert {r.status for r in results} == {FAILED}
    assert "2FA" in results[0].detail


def test_limit_order_rejected_without_running(settings) -> None:
    results = place(
        settings,
        "tradier",
        "ok-Secr3tValue9",
        dry_run=False,
        order_type=OrderType.LIMIT,
        limit_price=Decimal("10"),
    )
    assert {r.status for r in results} == {REJECTED}
    assert "limit orders are not supported" in results[0].detail
    assert not state_dir(settings.data_dir, GROUP, "a1").exists()


def test_two_accounts_of_one_brokerage_each_get_their_own_result(settings) -> None:
    broker = AutoRSABroker("robinhood", settings, GROUP)
    good = account("robinhood", "ok-Secr3tValue9", "good")
    bad = account("robinhood", "reject-0therSecret", "bad")
    results = broker.place_orders("j", order(dry_run=False, symbols=("AAPL",)), [good, bad])
    assert [(r.account, r.status) for r in results] == [("good", FILLED), ("bad", REJECTED)]
    assert_no_secrets(results, {**good.credentials, **bad.credentials})
    good_dir = state_dir(settings.data_dir, GROUP, "good")
    assert len((good_dir / "orders.log").read_text().splitlines()) == 1
    assert not (state_dir(settings.data_dir, GROUP, "bad") / "orders.log").exists()


def test_activate_ok_returns_masked_details(settings) -> None:
    broker = AutoRSABroker("schwab", settings, GROUP)
    result = broker.activate(account("schwab", "ok-Secr3tValue9"))
    assert isinstance(result, ActivationResult) and isinstance(result, LegResult)
    assert result.status is OK, result.detail
    details = result.account_details
    assert len(details["masked_numbers"]) == 1 and details["masked_numbers"][0].startswith("xxxx")
    assert details["total"] == "1234.56"
    assert "account_details" not in json.loads(result.to_json())
    assert LegResult.from_json(result.to_json()).status is OK


def test_activate_failure_reports_reason(settings) -> None:
    result = AutoRSABroker("robinhood", settings, GROUP).activate(
        account("robinhood", "badlogin-Secr3tValue9")
    )
    assert result.status is FAILED
    assert "Unable to log in to Robinhood" in result.detail
    assert "Secr3tValue9" not in result.detail and USER not in result.detail
    assert result.account_details == {}


def test_holdings_read_positions(settings) -> None:
    broker = AutoRSABroker("tradier", settings, GROUP)
    found, results = broker.holdings([account("tradier", "ok-Secr3tValue9")])
    assert [r.status for r in results] == [OK]
    (holdings,) = found
    assert [p.symbol for p in holdings.positions] == ["AAPL", "MSFT"]
    assert holdings.total == "1234.56" and holdings.masked_numbers[0].startswith("xxxx")


def test_deactivate_is_ok(settings) -> None:
    assert (
        AutoRSABroker("tradier", settings, GROUP).deactivate(account("tradier", "x-1234")).status
        is OK
    )


def test_invalid_stored_credentials_fail_without_running(settings) -> None:
    bad = broker_account("a1", "webull", username="u", password="p")
    results = AutoRSABroker("webull", settings, GROUP).place_orders("j", order(), [bad])
    assert {r.status for r in results} == {FAILED}
    assert "cannot be used with AutoRSA" in results[0].detail


def test_unknown_brokerage_rejected() -> None:
    with pytest.raises(ValueError):
        AutoRSABroker("paper", None, GROUP)  # type: ignore[arg-type]


def test_wipe_state_after_runs(settings) -> None:
    place(settings, "tradier", "ok-Secr3tValue9")
    assert wipe_state(settings.data_dir, GROUP, "a1")
    assert not Path(state_dir(settings.data_dir, GROUP, "a1")).exists()
