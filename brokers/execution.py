"""Run one brokerage leg of a job: lease, decrypt, run the adapter, record, report.

A leg is the part of a job that concerns the accounts of one brokerage (see
:mod:`core.legs` for its states). Every run of a leg first takes the leg's
lease in the same atomic step that marks it ``running``; then:

* **claimed** (first run): run the adapter account by account (or, for an
  inline adapter, in batches) and record each outcome while the lease is
  ours. Before each account the run checks it still holds the lease and that
  the leg's time budget (``TRADEFLEET_LEG_TIME_LIMIT``) has room for it; an
  account it does not reach is ``failed`` (nothing was sent). A write refused
  because the lease lapsed stops the run at once: someone else now speaks
  for the leg.
* **orphaned** (an earlier run died mid-leg): an order leg never runs its
  orders again. An adapter that keeps its own ledger settles the accounts
  without an outcome from it (the ledger knows exactly what was filled);
  otherwise they are ``unknown``: check the brokerage before retrying.
  Activation, deactivation and holdings legs are safe to repeat and simply
  run again.
* **busy** (a live run holds the lease), **reported**, **finished**: nothing
  to do; the live run reports the leg itself.

The last write of a run reports the leg and frees the lease; it returns how
many legs of the job are still out, so the caller can finish the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis

from brokers import get_broker, traits_of
from brokers.account_step import account_effects, guarded, per_symbol, run_account
from brokers.base import Broker, BrokerAccount
from core import keys
from core.accounts import AccountRegistry
from core.errors import NotFound, RiskRuleViolation, VaultError
from core.jobs import JobRegistry, event_json
from core.leases import Lease
from core.legs import REFUSED, Claim, LegBook
from core.models import (
    Account,
    Job,
    JobKind,
    LegResult,
    ResultStatus,
)
from core.settings import Settings
from core.throttle import ConcurrencySlot, take_rate_token
from core.vault import Vault

log = logging.getLogger(__name__)

THROTTLE_RETRY_SECONDS = 5.0
# A leg's lease lapses this long after its run stops renewing it (the run died).
LEG_LEASE_SECONDS = 15.0
# Accounts of an inline (Redis-only) adapter handled per adapter call and per write.
INLINE_BATCH = 500

UNKNOWN_AFTER_INTERRUPTION = (
    "outcome unknown: the run of this leg was interrupted (worker lost?) before it "
    "recorded a result; check the brokerage before retrying"
)
NOT_REACHED = (
    "not attempted: the leg's time limit (TRADEFLEET_LEG_TIME_LIMIT={limit:g}s) left no "
    "room for this account; nothing was sent"
)


class LegThrottled(Exception):
    """The brokerage's rate limit or concurrency cap is reached; nothing was started.

    Attributes:
        retry_after: seconds to wait before trying the leg again.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"brokerage busy; retry in {retry_after:.1f}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LegRun:
    """What one run of a leg did.

    Attributes:
        claim: what the run found (see :class:`core.legs.Claim`).
        remaining: legs of the job still unreported after this run reported its
            leg (0: the job can finish); None when this run did not report.
        results: every result of the leg, when this run (a first run) wrote them
            all; None otherwise.
    """

    claim: Claim
    remaining: int | None = None
    results: list[LegResult] | None = None


class _LeaseLost(Exception):
    """A write was refused: the lease lapsed or the job is finished. Stop the run."""


def run_leg(
    connection: redis.Redis,
    settings: Settings,
    job_id: str,
    brokerage: str,
    *,
    job: Job | None = None,
    accounts: dict[str, Account] | None = None,
    guard: Callable[[Job], None] | None = None,
) -> LegRun:
    """Run the ``brokerage`` leg of job ``job_id`` (at most once for its orders).

    Args:
        job: the job as the caller just read it (saves a read), else fetched.
        accounts: the leg's account records as the caller just read them (saves a
            read of thousands of records), else read here.
        guard: ``(job)``: the group's risk rules; it raises ``RiskRuleViolation`` to
            refuse an order leg before anything is placed (every account ``rejected``).

    Raises:
        LegThrottled: the brokerage's concurrency cap or rate limit (settings
            ``BROKERAGE_CONCURRENCY``, ``BROKERAGE_RATE_LIMITS``) says wait;
            nothing was claimed or sent.
    """
    slot = _take_slot(connection, settings, brokerage)
    try:
        return _Leg(connection, settings, job_id, brokerage, job, accounts, guard).run()
    finally:
        if slot is not None:
            slot.release()


