"""The paper brokerage: a simulated broker whose ledgers live in Redis.

Semantics:

* Each account has cash (``starting_cash`` credential, else the
  ``TRADEFLEET_PAPER_STARTING_CASH`` setting) and positions per symbol.
* A **market** order fills completely at the symbol's last quote (``PUT
  /api/v1/market-data/<symbol>``); with no quote it is rejected.
* A **limit** order is immediate-or-cancel: a buy fills at the last quote when
  the quote is at or below the limit, a sell when it is at or above it;
  otherwise it is rejected and nothing rests on the book.
* Buying beyond cash, or selling more than is held, is rejected with the
  reason. There is no shorting, margin, commission or partial fill.
* Every fill is recorded (time, job, symbol, side, quantity, price). A fill is
  keyed by ``(job, symbol)`` per account, so the ledger itself refuses to fill
  the same order twice whatever happens upstream.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from decimal import Decimal

import redis

from brokers.base import AccountHoldings, BrokerAccount, BrokerTraits, Position
from core import keys, money
from core.models import (
    LegResult,
    OrderAction,
    OrderRequest,
    OrderType,
    ResultStatus,
    to_iso,
    utcnow,
)
from core.quotes import QuoteBook

NAME = "paper"


@dataclass(frozen=True)
class Fill:
    fill_id: str
    job_id: str
    symbol: str
    side: str
    quantity: str
    price: str
    at: str


class OrderRefused(Exception):
    """The ledger refuses the order; the message says why (shown to the user)."""


class PaperLedger:
    """Cash, positions and fills of paper accounts, changed atomically.

    Numbers follow ``core.money``: cash is whole cents (a buy's cost rounds up,
    a sell's proceeds round down, so the ledger never credits money that did
    not exist), positions are exact (quantities have at most 6 places), and an
    order finer than the rules (a quantity of ``1E-31``) is refused rather than
    rounded away. Everything is stored in plain notation, never ``1E-7``.
    """

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def open(self, group: str, account: str, starting_cash: Decimal) -> Decimal:
        """Open the account unless it is open; returns its cash.

        ``starting_cash`` is kept to the cent, rounded down.
        """
        cash = money.format_cash(money.round_cash_proceeds(starting_cash))
        self.connection.hsetnx(keys.paper_account(group, account), "cash", cash)
        return self.cash(group, account)

    def cash(self, group: str, account: str) -> Decimal:
        return Decimal(self.connection.hget(keys.paper_account(group, account), "cash") or "0")

    def positions(self, group: str, account: str) -> dict[str, Decimal]:
        raw = self.connection.hgetall(keys.paper_positions(group, account))
        return {symbol: Decimal(qty) for symbol, qty in sorted(raw.items()) if Decimal(qty) != 0}

    def fills(self, group: str, account: str) -> list[Fill]:
        return [
            Fill(**json.loads(f))
            for f in self.connection.lrange(keys.paper_fills(group, account), 0, -1)
        ]

    def find_fill(self, group: str, account: str, fill_id: str) -> Fill | None:
        return next((f for f in self.fills(group, account) if f.fill_id == fill_id), None)

    def check(
        self,
        group: str,
        account: str,
        action: OrderAction,
        symbol: str,
        quantity: Decimal,
        price: Decimal,
    ) -> None:
        """Raise :class:`OrderRefused` when the order cannot be filled now."""
        self._check(self.connection, group, account, action, symbol, quantity, price)

    def fill(
        self,
        group: str,
        account: str,
        *,
        job_id: str,
        action: OrderAction,
        symbol: str,
        quantity: Decimal,
        price: Decimal,
    ) -> Fill:
        """Apply a fill atomically and return it; an already recorded fill is returned as is.

        Raises:
            OrderRefused: not enough cash or shares.
        """
        fill_id = f"{job_id}|{symbol}"
        watched = [
            keys.paper_account(group, account),
            keys.paper_positions(group, account),
            keys.paper_fill_ids(group, account),
        ]
        outcome: dict[str, Fill] = {}

        def apply(pipe: redis.client.Pipeline) -> None:
            if pipe.sismember(keys.paper_fill_ids(group, account), fill_id):
                outcome["fill"] = self.find_fill(group, account, fill_id)
                pipe.multi()
                return
            self._check(pipe, group, account, action, symbol, quantity, price)
            cash = Decimal(pipe.hget(keys.paper_account(group, account), "cash") or "0")
            held = Decimal(pipe.hget(keys.paper_positions(group, account), symbol) or "0")
            sign = 1 if action is OrderAction.BUY else -1
            fill = Fill(
                fill_id=fill_id,
                job_id=job_id,
                symbol=symbol,
                side=action.value,
                quantity=money.format_decimal(quantity),
                price=money.format_price(price),
                at=to_iso(utcnow()),
            )
            # Whole cents; round_cash_proceeds also keeps an older, finer balance from gaining.
            new_cash = money.round_cash_proceeds(cash + _cash_change(action, quantity, price))
            pipe.multi()
            pipe.hset(keys.paper_account(group, account), "cash", money.format_cash(new_cash))
            pipe.hset(
                keys.paper_positions(group, account),
                symbol,
                money.format_decimal(held + sign * quantity),
            )
            pipe.sadd(keys.paper_fill_ids(group, account), fill_id)
            pipe.rpush(keys.paper_fills(group, account), json.dumps(asdict(fill)))
            outcome["fill"] = fill

        self.connection.transaction(apply, *watched)
        return outcome["fill"]

    def wipe(self, group: str, account: str, pipeline=None) -> None:
        (pipeline or self.connection).delete(
            keys.paper_account(group, account),
            keys.paper_positions(group, account),
            keys.paper_fills(group, account),
            keys.paper_fill_ids(group, account),
        )

    @staticmethod
    def _check(conn, group, account, action, symbol, quantity, price) -> None:
        if not money.fits_places(quantity, money.QUANTITY_PLACES):
            rule = money.places_rule(money.QUANTITY_PLACES)
            raise OrderRefused(f"quantity {money.format_decimal(quantity)} must have {rule}")
        if not money.fits_places(price, money.PRICE_PLACES):
            rule = money.places_rule(money.PRICE_PLACES)
            raise OrderRefused(f"price {money.format_price(price)} must have {rule}")
        if not conn.exists(keys.paper_account(group, account)):
            raise OrderRefused("paper account is not open (activate it first)")
        if action is OrderAction.BUY:
            cash = Decimal(conn.hget(keys.paper_account(group, account), "cash") or "0")
            cost = money.round_cash_cost(quantity * price)
            if cost > cash:
                raise OrderRefused(
                    f"insufficient cash: {_money(cost)} needed, {_money(cash)} available"
                )
        else:
            held = Decimal(conn.hget(keys.paper_positions(group, account), symbol) or "0")
            if quantity > held:
                raise OrderRefused(
                    f"insufficient shares: selling {money.format_decimal(quantity)} {symbol},"
                    f" holding {money.format_decimal(held)}"
                )


def _cash_change(action: OrderAction, quantity: Decimal, price: Decimal) -> Decimal:
    """Cash a fill moves: minus the cost rounded up, or plus the proceeds rounded down."""
    if action is OrderAction.BUY:
        return -money.round_cash_cost(quantity * price)
    return money.round_cash_proceeds(quantity * price)


class PaperBroker:
    """The ``paper`` brokerage adapter (touches only Redis, so its legs run inline)."""

    name = NAME
    traits = BrokerTraits(runs_inline=True, keeps_ledger=True, keeps_worker_state=False)

    def __init__(
        self,
        connection: redis.Redis,
        group: str,
        *,
        default_starting_cash: Decimal,
        delay: float = 0.0,
    ) -> None:
        self.group = group
        self.ledger = PaperLedger(connection)
        self.quotes = QuoteBook(connection)
        self.default_starting_cash = default_starting_cash
        self.delay = delay

    def account_time_bound(self) -> float:
        """Redis only: a second is generous (plus the fault-test ``delay`` per order)."""
        return 1.0 + self.delay

    def activate(self, account: BrokerAccount) -> LegResult:
        wanted = Decimal(
            str(account.credentials.get("starting_cash") or self.default_starting_cash)
        )
        cash = self.ledger.open(self.group, account.name, wanted)
        return _result(account, ResultStatus.OK, f"paper account open with {_money(cash)} cash")

    def deactivate(self, account: BrokerAccount) -> LegResult:
        return _result(account, ResultStatus.OK, "paper account deactivated; its ledger is kept")

    def place_orders(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        return [
            self._place(job_id, order, account, symbol)
            for account in accounts
            for symbol in order.symbols
        ]

    def reconcile(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        """Settle an interrupted leg: the ledger's fill ids say exactly what was filled.

        A ``(job, symbol)`` fill already in the ledger is reported as it was
        recorded; one that is not there was never applied (fills are atomic), so
        it is placed now, and the ledger still refuses a second fill.
        """
        results = []
        for account in accounts:
            for symbol in order.symbols:
                fill = self.ledger.find_fill(self.group, account.name, f"{job_id}|{symbol}")
                if fill is None:
                    results.append(self._place(job_id, order, account, symbol))
                else:
                    results.append(_filled(account, order, fill, reconciled=True))
        return results

    def holdings(
        self, accounts: list[BrokerAccount]
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

    def _place(
        self, job_id: str, order: OrderRequest, account: BrokerAccount, symbol: str
    ) -> LegResult:
        if self.delay:
            time.sleep(self.delay)  # test setting: widens the window for fault injection
        quote = self.quotes.find(symbol)
        if quote is None:
            return LegResult.for_order(
                account.name,
                NAME,
                order,
                symbol,
                ResultStatus.REJECTED,
                f"no quote for {symbol}: set one with PUT /api/v1/market-data/{symbol}",
            )
        if order.order_type is OrderType.LIMIT and not _limit_crossed(order, quote.price):
            side = "above" if order.action is OrderAction.BUY else "below"
            return LegResult.for_order(
                account.name,
                NAME,
                order,
                symbol,
                ResultStatus.REJECTED,
                f"limit not reached: last quote {money.format_price(quote.price)} is {side}"
                f" the limit {money.format_price(order.limit_price)}"
                " (paper limit orders are immediate-or-cancel)",
            )
        try:
            if order.dry_run:
                self.ledger.check(
                    self.group, account.name, order.action, symbol, order.quantity, quote.price
                )
                return LegResult.for_order(
                    account.name,
                    NAME,
                    order,
                    symbol,
                    ResultStatus.DRY_RUN,
                    f"dry run: would {order.action.value} {money.format_decimal(order.quantity)}"
                    f" {symbol} at {money.format_price(quote.price)}",
                    price=quote.price,
                )
            fill = self.ledger.fill(
                self.group,
                account.name,
                job_id=job_id,
                action=order.action,
                symbol=symbol,
                quantity=order.quantity,
                price=quote.price,
            )
        except OrderRefused as refused:
            return LegResult.for_order(
                account.name, NAME, order, symbol, ResultStatus.REJECTED, str(refused)
            )
        return _filled(account, order, fill)


def _filled(
    account: BrokerAccount, order: OrderRequest, fill: Fill, *, reconciled: bool = False
) -> LegResult:
    detail = f"{fill.side} {fill.quantity} {fill.symbol} filled at {fill.price}"
    if reconciled:
        detail += " (read back from the paper ledger after an interrupted run)"
    return LegResult.for_order(
        account.name,
        NAME,
        order,
        fill.symbol,
        ResultStatus.FILLED,
        detail,
        price=Decimal(fill.price),
    )


def _limit_crossed(order: OrderRequest, price: Decimal) -> bool:
    if order.action is OrderAction.BUY:
        return price <= order.limit_price
    return price >= order.limit_price


def _money(amount: Decimal) -> str:
    return money.format_cash(amount)


def _result(account: BrokerAccount, status: ResultStatus, detail: str) -> LegResult:
    return LegResult(account=account.name, brokerage=NAME, status=status, detail=detail)
