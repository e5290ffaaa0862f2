"""Holdings block parsing (reference 4.2)."""

from __future__ import annotations

from brokers.autorsa.holdings import parse_holdings
from brokers.autorsa.runner import RunOutcome
from brokers.autorsa.scrub import Scrubber
from brokers.base import Position

BLOCK = """Running bot from command line
Logged in to Robinhood 1
==============================
Robinhood Holdings
==============================
Robinhood 1 (xxxx1234)
AAPL: 2.0 @ $150.25 = $300.50
MSFT: 0.5 @ $400.00 = $200.00
Total: $1000.00

Robinhood 1 (5QR99887)
AAPL: 1.0 @ $150.25 = $150.25
Total: $234.56

==============================
Total Value of Robinhood Accounts: $1234.56
Combined Total Value Across Brokers: $1234.56
All commands complete in all brokers
"""


def read(
    text: str, *, rc: int = 0, timed_out: bool = False, brokerage="robinhood", label="Robinhood"
):
    outcome = RunOutcome(started=True, returncode=rc, timed_out=timed_out, output=text, timeout=3)
    return parse_holdings(
        outcome, brokerage=brokerage, label=label, account="a1", scrub=Scrubber(["hunter22"])
    )


def test_holdings_block_merges_real_accounts_and_masks_numbers() -> None:
    reading = read(BLOCK)
    assert reading.ok
    holdings = reading.holdings
    assert holdings.account == "a1" and holdings.brokerage == "robinhood"
    assert holdings.masked_numbers == ["xxxx1234", "xxxx9887"]
    assert holdings.total == "1234.56"
    assert holdings.positions == [
        Position(symbol="AAPL", quantity="3.0", price="150.25", value="450.75"),
        Position(symbol="MSFT", quantity="0.5", price="400.00", value="200.00"),
    ]


def test_holdings_no_positions() -> None:
    text = (
        "==============================\nVANGUARD Holdings\n==============================\n"
        "Vanguard 1 (xxxx4444)\nNo holdings in Account\nTotal: $0.00\n\n"
        "==============================\nAll commands complete in all brokers\n"
    )
    reading = read(text, brokerage="vanguard", label="Vanguard")
    assert reading.ok
    assert reading.holdings.positions == [] and reading.holdings.total == "0.00"


def test_holdings_false_login_with_empty_block_is_failure() -> None:
    text = (
        "Error making request to Tradier API /user/profile: Invalid Access Token hunter22\n"
        "Logged in to Tradier!\n"
        "==============================\nTradier Holdings\n==============================\n"
        "==============================\nAll commands complete in all brokers\n"
    )
    reading = read(text, brokerage="tradier", label="Tradier")
    assert not reading.ok
    assert "Invalid Access Token" in reading.error and "hunter22" not in reading.error


def test_holdings_timeout_is_failure() -> None:
    reading = read("Logging in...", rc=-9, timed_out=True)
    assert not reading.ok and "timed out after 3s" in reading.error


def test_holdings_pypi_down_is_failure() -> None:
    text = (
        "Traceback (most recent call last):\nConnectionError: HTTPSConnectionPool(host='pypi.org')"
    )
    reading = read(text, rc=1)
    assert not reading.ok and "pypi.org" in reading.error