def _take_slot(
    connection: redis.Redis, settings: Settings, brokerage: str
) -> ConcurrencySlot | None:
    slot = None
    limit = settings.brokerage_concurrency.get(brokerage)
    if limit:
        # A lease: renewed while this leg runs, freed within seconds if the worker dies.
        slot = ConcurrencySlot(connection, brokerage, limit)
        if not slot.acquire():
            raise LegThrottled(THROTTLE_RETRY_SECONDS)
    rate = settings.brokerage_rate_limits.get(brokerage)
    wait = take_rate_token(connection, brokerage, rate) if rate else 0.0
    if wait:
        if slot is not None:
            slot.release()
        raise LegThrottled(wait)
    return slot


class _Leg:
    """One run of one leg."""

    def __init__(
        self,
        connection: redis.Redis,
        settings: Settings,
        job_id: str,
        brokerage: str,
        job: Job | None,
        known_accounts: dict[str, Account] | None = None,
        guard: Callable[[Job], None] | None = None,
    ) -> None:
        self.connection = connection
        self.guard = guard
        self.known_accounts = known_accounts or {}
        self.written: list[LegResult] = []
        self.settings = settings
        self.job_id = job_id
        self.brokerage = brokerage
        self.job = job
        self.book = LegBook(connection)
        self.accounts = AccountRegistry(connection)
        self.lease = Lease(connection, keys.exec_claim(job_id, brokerage), ttl=LEG_LEASE_SECONDS)
        self.deadline = time.monotonic() + settings.leg_time_limit

    def run(self) -> LegRun:
        claim = self.book.claim(self.job_id, self.brokerage, self.lease.token, self.lease.ttl_ms)
        if not claim.runs:
            log.info("job %s: %s leg not run (%s)", self.job_id, self.brokerage, claim.value)
            return LegRun(claim)
        self.lease.adopt()
        try:
            job = self.job or _fetch(self.connection, self.job_id)
            names = job.legs.get(self.brokerage, [])
            broker = get_broker(
                self.brokerage, connection=self.connection, settings=self.settings, group=job.group
            )
            if claim is Claim.ORPHANED and job.kind is JobKind.TRANSACTION:
                last, only_missing = self._settle(broker, job, names), True
            elif (refusal := self._refusal(job)) is not None:
                last, only_missing = self._refused(job, names, refusal), False
            elif broker.traits.runs_inline and job.kind is JobKind.TRANSACTION:
                last, only_missing = self._run_batches(broker, job, names), False
            else:
                last, only_missing = self._run_accounts(broker, job, names), False
            # The last results and the report go in one write.
            remaining = self._write(job, last, report=True, only_missing=only_missing)
            self.lease.forget()  # reporting deleted it
        except _LeaseLost:
            log.warning(
                "job %s: %s leg lost its lease (it outlived it, or the job is finished); "
                "its later results were refused",
                self.job_id,
                self.brokerage,
            )
            return LegRun(claim)
        finally:
            self.lease.release()
        return LegRun(claim, remaining, self.written if claim is Claim.CLAIMED else None)

    # The three ways through a leg --------------------------------------------

    # Each returns the results of its last step, for the caller to write with the report.

    def _run_accounts(self, broker: Broker, job: Job, names: list[str]) -> list[LegResult]:
        bound = broker.account_time_bound(job.order)
        for position, name in enumerate(names):
            if time.monotonic() + bound > self.deadline:
                return self._not_reached(job, names[position:])
            if not self.lease.owned():
                raise _LeaseLost
            loaded = self._load(job, [name], with_credentials=True)[0]
            if isinstance(loaded, LegResult):
                self._write(job, per_symbol(job, loaded))
                continue
            results, holdings = run_account(broker, job, loaded, self.deadline)
            effects = account_effects(job, loaded.account, results, holdings)
            self._write(job, results, account_fields=effects)
        return []

    def _run_batches(self, broker: Broker, job: Job, names: list[str]) -> list[LegResult]:
        results: list[LegResult] = []
        for number, batch in enumerate(_batches(names, INLINE_BATCH)):
            if number:
                self._write(job, results)  # refused (and the run stopped) if the lease lapsed
            results = self._batch(job, batch, broker.place_orders)
        return results

    def _batch(self, job: Job, names: list[str], step) -> list[LegResult]:
        """``step(job_id, order, accounts)`` for the accounts that can be loaded; the
        others' ``failed`` results (deleted, credentials unreadable) come first."""
        results: list[LegResult] = []
        ready: list[BrokerAccount] = []
        trades = traits_of(self.brokerage).trades_with_credentials
        secret = job.kind is not JobKind.TRANSACTION or trades
        for loaded in self._load(job, names, with_credentials=secret):
            if isinstance(loaded, LegResult):
                results.extend(per_symbol(job, loaded))
            else:
                ready.append(loaded)
        if ready:
            results.extend(guarded(job, ready, step))
        return results

    def _settle(self, broker: Broker, job: Job, names: list[str]) -> list[LegResult]:
        """An earlier run died mid-leg: settle accounts without an outcome, never re-place."""
        recorded = {
            field.partition("|")[0]
            for field in self.connection.hkeys(keys.job_results(job.id))
            if field.partition("|")[0] in set(names)
        }
        open_names = [n for n in names if n not in recorded]
        if not open_names:
            return []
        if broker.traits.keeps_ledger:
            log.warning(
                "job %s: %s leg interrupted; settling %d accounts from the ledger",
                job.id,
                self.brokerage,
                len(open_names),
            )
            for batch in _batches(open_names, INLINE_BATCH):
                self._write(job, self._batch(job, batch, broker.reconcile), only_missing=True)
            return []
        log.warning(
            "job %s: %s leg interrupted; %d accounts without an outcome are unknown",
            job.id,
            self.brokerage,
            len(open_names),
        )
        unknown = [
            r
            for name in open_names
            for r in per_symbol(
                job,
                LegResult(name, self.brokerage, ResultStatus.UNKNOWN, UNKNOWN_AFTER_INTERRUPTION),
            )
        ]
        return unknown

    # Helpers -----------------------------------------------------------------

    def _load(
        self, job: Job, names: list[str], *, with_credentials: bool
    ) -> list[BrokerAccount | LegResult]:
        """Each account (with its credentials when the step needs them), or the ``failed``
        result saying why not."""
        missing = [n for n in names if n not in self.known_accounts]
        found = {**self.known_accounts, **self.accounts.find_many(job.group, missing)}
        present = [n for n in names if found.get(n) is not None]
        vault = Vault(self.connection, self.settings.secret_keys)
        secrets = vault.load_many(job.group, present) if with_credentials else {}
        loaded: list[BrokerAccount | LegResult] = []
        for name in names:
            account = found.get(name)
            credentials = secrets.get(name, {})
            if account is None:
                detail = "account was deleted before the job ran"
                loaded.append(LegResult(name, self.brokerage, ResultStatus.FAILED, detail))
            elif isinstance(credentials, NotFound | VaultError):
                loaded.append(
                    LegResult(name, self.brokerage, ResultStatus.FAILED, credentials.message)
                )
            else:
                loaded.append(BrokerAccount(account=account, credentials=credentials))
        return loaded

    def _write(
        self,
        job: Job,
        results: list[LegResult],
        *,
        report: bool = False,
        only_missing: bool = False,
        account_fields: tuple[str, dict[str, str]] | None = None,
    ) -> int:
        account_key, fields = account_fields or (None, None)
        left = self.book.record(
            job.id,
            self.brokerage,
            self.lease.token,
            results,
            only_missing=only_missing,
            report=report,
            account_key=account_key,
            account_fields=fields,
            event=event_json(job) if results else "",
        )
        if left == REFUSED:
            raise _LeaseLost
        self.written.extend(results)
        return left

    def _refusal(self, job: Job) -> RiskRuleViolation | None:
        """The risk rules' refusal of a fresh order leg, checked just before placing."""
        if self.guard is None or job.kind is not JobKind.TRANSACTION:
            return None
        try:
            self.guard(job)
        except RiskRuleViolation as refusal:
            return refusal
        return None

    def _refused(self, job: Job, names: list[str], refusal: RiskRuleViolation) -> list[LegResult]:
        log.warning("job %s: %s leg refused: %s", job.id, self.brokerage, refusal.message)
        return [
            r
            for name in names
            for r in per_symbol(
                job, LegResult(name, self.brokerage, ResultStatus.REJECTED, refusal.message)
            )
        ]

    def _not_reached(self, job: Job, names: list[str]) -> list[LegResult]:
        detail = NOT_REACHED.format(limit=self.settings.leg_time_limit)
        return [
            r
            for name in names
            for r in per_symbol(job, LegResult(name, self.brokerage, ResultStatus.FAILED, detail))
        ]


def _fetch(connection: redis.Redis, job_id: str) -> Job:
    return JobRegistry(connection).fetch(job_id, with_results=False)


def _batches(names: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(names), size):
        yield names[start : start + size]
