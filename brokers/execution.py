"""Run one brokerage leg of a job: claim, decrypt, run the adapter, record.

A leg is the part of a job that concerns the accounts of one brokerage. Order
legs run **at most once**: before anything is sent, the leg claims
``exec:<job>:<brokerage>`` in Redis. A leg that finds its claim taken was
started before (a worker died, the message was redelivered); it does not run
again, and every account of it without a recorded outcome is marked
``unknown``. Activation, deactivation and holdings legs are safe to repeat and
simply run again.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict

import redis

from brokers import get_broker
from brokers.base import AccountHoldings, Broker, BrokerAccount
from core import keys
from core.accounts import AccountRegistry
from core.errors import NotFound, VaultError
from core.jobs import JobRegistry
from core.models import (
    Account,
    AccountState,
    Job,
    JobKind,
    LegResult,
    ResultStatus,
    to_iso,
    utcnow,
)
from core.settings import Settings
from core.throttle import ConcurrencySlot, take_rate_token
from core.vault import Vault

log = logging.getLogger(__name__)

THROTTLE_RETRY_SECONDS = 5.0

# Claims outlive any redelivery window by far; they only guard against re-running.
CLAIM_TTL_SECONDS = 30 * 24 * 3600

UNKNOWN_AFTER_REDELIVERY = (
    "outcome unknown: this leg was started before and did not record a result "
    "(worker lost?); check the brokerage before retrying"
)
UNKNOWN_AFTER_CRASH = (
    "outcome unknown: the adapter failed while placing the order; check the brokerage "
    "before retrying"
)


class LegThrottled(Exception):
    """The brokerage's rate limit or concurrency cap is reached; nothing was started.

    Attributes:
        retry_after: seconds to wait before trying the leg again.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"brokerage busy; retry in {retry_after:.1f}s")
        self.retry_after = retry_after


def run_leg(
    connection: redis.Redis,
    settings: Settings,
    job_id: str,
    brokerage: str,
    *,
    task_id: str = "",
) -> list[LegResult]:
    """Run the ``brokerage`` leg of job ``job_id`` and record its results.

    Returns:
        The results recorded by this call (the job holds them too).

    Raises:
        LegThrottled: the brokerage's concurrency cap or rate limit (settings
            ``BROKERAGE_CONCURRENCY``, ``BROKERAGE_RATE_LIMITS``) says wait;
            nothing was claimed or sent.
    """
    slot = _take_slot(connection, settings, brokerage)
    try:
        return _run_leg(connection, settings, job_id, brokerage, task_id)
    finally:
        if slot is not None:
            slot.release()


def _take_slot(
    connection: redis.Redis, settings: Settings, brokerage: str
) -> ConcurrencySlot | None:
    slot = None
    limit = settings.brokerage_concurrency.get(brokerage)
    if limit:
        # Expires on its own if this worker dies holding it.
        slot = ConcurrencySlot(connection, brokerage, limit, ttl=settings.visibility_timeout)
        if not slot.acquire():
            raise LegThrottled(THROTTLE_RETRY_SECONDS)
    rate = settings.brokerage_rate_limits.get(brokerage)
    wait = take_rate_token(connection, brokerage, rate) if rate else 0.0
    if wait:
        if slot is not None:
            slot.release()
        raise LegThrottled(wait)
    return slot


def _run_leg(
    connection: redis.Redis, settings: Settings, job_id: str, brokerage: str, task_id: str
) -> list[LegResult]:
    jobs = JobRegistry(connection)
    job = jobs.fetch(job_id)
    names = job.legs.get(brokerage, [])
    if job.kind is JobKind.TRANSACTION and not _claim(connection, job_id, brokerage, task_id):
        return _mark_unknown(jobs, job, brokerage, names)

    broker = get_broker(brokerage, connection=connection, settings=settings, group=job.group)
    accounts = AccountRegistry(connection)
    vault = Vault(connection, settings.secret_keys)
    recorded: list[LegResult] = []
    for name in names:
        loaded = _load(accounts, vault, job.group, name, brokerage)
        if isinstance(loaded, LegResult):
            results = _per_symbol(job, loaded)
        else:
            results = _run_account(broker, job, loaded, accounts)
            _apply_account_effects(accounts, job, loaded.account, results)
        jobs.record(job_id, results)
        recorded.extend(results)
    return recorded


