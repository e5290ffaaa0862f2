"""What the API does, once, for both transports (``/api/v1`` and the compatibility routes).

Each operation validates, writes to the registry and enqueues by task name;
none waits for a worker.
"""

from __future__ import annotations

from decimal import Decimal

from api import deps
from brokers.credentials import validate_credentials
from brokers.paper import PaperLedger
from core.errors import AlreadyExists, Conflict, InvalidRequest
from core.jobs import new_job_id
from core.models import (
    NAME_RULE,
    Account,
    AccountState,
    Group,
    Job,
    JobKind,
    OrderAction,
    OrderRequest,
    OrderType,
    is_valid_name,
)
from core.retries import retry_orders
from tasks import enqueue


def create_group(name: str) -> Group:
    group = deps.groups().create(name)
    enqueue.announce_groups_changed()
    return group


def delete_group(name: str) -> None:
    """Delete a group with its accounts, credentials, ledgers and job history.

    Raises:
        NotFound: no such group.
        Conflict: it still has jobs waiting or running.
    """
    deps.groups().get(name)
    if deps.jobs().pending(name):
        raise Conflict(
            f"group {name!r} still has unfinished jobs; wait for them before deleting it"
        )
    for account in deps.accounts().list_group(name):
        _forget_account(account)
    deps.jobs().delete_group_jobs(name)
    deps.groups().delete(name)
    enqueue.announce_groups_changed()


def add_account(group: str, name: str, brokerage: str, credentials: object) -> Job:
    """Register an account (or re-activate an inactive or failed one with new credentials).

    Raises:
        NotFound: no such group.
        InvalidRequest: the credentials do not fit the brokerage (fields named).
        AlreadyExists: an account of that name is pending or active.
    """
    deps.groups().get(group)
    if not is_valid_name(name):
        raise InvalidRequest("invalid account name", errors={"name": [f"must be {NAME_RULE}"]})
    clean = validate_credentials(brokerage, credentials)
    existing = deps.accounts().find(group, name)
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
    connection = deps.connection()
    with connection.pipeline() as pipe:
        deps.vault().store(group, name, clean, pipeline=pipe)
        deps.accounts().save(account, pipeline=pipe)
        pipe.execute()
    return _enqueue(Job(id=new_job_id(), kind=JobKind.ACTIVATE, group=group, account=name))


def deactivate_account(group: str, name: str) -> Job:
    """Raises: NotFound: no such group or account."""
    deps.groups().get(group)
    deps.accounts().get(group, name)
    return _enqueue(Job(id=new_job_id(), kind=JobKind.DEACTIVATE, group=group, account=name))


def delete_account(group: str, name: str) -> None:
    """Forget an account and wipe its credentials now. Raises: NotFound."""
    deps.groups().get(group)
    _forget_account(deps.accounts().get(group, name))


def submit_transaction(
    group: str, order: OrderRequest, idempotency_key: str | None
) -> tuple[Job, bool]:
    """Queue an order for the group's active accounts.

    Returns:
        The job and whether it was created now (False: the idempotency key
        already named a job, which is returned instead).
    """
    deps.groups().get(group)
    job = Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=order)
    if idempotency_key:
        first = deps.jobs().claim_idempotency_key(group, idempotency_key, job.id)
        if first is not None:
            return deps.jobs().fetch(first), False
    return _enqueue(job), True


def retry_job(job_id: str, statuses, *, checked_brokerage: bool) -> list[Job]:
    """Queue new orders for the results of ``job_id`` that did not succeed (see core.retries).

    Raises:
        NotFound: no such job.
        InvalidRequest: unknown results without ``checked_brokerage``.
        Conflict: not a finished order, nothing to retry, or retried already.
    """
    job = deps.jobs().fetch(job_id)
    orders = retry_orders(job, statuses, checked_brokerage=checked_brokerage)
    retries = [
        Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=job.group, order=o) for o in orders
    ]
    first = deps.jobs().claim_retry(job_id, [r.id for r in retries])
    if first is not None:
        raise Conflict(f"job {job_id} was retried already by job(s) {first}: retry those instead")
    return [_enqueue(r) for r in retries]


def refresh_holdings(group: str) -> Job:
    deps.groups().get(group)
    return _enqueue(Job(id=new_job_id(), kind=JobKind.HOLDINGS, group=group))


def order_from(data: dict) -> OrderRequest:
    limit = data.get("limit_price")
    return OrderRequest(
        action=OrderAction(data["action"]),
        symbols=tuple(dict.fromkeys(data["symbols"])),
        quantity=Decimal(str(data["quantity"])),
        dry_run=data.get("dry_run", True),
        order_type=OrderType(data.get("order_type") or "market"),
        limit_price=None if limit is None else Decimal(str(limit)),
        brokerages=tuple(data.get("brokerages") or ()),
        accounts=tuple(data.get("accounts") or ()),
    )


def _enqueue(job: Job) -> Job:
    deps.jobs().create(job)
    enqueue.submit(job)
    return job


def _forget_account(account: Account) -> None:
    connection = deps.connection()
    with connection.pipeline() as pipe:
        deps.vault().wipe(account.group, account.name, pipeline=pipe)
        deps.accounts().delete(account.group, account.name, pipeline=pipe)
        if account.brokerage == "paper":
            PaperLedger(connection).wipe(account.group, account.name, pipeline=pipe)
        pipe.execute()
    if account.brokerage != "paper":
        enqueue.forget_account_state(account.group, account.name, account.brokerage)
