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
from typing import ClassVar, Protocol

from core.models import Account, LegResult, OrderRequest, utcnow


@dataclass(frozen=True)
class BrokerTraits:
    """What kind of brokerage an adapter is: the one place the rest of the code asks.

    Attributes:
        runs_inline: the adapter touches only Redis, so its legs run inside the
            group's job task; otherwise they fan out to ``brokerage.<name>``
            (a fan-out costs more than a Redis-only leg).
        keeps_ledger: the adapter's own ledger records every fill exactly
            (positions are read live from it, and a leg interrupted mid-way is
            settled from it instead of being reported ``unknown``).
        keeps_worker_state: the adapter keeps per-account files on the workers
            that run its legs (sessions, cookies), wiped by a task on its queue.
        trades_with_credentials: placing an order needs the account's credentials
            (a leg decrypts them only then: paper's only open its ledger).
    """

    runs_inline: bool
    keeps_ledger: bool
    keeps_worker_state: bool
    trades_with_credentials: bool


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
        traits: what kind of brokerage it is (see :class:`BrokerTraits`).
    """

    name: str
    traits: ClassVar[BrokerTraits]

    def account_time_bound(self, order: OrderRequest | None = None) -> float:
        """The longest one account's step (of ``order``, for an order leg) can take, in
        seconds: a leg budgets by it."""
        ...

    def activate(self, account: BrokerAccount, *, job_id: str = "") -> LegResult:
        """Check the account can be used; ``ok`` or ``failed`` with the reason.

        ``job_id``: the activation job (an adapter that asks the person for a code shows
        the wait on it)."""
        ...

    def deactivate(self, account: BrokerAccount) -> LegResult:
        """Release what the adapter keeps for the account; usually ``ok``."""
        ...

    def place_orders(
        self,
        job_id: str,
        order: OrderRequest,
        accounts: list[BrokerAccount],
        *,
        deadline: float | None = None,
    ) -> list[LegResult]:
        """Place ``order`` for every account and symbol; one result each.

        ``deadline`` (``time.monotonic()``): an adapter that runs several steps per
        account starts none that cannot end by then (``failed``, nothing sent).
        """
        ...

    def holdings(
        self, accounts: list[BrokerAccount], *, job_id: str = ""
    ) -> tuple[list[AccountHoldings], list[LegResult]]:
        """Read positions; one result per account says whether that worked."""
        ...

    def reconcile(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        """Settle an interrupted order leg from the adapter's ledger (``keeps_ledger`` only).

        Returns the true outcome of every account and symbol, placing what was
        provably never placed at most once.
        """
        ...
