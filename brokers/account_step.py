"""One account's step of a job: the adapter called safely, its results per symbol, and
the fields the account takes on (activation's state, a holdings read).

``brokers.execution`` runs a leg account by account through these; an adapter bug
becomes a result here, never a lost job.
"""

from __future__ import annotations

import functools
import json
import logging
import traceback
from dataclasses import asdict

from brokers.base import AccountHoldings, Broker, BrokerAccount
from core import keys
from core.models import Account, AccountState, Job, JobKind, LegResult, ResultStatus, to_iso, utcnow

log = logging.getLogger(__name__)

UNKNOWN_AFTER_CRASH = (
    "outcome unknown: the adapter failed while placing the order; check the brokerage "
    "before retrying"
)


def account_effects(
    job: Job, account: Account, results: list[LegResult], holdings: AccountHoldings | None
) -> tuple[str, dict[str, str]] | None:
    """The account's new fields after this step (written with its results, or not at all)."""
    if job.kind is JobKind.ACTIVATE:
        result = results[0]
        if result.status is ResultStatus.OK:
            details = getattr(result, "account_details", None)
            return _state_change(account, AccountState.ACTIVE, details=details)
        return _state_change(account, AccountState.FAILED, error=result.detail)
    if job.kind is JobKind.DEACTIVATE and results[0].status is ResultStatus.OK:
        return _state_change(account, AccountState.INACTIVE)
    if job.kind is JobKind.HOLDINGS and holdings is not None:
        details = {**account.details, "holdings": holdings_view(holdings)}
        return _state_change(account, account.state, details=details)
    return None


def _state_change(
    account: Account,
    state: AccountState,
    *,
    error: str = "",
    details: dict | None = None,
) -> tuple[str, dict[str, str]]:
    fields = {"state": state.value, "last_error": error, "updated_at": to_iso(utcnow())}
    if details is not None:
        fields["details"] = json.dumps(details, sort_keys=True)
    return keys.account(account.group, account.name), fields


def run_account(
    broker: Broker, job: Job, account: BrokerAccount, deadline: float
) -> tuple[list[LegResult], AccountHoldings | None]:
    """Run the job's step for one account: its results, and its holdings when read."""
    if job.kind is JobKind.HOLDINGS:
        read: list[AccountHoldings] = []

        def read_holdings(_job_id, _order, accounts):
            found, results = broker.holdings(accounts, job_id=job.id)
            read.extend(found)
            return results

        return guarded(job, [account], read_holdings), (read[0] if read else None)
    if job.kind is JobKind.ACTIVATE:
        step = lambda job_id, _order, accounts: [  # noqa: E731
            broker.activate(accounts[0], job_id=job_id)
        ]
    elif job.kind is JobKind.DEACTIVATE:
        step = lambda _job_id, _order, accounts: [broker.deactivate(accounts[0])]  # noqa: E731
    else:
        step = functools.partial(broker.place_orders, deadline=deadline)
    return guarded(job, [account], step), None


def guarded(job: Job, accounts: list[BrokerAccount], call) -> list[LegResult]:
    """``call(job_id, order, accounts)``; an adapter bug becomes a result, never a lost job."""
    try:
        return call(job.id, job.order, accounts)
    except Exception as exc:  # the trace has no message: messages may hold secrets
        log.error(
            "job %s: %s adapter raised %s\n%s",
            job.id,
            accounts[0].account.brokerage,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        if job.kind is JobKind.TRANSACTION:
            status, detail = ResultStatus.UNKNOWN, UNKNOWN_AFTER_CRASH
        else:
            status = ResultStatus.FAILED
            detail = f"internal error in the {accounts[0].account.brokerage} adapter"
        return [
            r
            for a in accounts
            for r in per_symbol(job, LegResult(a.name, a.account.brokerage, status, detail))
        ]


def holdings_view(holdings: AccountHoldings) -> dict:
    """What the positions API shows of a holdings read (plain JSON)."""
    return {
        "positions": [asdict(p) for p in holdings.positions],
        "cash": holdings.cash,
        "total": holdings.total,
        "masked_numbers": holdings.masked_numbers,
        "as_of": to_iso(holdings.as_of),
    }


def per_symbol(job: Job, result: LegResult) -> list[LegResult]:
    """Spread one account-level result over every symbol of an order."""
    if job.kind is not JobKind.TRANSACTION or job.order is None:
        return [result]
    return [
        LegResult.for_order(
            result.account, result.brokerage, job.order, symbol, result.status, result.detail
        )
        for symbol in job.order.symbols
    ]
