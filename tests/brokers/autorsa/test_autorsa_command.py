"""argv building: the live token appears only for an explicit dry_run=False."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from brokers.autorsa import command
from brokers.autorsa.command import (
    build_holdings_argv,
    build_trade_argv,
    format_amount,
    live_flag,
)
from core.models import OrderAction


def test_build_trade_argv_dry_by_default_has_no_live_token() -> None:
    argv = build_trade_argv(
        "/bin/rsa", OrderAction.BUY, Decimal("1"), ["AAPL", "msft"], "robinhood", dry_run=True
    )
    assert argv == ["/bin/rsa", "buy", "1", "AAPL,MSFT", "robinhood"]


def test_build_trade_argv_live_only_when_dry_run_is_false() -> None:
    argv = build_trade_argv(
        "rsa", OrderAction.SELL, Decimal("2"), ["AAPL"], "tradier", dry_run=False
    )
    assert argv == ["rsa", "sell", "2", "AAPL", "tradier", "false"]
    assert argv[-1] == live_flag()


@pytest.mark.parametrize("dry_run", [True, None, 0, "", "false", "False"])
def test_build_trade_argv_anything_but_false_stays_dry(dry_run) -> None:
    argv = build_trade_argv(
        "rsa", OrderAction.BUY, Decimal("1"), ["AAPL"], "tradier", dry_run=dry_run
    )
    assert argv[-1] == "tradier"
    assert "false" not in argv


def test_live_token_is_written_in_exactly_one_place() -> None:
    source = Path(command.__file__).read_text()
    literals = [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value == "false"
    ]
    assert len(literals) == 1
    package = Path(command.__file__).parent
    # scrub.py lists "false" among placeholder values it never treats as secrets.
    for module in package.glob("*.py"):
        if module.name in ("command.py", "scrub.py"):
            continue
        tree = ast.parse(module.read_text())
        assert not any(
            isinstance(node, ast.Constant) and node.value == "false" for node in ast.walk(tree)
        ), module.name


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (Decimal("1"), "1"),
        (Decimal("1.0"), "1"),
        (Decimal("0.50"), "0.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.25E-2"), "0.0125"),
        (Decimal("10"), "10"),
    ],
)
def test_format_amount_plain_decimal_without_exponent(quantity: Decimal, text: str) -> None:
    assert format_amount(quantity) == text


@pytest.mark.parametrize(
    "quantity", [Decimal("0"), Decimal("-1"), Decimal("Infinity"), Decimal("NaN")]
)
def test_format_amount_rejects_non_positive_or_non_finite(quantity: Decimal) -> None:
    with pytest.raises(ValueError):
        format_amount(quantity)


@pytest.mark.parametrize("symbols", [[], ["AA PL"], ["AAPL,MSFT"], [" "]])
def test_build_trade_argv_rejects_bad_symbols(symbols) -> None:
    with pytest.raises(ValueError):
        build_trade_argv("rsa", OrderAction.BUY, Decimal("1"), symbols, "tradier", dry_run=True)


def test_build_trade_argv_only_buy_or_sell() -> None:
    with pytest.raises(ValueError):
        build_trade_argv("rsa", "hold", Decimal("1"), ["AAPL"], "tradier", dry_run=True)


def test_build_holdings_argv() -> None:
    assert build_holdings_argv("rsa", "schwab") == ["rsa", "holdings", "schwab"]
    with pytest.raises(ValueError):
        build_holdings_argv("rsa", "all not")