def _claim(connection: redis.Redis, job_id: str, brokerage: str, task_id: str) -> bool:
    claim = f"{task_id or '-'} {to_iso(utcnow())}"
    return bool(
        connection.set(keys.exec_claim(job_id, brokerage), claim, nx=True, ex=CLAIM_TTL_SECONDS)
    )


def _mark_unknown(jobs: JobRegistry, job: Job, brokerage: str, names: list[str]) -> list[LegResult]:
    placeholders = [
        LegResult(
            account=name,
            brokerage=brokerage,
            status=ResultStatus.UNKNOWN,
            detail=UNKNOWN_AFTER_REDELIVERY,
        )
        for name in names
    ]
    results = [r for p in placeholders for r in _per_symbol(job, p)]
    jobs.record_missing(job.id, results)
    log.warning("job %s: %s leg redelivered; unrecorded outcomes marked unknown", job.id, brokerage)
    return results


def _load(
    accounts: AccountRegistry, vault: Vault, group: str, name: str, brokerage: str
) -> BrokerAccount | LegResult:
    account = accounts.find(group, name)
    if account is None:
        return LegResult(
            name, brokerage, ResultStatus.FAILED, "account was deleted before the job ran"
        )
    try:
        return BrokerAccount(account=account, credentials=vault.load(group, name))
    except (NotFound, VaultError) as exc:
        return LegResult(name, brokerage, ResultStatus.FAILED, exc.message)


def _run_account(
    broker: Broker, job: Job, account: BrokerAccount, accounts: AccountRegistry
) -> list[LegResult]:
    try:
        if job.kind is JobKind.ACTIVATE:
            return [broker.activate(account)]
        if job.kind is JobKind.DEACTIVATE:
            return [broker.deactivate(account)]
        if job.kind is JobKind.HOLDINGS:
            found, results = broker.holdings([account])
            for holdings in found:
                accounts.update_details(
                    job.group, holdings.account, {"holdings": holdings_view(holdings)}
                )
            return results
        return broker.place_orders(job.id, job.order, [account])
    except Exception as exc:  # an adapter bug must not lose the job; the trace has no message
        log.error(
            "job %s: %s adapter raised %s\n%s",
            job.id,
            account.account.brokerage,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        if job.kind is JobKind.TRANSACTION:
            status, detail = ResultStatus.UNKNOWN, UNKNOWN_AFTER_CRASH
        else:
            status, detail = (
                ResultStatus.FAILED,
                f"internal error in the {account.account.brokerage} adapter",
            )
        return _per_symbol(job, LegResult(account.name, account.account.brokerage, status, detail))


def holdings_view(holdings: AccountHoldings) -> dict:
    """What the positions API shows of a holdings read (plain JSON)."""
    return {
        "positions": [asdict(p) for p in holdings.positions],
        "cash": holdings.cash,
        "total": holdings.total,
        "masked_numbers": holdings.masked_numbers,
        "as_of": to_iso(holdings.as_of),
    }


def _per_symbol(job: Job, result: LegResult) -> list[LegResult]:
    """Spread one account-level result over every symbol of an order."""
    if job.kind is not JobKind.TRANSACTION or job.order is None:
        return [result]
    return [
        LegResult.for_order(
            result.account, result.brokerage, job.order, symbol, result.status, result.detail
        )
        for symbol in job.order.symbols
    ]


def _apply_account_effects(
    accounts: AccountRegistry, job: Job, account: Account, results: list[LegResult]
) -> None:
    """Activation and deactivation move the account's state."""
    if job.kind is JobKind.ACTIVATE:
        result = results[0]
        if result.status is ResultStatus.OK:
            details = getattr(result, "account_details", None)
            accounts.set_state(job.group, account.name, AccountState.ACTIVE, details=details)
        else:
            accounts.set_state(job.group, account.name, AccountState.FAILED, error=result.detail)
    elif job.kind is JobKind.DEACTIVATE and results[0].status is ResultStatus.OK:
        accounts.set_state(job.group, account.name, AccountState.INACTIVE)
