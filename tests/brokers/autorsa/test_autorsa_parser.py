"""Trade output parsing on text captured from the AutoRSA 2.2.0 reference (4.2-4.4, 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.autorsa.diagnosis import SOFI_BUG
from brokers.autorsa.parser import parse_trade
from brokers.autorsa.runner import RunOutcome
from brokers.autorsa.scrub import Scrubber
from brokers.credentials import BROKERAGES
from core.models import OrderAction, OrderRequest, ResultStatus

FILLED, DRY, REJECTED, FAILED, UNKNOWN = (
    ResultStatus.FILLED,
    ResultStatus.DRY_RUN,
    ResultStatus.REJECTED,
    ResultStatus.FAILED,
    ResultStatus.UNKNOWN,
)
HEAD = """Python version: 3.12.3
Platform: linux
Current Directory: /data/autorsa/g1/a1
Directory Contains .env File: False
RSA Version: 2.2.0

Running main with args: ['buy', '1', 'AAPL', 'x']
DANGER MODE ENABLED

Running bot from command line
Action: buy
Amount: 1.0
Stock: ['AAPL']
DRY: True

If correct, press enter to continue..."""
END = "All commands complete in all brokers"


def banner(name: str) -> str:
    return f"\n==============================\n{name}\n==============================\n"


def outcome(
    body: str, *, rc: int | None = 0, timed_out: bool = False, end: bool = True
) -> RunOutcome:
    text = f"{HEAD}\n{body}\n{END if end else ''}\n"
    return RunOutcome(started=True, returncode=rc, timed_out=timed_out, output=text, timeout=2)


def parse(brokerage: str, out: RunOutcome, *, dry_run: bool = True, symbols=("AAPL",), secrets=()):
    order = OrderRequest(
        action=OrderAction.BUY, symbols=tuple(symbols), quantity=Decimal("1"), dry_run=dry_run
    )
    return parse_trade(
        out,
        brokerage=brokerage,
        label=BROKERAGES[brokerage].label,
        account="acct-1",
        order=order,
        scrub=Scrubber(secrets),
    )


def one(brokerage: str, body: str, *, dry_run: bool, **kwargs):
    name = BROKERAGES[brokerage].label
    results = parse(brokerage, outcome(banner(name) + body, **kwargs), dry_run=dry_run)
    assert len(results) == 1
    return results[0]


# (brokerage, dry_run, lines after the banner, status, detail fragment)
CASES = [
    # Tradier (observed)
    (
        "tradier",
        True,
        "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001: Running in DRY mode. Trasaction would've been: buy 1.0 of AAPL",
        DRY,
        "DRY mode",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001: buy 1.0 of AAPL: ok",
        FILLED,
        "AAPL: ok",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.5 of AAPL\nTradier account xxxx0001 Error: Fractional share 1.5 not supported",
        REJECTED,
        "Fractional",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001 Error: This order did not route. JSON response: {}",
        REJECTED,
        "did not route",
    ),
    (
        "tradier",
        False,
        'Tradier 1: buying 1.0 of AAPL\nError making request to Tradier API /accounts/6YA00001/orders: {"errors":{"error":"insufficient buying power"}}\nTradier account xxxx0001 Error: JSON response is None',
        REJECTED,
        "insufficient buying power",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.0 of AAPL\nError making request to Tradier API /accounts/6YA00001/orders: HTTPSConnectionPool: Read timed out.\nTradier account xxxx0001 Error: JSON response is None",
        UNKNOWN,
        "Read timed out",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001 Error: 'order'",
        UNKNOWN,
        "Error: 'order'",
    ),
    (
        "tradier",
        False,
        "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001: buy 1.0 of AAPL: pending_review",
        UNKNOWN,
        "pending_review",
    ),
    # Robinhood (observed)
    (
        "robinhood",
        True,
        "Robinhood 1: buying 1.0 of AAPL\nRobinhood 1 xxxx5678 Running in DRY mode. Transaction would've been: buy 1.0 of AAPL",
        DRY,
        "DRY",
    ),
    (
        "robinhood",
        False,
        "Robinhood 1: buying 1.0 of AAPL\nRobinhood 1: buy 1.0 of AAPL in xxxx5678: Success",
        FILLED,
        "Success",
    ),
    (
        "robinhood",
        False,
        "Robinhood 1: buy 1.0 of AAPL in xxxx5678: You can only purchase 0 shares of AAPL.",
        REJECTED,
        "only purchase",
    ),
    (
        "robinhood",
        False,
        "Robinhood 1: Error buying 1.0 of AAPL in xxxx5678, trying Limit Order\nRobinhood 1: buy 1.0 of AAPL in xxxx5678 @ 150.25: Success",
        FILLED,
        "@ 150.25",
    ),
    (
        "robinhood",
        False,
        "Robinhood 1: buying 1.0 of AAPL\nRobinhood 1 Error submitting order: Connection aborted",
        UNKNOWN,
        "Connection aborted",
    ),
    (
        "robinhood",
        False,
        "Robinhood 1: buying 1.0 of AAPL\nRobinhood 1: Error getting price for AAPL",
        REJECTED,
        "getting price",
    ),
    # Webull
    (
        "webull",
        True,
        "Webull 1: buying 1.0 of AAPL\nWebull 1 xxxx4321: Running in DRY mode. Transaction would've been: buy 1.0 of AAPL",
        DRY,
        "DRY",
    ),
    ("webull", False, "Webull 1: buy 1.0 of AAPL in xxxx4321: Success", FILLED, "Success"),
    (
        "webull",
        False,
        "Webull 1: buying 1.0 of AAPL\nWebull 1 xxxx4321: Error placing order: trade token expired",
        UNKNOWN,
        "trade token",
    ),
    (
        "webull",
        False,
        "Webull 1: buying 1.0 of AAPL\nWebull 1: AAPL is not available for trading",
        REJECTED,
        "not available",
    ),
    # BBAE / DSPAC
    ("bbae", True, "BBAE 1: Buy 1.0 of AAPL in xxxx9999: Dry Run Success", DRY, "Dry Run Success"),
    (
        "dspac",
        False,
        "DSPAC 1 xxxx9999: Validation failed for buying 1.0 of AAPL",
        REJECTED,
        "Validation failed",
    ),
    (
        "bbae",
        False,
        "BBAE 1 xxxx9999: Not enough shares to sell AAPL",
        REJECTED,
        "Not enough shares",
    ),
    ("bbae", False, "BBAE 1 xxxx9999: Error checking holdings: boom", FAILED, "checking holdings"),
    ("bbae", False, "BBAE 1 xxxx9999: Error placing order: boom", UNKNOWN, "placing order"),
    (
        "bbae",
        False,
        "BBAE 1: Buy 1.0 of AAPL in xxxx9999: Order accepted by exchange",
        UNKNOWN,
        "Order accepted",
    ),
    # Fennel
    (
        "fennel",
        True,
        "Fennel 1: buy 1.0 of AAPL in Main Account: Dry Run Success",
        DRY,
        "Main Account",
    ),
    (
        "fennel",
        False,
        "Fennel 1: buy 1.0 of AAPL in Main Account: Success: True, Status: queued, ID: 77",
        FILLED,
        "ID: 77",
    ),
    (
        "fennel",
        False,
        "Fennel 1: buy 1.0 of AAPL in Main Account: Success: False, Status: rejected, ID: 77",
        REJECTED,
        "Success: False",
    ),
    ("fennel", False, "Fennel 1 Main Account: Error placing order: boom", UNKNOWN, "boom"),
    # Public
    (
        "public",
        True,
        "DRY RUN: buy 1.0 of AAPL in xxxx2222: Preflight check successful",
        DRY,
        "Preflight check successful",
    ),
    (
        "public",
        True,
        "DRY RUN: xxxx2222: Preflight check failed: insufficient funds",
        REJECTED,
        "insufficient funds",
    ),
    ("public", False, "buy 1.0 of AAPL in xxxx2222: Success", FILLED, "Success"),
    ("public", False, "xxxx2222: Error placing order: 500 Server Error", UNKNOWN, "500"),
    ("public", False, "xxxx3333: Skipping non-tradable account type: HSA", FAILED, "non-tradable"),
    # Tastytrade
    (
        "tastytrade",
        True,
        "Tastytrade 1: buying 1.0 of AAPL\nTastytrade 1 Running in DRY mode. Transaction would've been: buy 1.0 of AAPL",
        DRY,
        "DRY",
    ),
    (
        "tastytrade",
        False,
        "Tastytrade 1 xxxx7777: buy 1.0 of AAPL Order: 123 Status: Received",
        FILLED,
        "Received",
    ),
    (
        "tastytrade",
        False,
        "Tastytrade 1 xxxx7777: buy 1.0 of AAPL Order: 123 Status: Routed",
        FILLED,
        "Routed",
    ),
    (
        "tastytrade",
        False,
        "Tastytrade 1 xxxx7777 Error: Rejected Trying Limit order...\nTastytrade 1 Error placing order: 123 on account xxxx7777: Rejected",
        REJECTED,
        "Rejected",
    ),
    ("tastytrade", False, "Tastytrade 1 xxxx7777: Error placing order: margin", UNKNOWN, "margin"),
    (
        "tastytrade",
        False,
        "Tastytrade 1 xxxx7777: Error: session expired",
        UNKNOWN,
        "session expired",
    ),
    # Firstrade
    (
        "firstrade",
        True,
        "Running in DRY mode. No transactions will be made.\nFirstrade 1 buying 1.0 AAPL @ market\nFirstrade 1 account xxxx1111: The order verification was successful",
        DRY,
        "verification was successful",
    ),
    (
        "firstrade",
        False,
        "Firstrade 1 buying 1.0 AAPL @ market\nFirstrade 1 account xxxx1111: The order verification was successful",
        FILLED,
        "successful",
    ),
    (
        "firstrade",
        False,
        "Firstrade 1 buying 1.0 AAPL @ market\nFirstrade 1 account xxxx1111: The sell order verification was unsuccessful\nFirstrade 1 account xxxx1111: The order verification produced the following messages: {'err': 'No buying power'}",
        REJECTED,
        "No buying power",
    ),
    (
        "firstrade",
        False,
        "Firstrade 1 buying 1.0 AAPL @ market\nFirstrade 1 xxxx1111: Error submitting order: boom",
        UNKNOWN,
        "boom",
    ),
    # Schwab
    (
        "schwab",
        True,
        "Schwab 1 buying 1.0 AAPL @ market\nRunning in DRY mode. No transactions will be made.\nSchwab 1 account xxxx8888: The order verification was successful",
        DRY,
        "successful",
    ),
    (
        "schwab",
        False,
        "Schwab 1 buying 1.0 AAPL @ market\nunsuccessful, retrying with legacy API...\nSchwab 1 account xxxx8888: The order verification was retry successful",
        FILLED,
        "retry successful",
    ),
    (
        "schwab",
        False,
        "Schwab 1 buying 1.0 AAPL @ market\nunsuccessful, retrying with legacy API...\nSchwab 1 account xxxx8888: The order verification was retry unsuccessful\nSchwab 1 account xxxx8888: The order verification produced the following messages: ['Insufficient funds']",
        REJECTED,
        "Insufficient funds",
    ),
    (
        "schwab",
        False,
        "Schwab 1 buying 1.0 AAPL @ market\nSchwab 1 account xxxx8888: Order failed: market closed",
        REJECTED,
        "market closed",
    ),
    (
        "schwab",
        False,
        "Schwab 1 buying 1.0 AAPL @ market\nSchwab 1 xxxx8888: Error submitting order: boom",
        UNKNOWN,
        "boom",
    ),
    # Chase (threaded)
    (
        "chase",
        True,
        "Chase 1 buying 1.0 AAPL @ MARKET\nRunning in DRY mode. No transactions will be made.\nChase 1 account xxxx4444: The order verification was successful\nClosing Chase browser...\nAll Chase transactions complete",
        DRY,
        "verification",
    ),
    (
        "chase",
        False,
        "Chase 1 buying 1.0 AAPL @ MARKET\nChase 1 account xxxx4444: The order was successful\nClosing Chase browser...\nAll Chase transactions complete",
        FILLED,
        "order was successful",
    ),
    (
        "chase",
        False,
        "Chase 1 buying 1.0 AAPL @ MARKET\nChase 1 account xxxx4444: The order was unsuccessful\nChase 1 account xxxx4444: The order produced the following messages: Insufficient funds",
        REJECTED,
        "Insufficient funds",
    ),
    # Vanguard (threaded)
    (
        "vanguard",
        True,
        "Vanguard 1 buying 1.0 AAPL @ market\nRunning in DRY mode. No transactions will be made.\nVanguard 1 account xxxx5555: The order verification was successful\nAll Vanguard transactions complete",
        DRY,
        "successful",
    ),
    (
        "vanguard",
        False,
        "Vanguard 1 buying 1.0 AAPL @ market\nMarket order failed placing limit order.\nVanguard 1 account xxxx5555: The order verification was unsuccessful",
        REJECTED,
        "unsuccessful",
    ),
    # Fidelity (threaded, no "All ... complete")
    ("fidelity", True, "DRY: Fidelity 1 account xxxx6666: buy 1.0 shares of AAPL", DRY, "DRY"),
    (
        "fidelity",
        False,
        "Fidelity 1 account xxxx6666: buy 1.0 shares of AAPL",
        FILLED,
        "shares of AAPL",
    ),
    (
        "fidelity",
        False,
        "Fidelity 1 account xxxx6666: Error: Order rejected",
        REJECTED,
        "Order rejected",
    ),
    # Wells Fargo
    ("wellsfargo", True, "DRY: WELLSFARGO 1 account xxxx1212: buy 1.0 shares of AAPL", DRY, "DRY"),
    ("wellsfargo", False, "WELLSFARGO 1 xxxx1212: buy 1.0 shares of AAPL", FILLED, "shares"),
    (
        "wellsfargo",
        False,
        "WELLSFARGO 1 xxxx1212: buy 1.0 shares of AAPL. FAILED! \nOrder cannot be placed",
        REJECTED,
        "FAILED!",
    ),
    # Tornado
    (
        "tornado",
        True,
        "DRY MODE: Simulated order BUY for 1 shares of AAPL at 150.00",
        DRY,
        "Simulated",
    ),
    (
        "tornado",
        False,
        "Tornado account: buy 1 shares of AAPL at 150.00",
        FILLED,
        "Tornado account",
    ),
    (
        "tornado",
        False,
        "Tornado 1: buying 1.0 of AAPL\nTornado could not find the buy button",
        UNKNOWN,
        "buy button",
    ),
]


@pytest.mark.parametrize(("brokerage", "dry_run", "body", "status", "fragment"), CASES)
def test_parse_trade_result_lines(brokerage, dry_run, body, status, fragment) -> None:
    result = one(brokerage, body, dry_run=dry_run)
    assert result.status is status, result.detail
    assert fragment in result.detail
    assert result.symbol == "AAPL"
    assert result.quantity == "1"


def test_dry_line_in_live_run_is_not_success() -> None:
    body = "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001: Running in DRY mode. Trasaction would've been: buy 1.0 of AAPL"
    assert one("tradier", body, dry_run=False).status is FAILED


def test_live_line_in_dry_run_is_unknown() -> None:
    assert one("public", "buy 1.0 of AAPL in xxxx2222: Success", dry_run=True).status is UNKNOWN


def test_results_per_symbol_follow_the_pre_order_context() -> None:
    body = (
        banner("Firstrade")
        + "Firstrade 1 buying 1.0 AAPL @ market\n"
        + "Firstrade 1 account xxxx1111: The order verification was successful\n"
        + "Firstrade 1 buying 1.0 MSFT @ market\n"
        + "Firstrade 1 account xxxx1111: The sell order verification was unsuccessful\n"
        + "All Firstrade transactions complete"
    )
    results = parse("firstrade", outcome(body), dry_run=False, symbols=("AAPL", "MSFT"))
    assert [(r.symbol, r.status) for r in results] == [("AAPL", FILLED), ("MSFT", REJECTED)]


def test_several_real_accounts_behind_one_entry_are_merged() -> None:
    body = (
        banner("Robinhood")
        + "Robinhood 1: buying 1.0 of AAPL\n"
        + "Robinhood 1: buy 1.0 of AAPL in xxxx1111: Success\n"
        + "Robinhood 1: buy 1.0 of AAPL in xxxx2222: Not enough buying power\n"
    )
    result = parse("robinhood", outcome(body), dry_run=False)[0]
    assert result.status is FILLED  # money moved in one account: never hidden
    assert "xxxx1111" in result.detail and "Not enough buying power" in result.detail


# --- section 5 quirks and abnormal ends -------------------------------------------


def test_quirk1_false_logged_in_with_zero_account_lines_is_failed() -> None:
    body = (
        "Error making request to Tradier API /user/profile: Invalid Access Token\n"
        "Response: <Response [401]>\n"
        "Logged in to Tradier!\n" + banner("Tradier") + "All Tradier transactions complete"
    )
    result = parse("tradier", outcome(body), dry_run=False)[0]
    assert result.status is FAILED
    assert "never reached the order step" in result.detail
    assert "Invalid Access Token" in result.detail


def test_zero_lines_without_any_reason_is_failed() -> None:
    body = "Logged into BBAE!\n" + banner("BBAE") + "All Bbae transactions complete"
    result = parse("bbae", outcome(body), dry_run=False)[0]
    assert result.status is FAILED
    assert "printed no line" in result.detail


def test_init_style_broker_failure_error_with_line() -> None:
    body = (
        "Error: Unable to log in to Robinhood: 400 Client Error for url\n"
        "Traceback (most recent call last):\nException: Error in robinhood: Function did not complete successfully\n"
        "Error with robinhood: Error in robinhood: Function did not complete successfully\n"
        "Self: robinhood\n  Login: 'alice.smith:hunter22!'\nLogged In: {}"
    )
    result = parse("robinhood", outcome(body), dry_run=False, secrets=("alice.smith", "hunter22!"))[
        0
    ]
    assert result.status is FAILED
    assert "Unable to log in to Robinhood" in result.detail
    assert "hunter22" not in result.detail


def test_threaded_login_failure_without_error_with_line() -> None:
    body = "Error logging in to Chase: could not find a valid browser binary"
    result = parse("chase", outcome(body), dry_run=False)[0]
    assert result.status is FAILED
    assert "Error logging in to Chase" in result.detail
    assert "no browser" in result.detail


def test_fidelity_missing_browser_hint() -> None:
    body = "Error logging in to Fidelity: BrowserType.launch: Executable doesn't exist at ~/.cache/ms-playwright/firefox-1482/firefox"
    result = parse("fidelity", outcome(body), dry_run=True)[0]
    assert result.status is FAILED and "install Firefox" in result.detail


def test_missing_variable_line_is_failed() -> None:
    body = "Tradier not found, skipping...\nError with tradier: Error in tradier: Function did not complete successfully"
    result = parse("tradier", outcome(body), dry_run=True)[0]
    assert result.status is FAILED
    assert "did not receive the credentials" in result.detail


def test_otp_prompt_on_closed_stdin_is_failed_with_2fa_hint() -> None:
    body = "Enter code: Error logging in to Firstrade: EOF when reading a line"
    result = parse("firstrade", outcome(body), dry_run=False)[0]
    assert result.status is FAILED and "2FA" in result.detail


def test_tradier_network_down_bug() -> None:
    body = "Error with tradier: cannot access local variable 'response' where it is not associated with a value"
    result = parse("tradier", outcome(body), dry_run=False)[0]
    assert result.status is FAILED and "could not be reached" in result.detail


def test_broker_error_after_order_banner_in_live_run_is_unknown() -> None:
    body = (
        banner("Tradier")
        + "Error with tradier: cannot access local variable 'response' where it is not associated with a value"
    )
    assert parse("tradier", outcome(body), dry_run=False)[0].status is UNKNOWN


def test_sofi_bug_is_failed_with_explanation() -> None:
    body = (
        "Error with sofi: Error in sofi: Function did not complete successfully: "
        "sofi_run() missing 1 required positional argument: 'command'"
    )
    result = parse("sofi", outcome(body), dry_run=False)[0]
    assert result.status is FAILED and result.detail == SOFI_BUG


# Every start-up failure the diagnosis knows (reference 1.1, 1.2, 1.3, 4.5): the text
# AutoRSA prints, and a fragment of its explanation.
STARTUP_FAILURES = [
    pytest.param(
        "Traceback (most recent call last):\nrequests.exceptions.ConnectionError: "
        "HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded with url: "
        "/pypi/auto_rsa_bot/json",
        "pypi.org",
        id="pypi-unreachable",
    ),
    pytest.param(
        "Traceback (most recent call last):\nValueError: Brokers must be set",
        "brokerage name",
        id="brokers-must-be-set",
    ),
    pytest.param(
        "Traceback (most recent call last):\nValueError: could not convert string to float: 'x'",
        "amount",
        id="float-conversion",
    ),
    pytest.param("No arguments given, see README for usage", "without arguments", id="no-args"),
    pytest.param(
        "Otherwise, press ctrl+c to exitAborted.\nAborted.", "confirmation prompt", id="aborted"
    ),
    pytest.param(
        "Error importing libraries: No module named 'robin_stocks'", "installation", id="import"
    ),
    pytest.param(
        "Traceback (most recent call last):\nIndexError: list index out of range",
        "arguments",
        id="index-error",
    ),
]
# How a trade run shows that its order step began (reference 4.3): the broker's banner,
# or a "<key>: buying <amt> of <SYM>" line.
ORDER_STEP_STARTS = [
    pytest.param(banner("Robinhood"), id="banner"),
    pytest.param("Robinhood 1: buying 1.0 of AAPL\n", id="buying-line"),
    pytest.param(banner("Robinhood") + "Robinhood 1: buying 1.0 of AAPL\n", id="both"),
]


@pytest.mark.parametrize(("stderr", "fragment"), STARTUP_FAILURES)
def test_startup_failures_exit_1_are_failed(stderr: str, fragment: str) -> None:
    for dry_run in (True, False):
        result = parse("robinhood", outcome(stderr, rc=1, end=False), dry_run=dry_run)[0]
        assert result.status is FAILED, result.detail
        assert fragment in result.detail
        assert "nothing was placed" in result.detail


@pytest.mark.parametrize("start", ORDER_STEP_STARTS)
@pytest.mark.parametrize(("stderr", "fragment"), STARTUP_FAILURES)
def test_startup_failure_text_after_order_step_in_live_run_is_unknown(
    stderr: str, fragment: str, start: str
) -> None:
    # Issue 7, hole 4: the text only means "nothing was placed" before any order step.
    result = parse("robinhood", outcome(start + stderr, rc=1, end=False), dry_run=False)[0]
    assert result.status is UNKNOWN, result.detail
    assert "check the brokerage before retrying" in result.detail
    assert "nothing was placed" not in result.detail


@pytest.mark.parametrize("start", ORDER_STEP_STARTS)
@pytest.mark.parametrize(("stderr", "fragment"), STARTUP_FAILURES)
def test_startup_failure_text_after_order_step_in_dry_run_is_failed(
    stderr: str, fragment: str, start: str
) -> None:
    # A dry run never places (reference 1.2, DRY flag): a crash after its order step
    # began is a failed check, safe to retry; but it was no start-up failure.
    result = parse("robinhood", outcome(start + stderr, rc=1, end=False), dry_run=True)[0]
    assert result.status is FAILED, result.detail
    assert "dry run" in result.detail and "after its order step began" in result.detail
    assert "nothing was placed" not in result.detail  # no start-up explanation


def test_crash_after_order_step_keeps_results_already_printed() -> None:
    def crashed_after(first_result: str) -> RunOutcome:
        body = (
            banner("Tradier")
            + f"Tradier 1: buying 1.0 of AAPL\n{first_result}\n"
            + "Tradier 1: buying 1.0 of MSFT\n"
            + "Traceback (most recent call last):\nIndexError: list index out of range"
        )
        return outcome(body, rc=1, end=False)

    out = crashed_after("Tradier account xxxx0001: buy 1.0 of AAPL: ok")
    live = parse("tradier", out, dry_run=False, symbols=("AAPL", "MSFT", "TSLA"))
    assert [(r.symbol, r.status) for r in live] == [
        ("AAPL", FILLED),
        ("MSFT", UNKNOWN),
        ("TSLA", UNKNOWN),  # its order step may have come right after MSFT's
    ]
    assert all("check the brokerage before retrying" in r.detail for r in live[1:])
    out = crashed_after(
        "Tradier account xxxx0001: Running in DRY mode. Trasaction would've been: buy 1.0 of AAPL"
    )
    dry = parse("tradier", out, dry_run=True, symbols=("AAPL", "MSFT"))
    assert [(r.symbol, r.status) for r in dry] == [("AAPL", DRY), ("MSFT", FAILED)]


def test_startup_failure_rule_ignores_output_after_dropped_middle() -> None:
    # The runner keeps only the start and the end of a huge output; an order step
    # may hide in the dropped middle.
    body = (
        "Logged in to Robinhood 1\n[... 4096 bytes of output dropped ...]\n"
        "Traceback (most recent call last):\nIndexError: list index out of range"
    )
    result = parse("robinhood", outcome(body, rc=1, end=False), dry_run=False)[0]
    assert result.status is UNKNOWN, result.detail


def test_exit_code_zero_is_not_success_on_its_own() -> None:
    result = parse("webull", outcome("Logged in to Webull!"), dry_run=False)[0]
    assert result.status is FAILED


def test_garbage_after_order_step_is_unknown_and_scrubbed() -> None:
    body = (
        banner("Webull")
        + "Webull 1: buying 1.0 of AAPL\n@@ weird state for 5QR12345 token=s3cr3tTok\n"
    )
    result = parse("webull", outcome(body), dry_run=False, secrets=("s3cr3tTok",))[0]
    assert result.status is UNKNOWN
    assert "weird state" in result.detail
    assert "s3cr3tTok" not in result.detail and "5QR12345" not in result.detail
    assert "check the brokerage" in result.detail


def test_garbage_in_dry_run_is_unknown_never_success() -> None:
    body = banner("Webull") + "Webull 1: buying 1.0 of AAPL\n<html>oops</html>"
    result = parse("webull", outcome(body), dry_run=True)[0]
    assert result.status is UNKNOWN


def test_pre_order_line_without_result_is_unknown() -> None:
    body = banner("Tradier") + "Tradier 1: buying 1.0 of AAPL\nAll Tradier transactions complete"
    assert parse("tradier", outcome(body), dry_run=False)[0].status is UNKNOWN


def test_timeout_is_unknown_for_orders() -> None:
    out = outcome("Logging in to Robinhood...", rc=-9, timed_out=True, end=False)
    live = parse("robinhood", out, dry_run=False)[0]
    assert live.status is UNKNOWN
    assert live.detail == (
        "timed out after 2s: the order may have reached robinhood; check the brokerage before retrying"
    )
    dry = parse("robinhood", out, dry_run=True)[0]
    assert dry.status is UNKNOWN and "dry run" in dry.detail


def test_timeout_keeps_results_already_printed() -> None:
    body = (
        banner("Tradier")
        + "Tradier 1: buying 1.0 of AAPL\nTradier account xxxx0001: buy 1.0 of AAPL: ok\nTradier 1: buying 1.0 of MSFT"
    )
    results = parse(
        "tradier",
        outcome(body, rc=-9, timed_out=True, end=False),
        dry_run=False,
        symbols=("AAPL", "MSFT"),
    )
    assert [(r.symbol, r.status) for r in results] == [("AAPL", FILLED), ("MSFT", UNKNOWN)]


def test_live_run_killed_by_signal_is_unknown() -> None:
    out = outcome("Logged in to Webull!", rc=-15, end=False)
    assert parse("webull", out, dry_run=False)[0].status is UNKNOWN


def test_dry_run_crash_before_order_step_is_failed() -> None:
    out = outcome("Logged in to Webull!\nSegmentation fault", rc=139, end=False)
    result = parse("webull", out, dry_run=True)[0]
    assert result.status is FAILED and "abnormally" in result.detail


def test_not_started_is_failed() -> None:
    out = RunOutcome(started=False, problem="AutoRSA was not found: AUTORSA_BIN='/nope'")
    result = parse("tradier", out, dry_run=False)[0]
    assert result.status is FAILED and "AUTORSA_BIN" in result.detail
