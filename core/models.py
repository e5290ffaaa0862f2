"""Domain records: groups, accounts, orders, jobs and per-account results.

Records serialise flat for Redis hashes (``to_hash`` / ``from_hash``): times as
ISO-8601 UTC, booleans as ``0``/``1``, nested values as JSON, money and
quantities as decimal strings so nothing is rounded on the way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core import money

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_RULE = (
    "1-64 characters of lowercase letters, digits, '-' and '_', starting with a letter or digit"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def is_valid_name(name: object) -> bool:
    """Whether ``name`` is usable as a group or account name (see ``NAME_RULE``)."""
    return isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name))


class AccountState(StrEnum):
    PENDING = "pending"  # activation job queued or running
    ACTIVE = "active"  # takes part in the group's orders
    FAILED = "failed"  # activation failed; see last_error
    INACTIVE = "inactive"  # deactivated; credentials kept until deleted


class JobKind(StrEnum):
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    TRANSACTION = "transaction"
    HOLDINGS = "holdings"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every result is filled, dry_run or ok
    PARTIAL = "partial"  # some succeeded, some were rejected or failed
    FAILED = "failed"  # nothing succeeded, and every outcome is known
    UNKNOWN = "unknown"  # at least one outcome is unknown: check the brokerage
    CANCELLED = "cancelled"  # cancelled while still queued: it never ran

    @property
    def is_terminal(self) -> bool:
        return self not in (JobState.QUEUED, JobState.RUNNING)


TERMINAL_JOB_STATES = ("succeeded", "partial", "failed", "unknown", "cancelled")


class LegState(StrEnum):
    """Where one brokerage leg of a job is (``core.legs`` moves it forward only)."""

    PENDING = "pending"  # planned; not yet published to its brokerage queue
    SENT = "sent"  # published to brokerage.<name>; nobody has started it
    RUNNING = "running"  # started under a lease (exec:<job>:<brokerage>)
    REPORTED = "reported"  # every account of the leg has its outcome recorded


class ResultStatus(StrEnum):
    FILLED = "filled"  # the brokerage accepted (paper: filled) the order
    DRY_RUN = "dry_run"  # checked but not placed, as asked
    REJECTED = "rejected"  # the brokerage (or a risk rule) refused it; nothing was placed
    FAILED = "failed"  # did not reach the brokerage or failed before placing: nothing placed
    UNKNOWN = "unknown"  # may or may not have been placed: check the brokerage before retrying
    OK = "ok"  # a non-order step (activation, deactivation, holdings) succeeded
    SKIPPED = "skipped"  # "sell all" on an account holding none: nothing to do

    @property
    def succeeded(self) -> bool:
        return self in (ResultStatus.FILLED, ResultStatus.DRY_RUN, ResultStatus.OK)


class OrderAction(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


@dataclass(frozen=True)
class Group:
    name: str
    created_at: datetime = field(default_factory=utcnow)

    def to_hash(self) -> dict[str, str]:
        return {"name": self.name, "created_at": to_iso(self.created_at)}

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Group:
        return cls(name=data["name"], created_at=from_iso(data["created_at"]) or utcnow())


@dataclass
class Account:
    group: str
    name: str
    brokerage: str
    state: AccountState = AccountState.PENDING
    last_error: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # masked numbers, totals: never secrets
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def to_hash(self) -> dict[str, str]:
        return {
            "group": self.group,
            "name": self.name,
            "brokerage": self.brokerage,
            "state": self.state.value,
            "last_error": self.last_error,
            "details": json.dumps(self.details, sort_keys=True),
            "created_at": to_iso(self.created_at),
            "updated_at": to_iso(self.updated_at),
        }

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Account:
        return cls(
            group=data["group"],
            name=data["name"],
            brokerage=data["brokerage"],
            state=AccountState(data["state"]),
            last_error=data.get("last_error", ""),
            details=json.loads(data.get("details") or "{}"),
            created_at=from_iso(data["created_at"]) or utcnow(),
            updated_at=from_iso(data["updated_at"]) or utcnow(),
        )


@dataclass(frozen=True)
class OrderRequest:
    """What to trade. ``quantity`` is shares per account and symbol.

    ``sell_all`` (a sell of ``"quantity": "all"``): each account sells what it holds
    of each symbol (``quantity`` is then 0); one holding none is ``skipped``.
    """

    action: OrderAction
    symbols: tuple[str, ...]
    quantity: Decimal
    dry_run: bool = True
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    brokerages: tuple[str, ...] = ()  # empty: every brokerage of the group
    accounts: tuple[str, ...] = ()  # empty: every active account (of those brokerages)
    sell_all: bool = False

    def to_dict(self) -> dict[str, Any]:
        limit = self.limit_price
        return {
            "action": self.action.value,
            "symbols": list(self.symbols),
            "quantity": "all" if self.sell_all else money.format_decimal(self.quantity),
            "dry_run": self.dry_run,
            "order_type": self.order_type.value,
            "limit_price": None if limit is None else money.format_price(limit),
            "brokerages": list(self.brokerages),
            "accounts": list(self.accounts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderRequest:
        limit = data.get("limit_price")
        sell_all = data["quantity"] == "all"
        return cls(
            action=OrderAction(data["action"]),
            symbols=tuple(dict.fromkeys(data["symbols"])),  # each symbol once, in order
            quantity=Decimal(0) if sell_all else Decimal(str(data["quantity"])),
            sell_all=sell_all,
            dry_run=bool(data.get("dry_run", True)),
            order_type=OrderType(data.get("order_type") or "market"),
            limit_price=None if limit in (None, "") else Decimal(str(limit)),
            brokerages=tuple(data.get("brokerages") or ()),
            accounts=tuple(data.get("accounts") or ()),
        )


@dataclass
class LegResult:
    """The outcome for one account (and one symbol, for orders)."""

    account: str
    brokerage: str
    status: ResultStatus
    detail: str = ""
    symbol: str | None = None
    quantity: str | None = None
    price: str | None = None
    at: datetime = field(default_factory=utcnow)

    @classmethod
    def for_order(
        cls,
        account: str,
        brokerage: str,
        order: OrderRequest,
        symbol: str,
        status: ResultStatus,
        detail: str,
        *,
        price: Decimal | None = None,
        quantity: Decimal | None = None,
    ) -> LegResult:
        """The outcome of ``order`` for one account and one symbol.

        ``quantity``: what this account's order was, when it differs from the order's
        (a sell of everything: what the account held); by default the order's.
        """
        if quantity is None:
            quantity = None if order.sell_all else order.quantity
        return cls(
            account=account,
            brokerage=brokerage,
            status=status,
            detail=detail,
            symbol=symbol,
            quantity=None if quantity is None else money.format_decimal(quantity),
            price=None if price is None else money.format_price(price),
        )

    @property
    def field_name(self) -> str:
        """Key of this result inside the job's result hash."""
        return f"{self.account}|{self.symbol or ''}"

    def to_json(self) -> str:
        # Field by field, not dataclasses.asdict (which deep-copies): a leg writes thousands.
        return json.dumps(
            {
                "account": self.account,
                "at": to_iso(self.at),
                "brokerage": self.brokerage,
                "detail": self.detail,
                "price": self.price,
                "quantity": self.quantity,
                "status": self.status.value,
                "symbol": self.symbol,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LegResult:
        data = json.loads(text)
        data["status"] = ResultStatus(data["status"])
        data["at"] = from_iso(data.get("at")) or utcnow()
        return cls(**data)


@dataclass
class Job:
    id: str
    kind: JobKind
    group: str
    state: JobState = JobState.QUEUED
    account: str = ""  # the account of an activate/deactivate job
    order: OrderRequest | None = None
    error: str = ""  # why the whole job failed, when it did before any leg ran
    # brokerage -> accounts, fixed when the job starts (kept across redelivery)
    legs: dict[str, list[str]] = field(default_factory=dict)
    # brokerage -> where that leg is; filled by JobRegistry.fetch from the legs hash
    leg_states: dict[str, LegState] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    group_deleted: bool = False  # its group was deleted; the job stays readable a while
    retry_of: str = ""  # the job whose results this one retries
    # what placed it, when not a request: "schedule:<id>" or "signal:<id>"
    origin: str = ""
    retried_by: tuple[str, ...] = ()  # the jobs that retried this one's results
    results: list[LegResult] = field(default_factory=list)  # filled by JobRegistry.fetch
    # accounts whose AutoRSA run waits for a 2FA code now (core.codes.CodeWait); filled
    # by the API, never stored with the job
    waiting: list[Any] = field(default_factory=list)

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "group": self.group,
            "state": self.state.value,
            "account": self.account,
            "order": json.dumps(self.order.to_dict()) if self.order else "",
            "error": self.error,
            "legs": json.dumps(self.legs, sort_keys=True),
            "created_at": to_iso(self.created_at),
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "retry_of": self.retry_of,
            "origin": self.origin,
        }

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Job:
        order = data.get("order")
        return cls(
            id=data["id"],
            kind=JobKind(data["kind"]),
            group=data["group"],
            state=JobState(data["state"]),
            account=data.get("account", ""),
            order=OrderRequest.from_dict(json.loads(order)) if order else None,
            error=data.get("error", ""),
            legs=json.loads(data.get("legs") or "{}"),
            created_at=from_iso(data["created_at"]) or utcnow(),
            started_at=from_iso(data.get("started_at")),
            finished_at=from_iso(data.get("finished_at")),
            retry_of=data.get("retry_of", ""),
            origin=data.get("origin", ""),
            group_deleted=data.get("group_deleted") == "1",
            retried_by=tuple(filter(None, (data.get("retried_by") or "").split(","))),
        )


def summarise(results: list[LegResult]) -> JobState:
    """The terminal state a job ends in, given every result it recorded.

    ``unknown`` wins over everything: a job with any outcome nobody can vouch
    for must never read ``succeeded``.
    """
    if not results:
        return JobState.FAILED
    statuses = {r.status for r in results} - {ResultStatus.SKIPPED}  # neither way
    if not statuses:
        return JobState.SUCCEEDED  # every account had nothing to do
    if ResultStatus.UNKNOWN in statuses:
        return JobState.UNKNOWN
    if all(s.succeeded for s in statuses):
        return JobState.SUCCEEDED
    if any(s.succeeded for s in statuses):
        return JobState.PARTIAL
    return JobState.FAILED
