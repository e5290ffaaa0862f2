"""The paper brokerage: a simulated broker whose ledgers live in Redis.

Semantics:

* Each account has cash (``starting_cash`` credential, else the
  ``TRADEFLEET_PAPER_STARTING_CASH`` setting) and positions per symbol.
* A **market** order fills completely at the symbol's last quote (``PUT
  /api/v1/market-data/<symbol>``, or beat's market-data provider); with no
  quote, or one older than ``QUOTE_MAX_AGE``, any order is rejected.
* A **limit** order is immediate-or-cancel: a buy fills at the last quote when
  the quote is at or below the limit, a sell when it is at or above it;
  otherwise it is rejected and nothing rests on the book.
* Buying beyond cash, or selling more than is held, is rejected with the
  reason. There is no shorting, margin, commission or partial fill.
* Every fill is recorded (time, job, symbol, side, quantity, price). A fill is
  keyed by ``(job, symbol)`` per account, so the ledger itself refuses to fill
  the same order twice whatever happens upstream.
* A leg's orders are checked and applied in one atomic step per batch of
  accounts (``brokers.paper_ledger``), except with the fault-test
  ``TRADEFLEET_PAPER_DELAY``, which applies them one by one, slowly.
"""

from __future__ import annotations

import time
from decimal import Decimal

import redis

from brokers.base import AccountHoldings, BrokerAccount, BrokerTraits, Position
from brokers.paper_ledger import Fill, OrderLine, OrderRefused, PaperLedger
from core import money
from core.models import LegResult, OrderAction, OrderRequest, OrderType, ResultStatus
from core.quotes import QuoteBook

__all__ = ["NAME", "Fill", "OrderRefused", "PaperBroker", "PaperLedger"]

NAME = "paper"


