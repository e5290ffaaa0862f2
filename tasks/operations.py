"""What a client can ask of the fleet, once for every transport (API, compat routes, beat).

Each operation validates against the registry, writes in one atomic step and
publishes by task name; none waits for a worker. Operations take their Redis
connection and settings as arguments, so beat, schedules and strategies submit
through the very code the API uses.

What a caller can tell its client:

* a :class:`Submitted` job exists and will run. ``dispatched`` False means
  the broker was unreachable when it was written: it runs once the broker is
  back (the sweeper re-sends it), and must not be submitted again;
* an exception means nothing was written: ``NotFound``, ``InvalidRequest``,
  ``AlreadyExists``, ``Conflict``, or a Redis error (the store is down).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from brokers import traits_of, wipe_ledger
from brokers.credentials import validate_credentials
from core.accounts import AccountRegistry
from core.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from core.groups import GroupRegistry
from core.jobs import JobRegistry, Write, new_job_id
from core.models import (
    NAME_RULE,
    Account,
    AccountState,
    Group,
    Job,
    JobKind,
    OrderRequest,
    ResultStatus,
    is_valid_name,
)
from core.notifications import TargetRegistry
from core.retries import retry_orders
from core.settings import Settings
from core.vault import Vault
from strategies.risk import RiskBook
from strategies.signals import SignalBook, SubscriptionBook
from tasks import enqueue, risk
from tasks.schedules import ScheduleBook

DISPATCH_DELAYED = (
    "the job is saved and will run, but the message broker was unreachable: it starts "
    "once the broker is back (within seconds of it). Do not submit it again"
)


@dataclass(frozen=True)
class Submitted:
    """A job that exists and will run.

    Attributes:
        created: False when an ``Idempotency-Key`` named an earlier job (returned here).
        dispatched: False when the broker was unreachable: the job waits for it.
    """

    job: Job
    created: bool = True
    dispatched: bool = True


class IdempotencyKeyReused(InvalidRequest):
    """The Idempotency-Key was used for a different request: use a new key for a new order."""


class Operations:
    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.groups = GroupRegistry(connection)
        self.accounts = AccountRegistry(connection)
        self.jobs = JobRegistry(connection)
        self.vault = Vault(connection, settings.secret_keys)

    # Groups -----------------------------------------------------------------

    def create_group(self, name: str) -> Group:
        """Raises: InvalidRequest (bad name), AlreadyExists."""
        group = self.groups.create(name)
        enqueue.announce_groups_changed()
        return group

    def delete_group(self, name: str) -> None:
        """Delete a group: its accounts, credentials and ledgers at once, and what it was
        set up with (schedules, strategy subscriptions and their signals, risk rules,
        notification targets); its jobs stay readable for the retention period.

        Raises:
            NotFound: no such group.
            Conflict: it still has jobs waiting or running.
        """
        self.groups.close(name)  # checked and closed in one step: no order slips in now
        for account in self.accounts.list_group(name):
            self._forget_account(account)
        self.jobs.retire_group_jobs(name, self.settings.job_retention_days * 86400)
        self._forget_group_setup(name)
        self.groups.delete(name)
        enqueue.announce_groups_changed()

    # Accounts ---------------------------------------------------------------

    def add_account(self, group: str, name: str, brokerage: str, credentials: object) -> Submitted:
        """Register an account (or re-activate an inactive or failed one) and queue its activation.

        The account, its encrypted credentials and the activation job are written
        in one step.

        Raises:
            NotFound: no such group.
            InvalidRequest: the name breaks the rule, or the credentials do not fit
                the brokerage (fields named).
            AlreadyExists: an account of that name is pending or active.
            Conflict: the name belongs to an account of another brokerage.
        """
        self.groups.get(group)
        job, also = self._prepare_account(group, name, brokerage, credentials)
        return self._submit(job, also=also)

    def add_accounts(self, group: str, rows: Sequence[dict]) -> list[Submitted]:
        """Register several accounts, one activation job each, all or none.

        Every row (``name``, ``brokerage``, ``credentials``) is checked first; when any
        is wrong nothing is written and the error names each bad row and field.

        Raises:
            NotFound: no such group.
            InvalidRequest: ``errors`` maps row numbers (from 1) to that row's problems.
        """
        self.groups.get(group)
        prepared, problems, seen = [], {}, set()
        for number, row in enumerate(rows, start=1):
            name = row.get("name")
            try:
                if name in seen:
                    raise InvalidRequest(
                        "repeated account name", errors={"name": [f"{name!r} is on an earlier row"]}
                    )
                brokerage = str(row.get("brokerage") or "").strip().lower()
                prepared.append(
                    self._prepare_account(group, name, brokerage, row.get("credentials") or {})
                )
            except (InvalidRequest, AlreadyExists, Conflict) as exc:
                problems[str(number)] = exc.errors or {"row": [exc.message]}
            seen.add(name)
        if problems:
            raise InvalidRequest(
                f"{len(problems)} of {len(rows)} rows are invalid; nothing was imported",
                errors={"accounts": problems},
            )
        return [self._submit(job, also=also) for job, also in prepared]

    def _prepare_account(
        self, group: str, name: object, brokerage: str, credentials: object
    ) -> tuple[Job, list[Write]]:
        """The activation job of a new (or re-activated) account and what it writes along."""
        if not is_valid_name(name):
            raise InvalidRequest("invalid account name", errors={"name": [f"must be {NAME_RULE}"]})
        clean = validate_credentials(brokerage, credentials)
        existing = self.accounts.find(group, name)
        if existing and existing.state in (AccountState.PENDING, AccountState.ACTIVE):
            raise AlreadyExists(
                f"account {name!r} is {existing.state.value} in group {group!r}; "
                "deactivate or delete it first"
            )
        if existing and existing.brokerage != brokerage:
            raise Conflict(
                f"account {name!r} is a {existing.brokerage} account; delete it to reuse the name"
            )
        account = Account(group=group, name=name, brokerage=brokerage)
        if existing:
            account.created_at = existing.created_at
        job = Job(id=new_job_id(), kind=JobKind.ACTIVATE, group=group, account=name)
        return job, [self.vault.write(group, name, clean), *self.accounts.writes(account)]

    def deactivate_account(self, group: str, name: str) -> Submitted | Account:
        """Queue the account's deactivation; an account already inactive is returned as it is.

        Raises:
            NotFound: no such group or account.
        """
        self.groups.get(group)
        account = self.accounts.get(group, name)
        if account.state is AccountState.INACTIVE:
            return account
        return self._submit(
            Job(id=new_job_id(), kind=JobKind.DEACTIVATE, group=group, account=name)
        )

    def delete_account(self, group: str, name: str) -> None:
        """Forget an account and wipe its credentials now. Raises: NotFound."""
        self.groups.get(group)
        self._forget_account(self.accounts.get(group, name))

    # Orders -----------------------------------------------------------------

    def submit_order(
        self,
        group: str,
        order: OrderRequest,
        idempotency_key: str | None = None,
        *,
        origin: str = "",
    ) -> Submitted:
        """Queue an order for the group's active accounts.

        ``origin`` names what placed it when it is not a request (``schedule:<id>``,
        ``signal:<id>``); the job carries it, so it links back to its schedule or signal.

        With ``idempotency_key``, the key, the job and its place in the run order
        are written in one step: the same key with the same order answers with the
        first job (``created`` False), with another order it is refused.

        Raises:
            NotFound: no such group.
            InvalidRequest: the order names accounts that are not in the group.
            IdempotencyKeyReused: the key named a different order.
            RiskRuleViolation: a risk rule of the group refuses it (``strategies.risk``).
        """
        if order.accounts:
            self.groups.get(group)
            known = {account.name for account in self.accounts.list_group(group)}
            unknown = [name for name in order.accounts if name not in known]
            if unknown:
                raise InvalidRequest(
                    f"not accounts of group {group!r}: {', '.join(unknown)}",
                    errors={
                        "accounts": [
                            f"{name!r} is not an account of group {group!r}" for name in unknown
                        ]
                    },
                )
        job = Job(
            id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=order, origin=origin
        )
        return self._submit(job, idempotency_key=idempotency_key, fingerprint=_fingerprint(order))

    def retry_job(
        self, job_id: str, statuses: tuple[ResultStatus, ...], *, checked_brokerage: bool
    ) -> list[Submitted]:
        """Queue new orders for the results of ``job_id`` that did not succeed (``core.retries``).

        Raises:
            NotFound: no such job.
            InvalidRequest: unknown results without ``checked_brokerage``.
            Conflict: not a finished order, nothing to retry, or retried already.
        """
        job = self.jobs.fetch(job_id)
        orders = retry_orders(job, statuses, checked_brokerage=checked_brokerage)
        retries = [
            Job(
                id=new_job_id(),
                kind=JobKind.TRANSACTION,
                group=job.group,
                order=o,
                retry_of=job.id,
            )
            for o in orders
        ]
        first = self.jobs.claim_retry(job_id, [r.id for r in retries])
        if first is not None:
            raise Conflict(
                f"job {job_id} was retried already by job(s) {first}: retry those instead"
            )
        return [self._submit(r) for r in retries]

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued job; it never runs (``JobRegistry.cancel``).

        Raises:
            NotFound: no such job.
            Conflict: it has started or finished.
        """
        return self.jobs.cancel(job_id)

    def refresh_holdings(self, group: str) -> Submitted:
        """Queue a holdings read of every active account. Raises: NotFound."""
        return self._submit(Job(id=new_job_id(), kind=JobKind.HOLDINGS, group=group))

    # Internals --------------------------------------------------------------

    def _submit(
        self,
        job: Job,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        also: Sequence[Write] = (),
    ) -> Submitted:
        if job.kind is JobKind.TRANSACTION and not self.jobs.key_used(job.group, idempotency_key):
            # Before anything is written; a repeat of a submitted order is not counted again.
            risk.check_submission(self.connection, self.settings, job)
        created = self.jobs.create(
            job, idempotency_key=idempotency_key, fingerprint=fingerprint, also=also
        )
        if created is None:
            raise NotFound(f"group {job.group!r} does not exist")
        if not created.created:
            if created.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for a different order in this group; "
                    "use a new key for a new order",
                    errors={"Idempotency-Key": ["already used for a different order"]},
                )
            return Submitted(self.jobs.fetch(created.job_id), created=False)
        return Submitted(job, dispatched=enqueue.submit(job))

    def _forget_group_setup(self, name: str) -> None:
        # What the group was set up with goes with it: a new group of the same name must
        # not inherit scheduled orders, strategies that trade, risk rules or targets.
        ScheduleBook(self.connection, self.settings).delete_group(name)
        SubscriptionBook(self.connection).delete(name)
        SignalBook(self.connection).forget_group(name)
        RiskBook(self.connection).forget(name)
        TargetRegistry(self.connection, self.vault).delete_group(name)

    def _forget_account(self, account: Account) -> None:
        with self.connection.pipeline() as pipe:
            self.vault.wipe(account.group, account.name, pipeline=pipe)
            self.accounts.delete(account.group, account.name, pipeline=pipe)
            if traits_of(account.brokerage).keeps_ledger:
                wipe_ledger(self.connection, account.group, account.name, pipeline=pipe)
            pipe.execute()
        if traits_of(account.brokerage).keeps_worker_state:
            enqueue.forget_account_state(account.group, account.name, account.brokerage)


def _fingerprint(order: OrderRequest) -> str:
    return hashlib.sha256(json.dumps(order.to_dict(), sort_keys=True).encode()).hexdigest()
