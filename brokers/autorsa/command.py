"""The AutoRSA command lines tradefleet runs.

AutoRSA parses its arguments by position (reference, section 1.2):
``buy|sell <amount> <tickers> <brokers> [<dry>]`` and ``holdings <brokers>``.
Its run is DRY unless the **last** token is exactly ``false``, so the token that
makes a run live is produced in one place only, :func:`live_flag`, and only
:func:`build_trade_argv` calls it, and only when ``dry_run is False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from core.models import OrderAction

# The only token AutoRSA reads as "place real orders" (any case; we use lower).
_LIVE_TOKEN = "false"


def live_flag() -> str:
    """The final argv token that turns an AutoRSA trade from DRY into LIVE.

    This is the single place the token exists in tradefleet. Anything else as
    the last token (or no token) keeps AutoRSA in DRY mode.
    """
    return _LIVE_TOKEN


def format_amount(quantity: Decimal) -> str:
    """Format a share quantity the way AutoRSA's ``float()`` accepts it.

    Args:
        quantity: shares per account and symbol; must be finite and positive.

    Returns:
        Plain decimal notation without exponent or trailing zeros, e.g.
        ``Decimal("1E+1")`` → ``"10"``, ``Decimal("0.50")`` → ``"0.5"``.

    Raises:
        ValueError: the quantity is not a finite positive number. AutoRSA itself
            would accept ``-1``, ``inf`` or ``1e3``; we never pass those.
    """
    try:
        value = Decimal(quantity)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"quantity must be a decimal number, got {quantity!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"quantity must be a finite positive number, got {quantity}")
    text = format(value.normalize(), "f")
    return text


def format_symbols(symbols: Sequence[str]) -> str:
    """Join tickers into AutoRSA's comma list (upper-cased, order kept, no blanks).

    Raises:
        ValueError: no symbol, or a symbol AutoRSA would split or misparse
            (a comma or whitespace inside it).
    """
    cleaned = []
    for symbol in symbols:
        text = symbol.strip().upper()
        if not text or "," in text or any(ch.isspace() for ch in text):
            raise ValueError(f"invalid ticker symbol {symbol!r}")
        if text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise ValueError("at least one ticker symbol is needed")
    return ",".join(cleaned)


def build_trade_argv(
    autorsa_bin: str,
    action: OrderAction,
    quantity: Decimal,
    symbols: Sequence[str],
    brokerage: str,
    *,
    dry_run: bool,
) -> list[str]:
    """The argv of one market-order run of AutoRSA for one brokerage.

    Args:
        autorsa_bin: path (or name on PATH) of the ``auto_rsa_bot`` executable.
        action: buy or sell; AutoRSA silently accepts any other word with an
            empty action, so only the enum is accepted here.
        quantity: shares per account and symbol.
        symbols: tickers to trade.
        brokerage: the AutoRSA CLI name, e.g. ``robinhood``.
        dry_run: keyword-only and compared with ``is False``: only an explicit
            ``False`` adds the live token; ``True``, ``None`` or anything else
            keeps the run DRY.

    Returns:
        e.g. ``[bin, "buy", "1", "AAPL,MSFT", "robinhood"]`` (dry) or the same
        plus ``"false"`` (live).
    """
    action = OrderAction(action)
    if not brokerage or not brokerage.isalnum():
        raise ValueError(f"invalid brokerage name {brokerage!r}")
    argv = [
        autorsa_bin,
        action.value,
        format_amount(quantity),
        format_symbols(symbols),
        brokerage.lower(),
    ]
    if dry_run is False:
        argv.append(live_flag())
    return argv


def build_holdings_argv(autorsa_bin: str, brokerage: str) -> list[str]:
    """The argv that logs in to ``brokerage`` and prints its holdings.

    Used for holdings and for activation (a successful holdings run proves the
    credentials work). AutoRSA never places orders in this mode.
    """
    if not brokerage or not brokerage.isalnum():
        raise ValueError(f"invalid brokerage name {brokerage!r}")
    return [autorsa_bin, "holdings", brokerage.lower()]
