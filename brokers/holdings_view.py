"""Who holds what: every account's positions, and per symbol across groups.

An account's positions come from the best source it has: a brokerage that keeps
its own ledger (paper) is read live; the others show their last holdings read
(activation, a holdings job, the beat refresh), with its time. Each row says
which (``source``: ``ledger`` or ``last_read``; ``none`` when never read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import redis

from brokers import get_broker, traits_of
from brokers.base import Broker, Position
from core import money
from core.accounts import AccountRegistry
from core.groups import GroupRegistry
from core.models import Account, AccountState, from_iso, utcnow
from core.settings import Settings


@dataclass
class AccountPositions:
    group: str
    account: str
    brokerage: str
    state: str
    source: str  # ledger | last_read | none
    positions: list[Position] = field(default_factory=list)
    cash: str | None = None
    total: str | None = None
    masked_numbers: list[str] = field(default_factory=list)
    as_of: datetime | None = None


@dataclass
class Holder:
    group: str
    account: str
    brokerage: str
    quantity: str
    price: str | None
    value: str | None
    source: str
    as_of: datetime | None


@dataclass
class SymbolHoldings:
    symbol: str
    quantity: str
    value: str | None  # None when a holder's value is unknown (no price)
    holders: list[Holder]
    not_holding: list[dict] = field(default_factory=list)  # active accounts, with a symbol


class HoldingsView:
    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.accounts = AccountRegistry(connection)
        self._ledgers: dict[tuple[str, str], Broker] = {}

    def group_positions(self, group: str, symbol: str | None = None) -> list[AccountPositions]:
        """Every account of ``group`` with its positions (only ``symbol``'s, when given)."""
        views = [self._positions(account) for account in self.accounts.list_group(group)]
        if symbol:
            for view in views:
                view.positions = [p for p in view.positions if p.symbol == symbol]
        return views

    def fleet(self, *, symbol: str | None = None, group: str | None = None) -> list[SymbolHoldings]:
        """Per symbol, the total held and every account holding it, across ``group`` (or
        every group); with ``symbol``, also the active accounts that hold none of it."""
        groups = [group] if group else GroupRegistry(self.connection).names()
        by_symbol: dict[str, list[Holder]] = {}
        idle: list[dict] = []
        for name in groups:
            for view in self.group_positions(name, symbol):
                held = [p for p in view.positions if Decimal(p.quantity) != 0]
                for position in held:
                    by_symbol.setdefault(position.symbol, []).append(
                        Holder(
                            group=view.group,
                            account=view.account,
                            brokerage=view.brokerage,
                            quantity=position.quantity,
                            price=position.price,
                            value=position.value,
                            source=view.source,
                            as_of=view.as_of,
                        )
                    )
                if symbol and not held and view.state == AccountState.ACTIVE.value:
                    idle.append(
                        {"group": view.group, "account": view.account, "brokerage": view.brokerage}
                    )
        if symbol and symbol not in by_symbol:
            by_symbol[symbol] = []
        return [
            SymbolHoldings(
                symbol=name,
                quantity=money.format_decimal(
                    sum((Decimal(h.quantity) for h in holders), Decimal(0))
                ),
                value=_total_value(holders),
                holders=holders,
                not_holding=idle if name == symbol else [],
            )
            for name, holders in sorted(by_symbol.items())
        ]

    def _positions(self, account: Account) -> AccountPositions:
        base = {
            "group": account.group,
            "account": account.name,
            "brokerage": account.brokerage,
            "state": account.state.value,
        }
        if traits_of(account.brokerage).keeps_ledger:
            held = self._ledger(account).account_holdings(account.name)
            return AccountPositions(
                **base,
                source="ledger",
                positions=held.positions,
                cash=held.cash,
                total=held.total,
                as_of=utcnow(),
            )
        read = account.details.get("holdings")
        if not read:
            return AccountPositions(**base, source="none")
        return AccountPositions(
            **base,
            source="last_read",
            positions=[Position(**p) for p in read.get("positions", [])],
            cash=read.get("cash"),
            total=read.get("total"),
            masked_numbers=read.get("masked_numbers", []),
            as_of=from_iso(read.get("as_of")),
        )

    def _ledger(self, account: Account) -> Broker:
        key = (account.group, account.brokerage)
        if key not in self._ledgers:
            self._ledgers[key] = get_broker(
                account.brokerage,
                connection=self.connection,
                settings=self.settings,
                group=account.group,
            )
        return self._ledgers[key]


def _total_value(holders: list[Holder]) -> str | None:
    if any(h.value is None for h in holders):
        return None
    return money.format_cash(sum((Decimal(h.value) for h in holders), Decimal(0)))
