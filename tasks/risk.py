"""The group's risk rules (``strategies.risk``), checked where orders enter and where legs run.

Submission (``tasks.operations``) checks an order before anything is written and
counts it against the day's limit; each leg checks it again just before it places
anything, so a rule changed in between (the kill switch) still wins.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import redis

from brokers import get_broker, traits_of
from core.accounts import AccountRegistry
from core.models import Job
from core.settings import Settings
from strategies.risk import RiskBook


def paper_equity(connection: redis.Redis, settings: Settings, group: str) -> Decimal:
    """What the group's ledger-keeping (paper) accounts are worth now: cash plus
    positions at the last quotes."""
    total = Decimal(0)
    adapters = {}
    for account in AccountRegistry(connection).list_group(group):
        if not traits_of(account.brokerage).keeps_ledger:
            continue
        if account.brokerage not in adapters:
            adapters[account.brokerage] = get_broker(
                account.brokerage, connection=connection, settings=settings, group=group
            )
        holdings = adapters[account.brokerage].account_holdings(account.name)
        total += Decimal(holdings.total or "0")
    return total


def check_submission(connection: redis.Redis, settings: Settings, job: Job) -> None:
    """Raises RiskRuleViolation (recorded in the audit list) when a rule refuses the order;
    counts it against the day's limit when it passes."""
    _check(connection, settings, job, where="api", count=True)


def leg_guard(connection: redis.Redis, settings: Settings) -> Callable[[Job], None]:
    """The check a leg makes before it places anything (raises RiskRuleViolation)."""
    return lambda job: _check(connection, settings, job, where="worker", count=False)


def _check(
    connection: redis.Redis, settings: Settings, job: Job, *, where: str, count: bool
) -> None:
    RiskBook(connection).check(
        job.group,
        job.order,
        job_id=job.id,
        where=where,
        paper_equity=lambda: paper_equity(connection, settings, job.group),
        count=count,
    )
