"""The one small interface every brokerage adapter implements.

An adapter is handed accounts whose credentials were just decrypted for this
leg only, and answers with one :class:`~core.models.LegResult` per account
(and per symbol, for orders). It never raises for a per-account problem: that
is a result (``rejected``, ``failed`` or ``unknown``). It raises only for bugs
and for problems that affect the whole leg before anything was sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.models import Account, LegResult, OrderRequest, utcnow


@dataclass(frozen=True)
class BrokerAccount:
    """An account with its credentials, decrypted in memory for one leg."""

    account: Account
    credentials: dict[str, str] = field(repr=False)

    @property
    def name(self) -> str:
        return self.account.name


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: str
    price: str | None
    value: str | None


@dataclass
class AccountHoldings:
    """What one account holds, as the brokerage last reported it."""

    account: str
    brokerage: str
    positions: list[Position] = field(default_factory=list)
    cash: str | None = None
    total: str | None = None
    masked_numbers: list[str] = field(default_factory=list)
    as_of: datetime = field(default_factory=utcnow)


class Broker(Protocol):
    """A brokerage adapter.

    Attributes:
        name: the brokerage name accounts are registered with (``paper``,
            ``robinhood``, ...).
        calls_out: ``False`` when the adapter touches only Redis; such legs
            run inline in the group's job instead of fanning out to a
            ``brokerage.<name>`` queue (a fan-out costs more than the leg).
    """

    name: str
    calls_out: bool

    def activate(self, account: BrokerAccount) -> LegResult:
        """Check the account can be used; ``ok`` or ``failed`` with the reason."""
        ...

    def deactivate(self, account: BrokerAccount) -> LegResult:
        """Release what the adapter keeps for the account; usually ``ok``."""
        ...

    def place_orders(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        """Place ``order`` for every account and symbol; one result each."""
        ...

    def holdings(
        self, accounts: list[BrokerAccount]
    ) -> tuple[list[AccountHoldings], list[LegResult]]:
        """Read positions; one result per account says whether that worked."""
        ...