class PaperBroker:
    """The ``paper`` brokerage adapter (touches only Redis, so its legs run inline)."""

    name = NAME
    traits = BrokerTraits(
        runs_inline=True,
        keeps_ledger=True,
        keeps_worker_state=False,
        trades_with_credentials=False,
    )

    def __init__(
        self,
        connection: redis.Redis,
        group: str,
        *,
        default_starting_cash: Decimal,
        delay: float = 0.0,
        quote_max_age: float = 900.0,
    ) -> None:
        self.group = group
        self.ledger = PaperLedger(connection)
        self.quotes = QuoteBook(connection)
        self.default_starting_cash = default_starting_cash
        self.delay = delay
        self.quote_max_age = quote_max_age

    def account_time_bound(self, order: OrderRequest | None = None) -> float:
        """Redis only: a second is generous (plus the fault-test ``delay`` per order)."""
        return 1.0 + self.delay

    def activate(self, account: BrokerAccount, *, job_id: str = "") -> LegResult:
        wanted = Decimal(
            str(account.credentials.get("starting_cash") or self.default_starting_cash)
        )
        cash = self.ledger.open(self.group, account.name, wanted)
        return _result(account, ResultStatus.OK, f"paper account open with {_money(cash)} cash")

    def deactivate(self, account: BrokerAccount) -> LegResult:
        return _result(account, ResultStatus.OK, "paper account deactivated; its ledger is kept")

    def place_orders(
        self,
        job_id: str,
        order: OrderRequest,
        accounts: list[BrokerAccount],
        *,
        deadline: float | None = None,
    ) -> list[LegResult]:
        """One result per account and symbol; the ledger applies them in one atomic step.

        A sell of everything sells what each account holds of each symbol, read just
        before the batch is applied (the group's run order keeps anything else from
        changing it in between; the ledger refuses a sell beyond what is held); an
        account holding none is ``skipped``.
        """
        quotes = {symbol: self.quotes.find(symbol) for symbol in order.symbols}
        held = (
            self.ledger.held_many(self.group, [a.name for a in accounts], order.symbols)
            if order.sell_all
            else {}
        )
        results: list[LegResult | None] = []
        lines: list[tuple[int, OrderLine]] = []
        for account in accounts:
            for symbol in order.symbols:
                quantity = held.get((account.name, symbol), Decimal(0))
                if order.sell_all and quantity <= 0:
                    results.append(
                        LegResult.for_order(
                            account.name,
                            NAME,
                            order,
                            symbol,
                            ResultStatus.SKIPPED,
                            f"holds no {symbol}: nothing to sell",
                            quantity=Decimal(0),
                        )
                    )
                    continue
                refusal = _refusal(order, symbol, quotes[symbol], self.quote_max_age)
                if refusal:
                    results.append(
                        LegResult.for_order(
                            account.name, NAME, order, symbol, ResultStatus.REJECTED, refusal
                        )
                    )
                    continue
                line = OrderLine(
                    account.name,
                    symbol,
                    order.action,
                    quantity if order.sell_all else order.quantity,
                    quotes[symbol].price,
                )
                lines.append((len(results), line))
                results.append(None)
        for (position, line), outcome in zip(lines, self._apply(job_id, order, lines), strict=True):
            results[position] = _outcome_result(order, line, outcome)
        return results

    def _apply(
        self, job_id: str, order: OrderRequest, lines: list[tuple[int, OrderLine]]
    ) -> list[Fill | OrderRefused]:
        batch = [line for _position, line in lines]
        if not self.delay:
            return self.ledger.fill_many(self.group, job_id, batch, check_only=order.dry_run)
        outcomes = []
        for line in batch:  # fault tests: one slow order at a time, to widen the windows
            time.sleep(self.delay)
            outcomes += self.ledger.fill_many(self.group, job_id, [line], check_only=order.dry_run)
        return outcomes

    def reconcile(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        """Settle an interrupted leg: the ledger's fill ids say exactly what was filled.

        A ``(job, symbol)`` fill already in the ledger is reported as it was
        recorded; one that is not there was never applied (fills are atomic), so
        it is placed now, and the ledger still refuses a second fill.
        """
        settled: dict[tuple[str, str], LegResult] = {}
        for account in accounts:
            for symbol in order.symbols:
                fill = self.ledger.find_fill(self.group, account.name, f"{job_id}|{symbol}")
                if fill is not None:
                    settled[account.name, symbol] = _filled(account.name, order, fill, True)
        unsettled = [a for a in accounts if any((a.name, s) not in settled for s in order.symbols)]
        for result in self.place_orders(job_id, order, unsettled):
            settled.setdefault((result.account, result.symbol), result)
        return [settled[a.name, s] for a in accounts for s in order.symbols]

    def holdings(
        self, accounts: list[BrokerAccount], *, job_id: str = ""
    ) -> tuple[list[AccountHoldings], list[LegResult]]:
        found, results = [], []
        for account in accounts:
            found.append(self.account_holdings(account.name))
            results.append(_result(account, ResultStatus.OK, "paper ledger read"))
        return found, results

    def account_holdings(self, account: str) -> AccountHoldings:
        """Positions valued at the last quote (``price``/``value`` empty without one)."""
        positions = []
        total = cash = self.ledger.cash(self.group, account)
        for symbol, quantity in self.ledger.positions(self.group, account).items():
            quote = self.quotes.find(symbol)
            value = quantity * quote.price if quote else None
            total += value or 0
            positions.append(
                Position(
                    symbol=symbol,
                    quantity=money.format_decimal(quantity),
                    price=money.format_price(quote.price) if quote else None,
                    value=_money(value) if value is not None else None,
                )
            )
        return AccountHoldings(
            account=account,
            brokerage=NAME,
            positions=positions,
            cash=_money(cash),
            total=_money(total),
        )


def _refusal(order: OrderRequest, symbol: str, quote, max_age: float = 900.0) -> str:
    """Why the order of ``symbol`` cannot go to the ledger at all ("" when it can)."""
    if quote is None:
        return f"no quote for {symbol}: set one with PUT /api/v1/market-data/{symbol}"
    # A limit order too: whether its limit is crossed now cannot be read off an old quote.
    if quote.age() > max_age:
        return (
            f"stale quote for {symbol}: the last one ({money.format_price(quote.price)} from"
            f" {quote.source}) is {quote.age():.0f}s old, older than QUOTE_MAX_AGE ({max_age:g}s);"
            f" add {symbol} to the watchlist or set one with PUT /api/v1/market-data/{symbol}"
        )
    if order.order_type is OrderType.LIMIT and not _limit_crossed(order, quote.price):
        side = "above" if order.action is OrderAction.BUY else "below"
        return (
            f"limit not reached: last quote {money.format_price(quote.price)} is {side}"
            f" the limit {money.format_price(order.limit_price)}"
            " (paper limit orders are immediate-or-cancel)"
        )
    return ""


def _outcome_result(order: OrderRequest, line: OrderLine, outcome) -> LegResult:
    if isinstance(outcome, OrderRefused):
        return LegResult.for_order(
            line.account,
            NAME,
            order,
            line.symbol,
            ResultStatus.REJECTED,
            str(outcome),
            quantity=line.quantity,
        )
    if order.dry_run:
        return LegResult.for_order(
            line.account,
            NAME,
            order,
            line.symbol,
            ResultStatus.DRY_RUN,
            f"dry run: would {order.action.value} {money.format_decimal(line.quantity)}"
            f" {line.symbol} at {money.format_price(line.price)}",
            price=line.price,
            quantity=line.quantity,
        )
    return _filled(line.account, order, outcome)


def _filled(account: str, order: OrderRequest, fill: Fill, reconciled: bool = False) -> LegResult:
    detail = f"{fill.side} {fill.quantity} {fill.symbol} filled at {fill.price}"
    if reconciled:
        detail += " (read back from the paper ledger after an interrupted run)"
    return LegResult.for_order(
        account,
        NAME,
        order,
        fill.symbol,
        ResultStatus.FILLED,
        detail,
        price=Decimal(fill.price),
        quantity=Decimal(fill.quantity),
    )


def _limit_crossed(order: OrderRequest, price: Decimal) -> bool:
    if order.action is OrderAction.BUY:
        return price <= order.limit_price
    return price >= order.limit_price


def _money(amount: Decimal) -> str:
    return money.format_cash(amount)


def _result(account: BrokerAccount, status: ResultStatus, detail: str) -> LegResult:
    return LegResult(account=account.name, brokerage=NAME, status=status, detail=detail)
