"""Housekeeping: the group sweeper, worker heartbeats, the holdings refresh."""

from __future__ import annotations

import logging

from brokers import traits_of
from core.accounts import AccountRegistry
from core.groups import GroupRegistry
from core.workers import record_heartbeat
from tasks import context, names
from tasks.celery import app
from tasks.jobs import runner
from tasks.operations import Operations

log = logging.getLogger(__name__)


# Maintenance runs every few seconds on every worker: no task events for it (Flower and
# `celery events` would be mostly these), so the task list shows the fleet's own work.
# It runs exactly as before; a failure is still logged by the worker.
MAINTENANCE = {"ignore_result": True, "send_events": False}


@app.task(name=names.SWEEP_GROUPS, **MAINTENANCE)
def sweep_groups() -> int:
    """Re-send what keeps any group's head job from moving (``GroupRunner.sweep``).

    Covers a worker that died holding a group's mutex or running a leg, a publish
    that failed (broker down), and a finish that was lost. Returns how many groups
    got something re-sent.
    """
    group_runner = runner()
    nudged = 0
    for group in GroupRegistry(context.connection()).names():
        sent = group_runner.sweep(group)
        if sent:
            log.info("sweeper: group %s: sent %s", group, sent)
            nudged += 1
    return nudged


@app.task(name=names.HEARTBEAT, bind=True, expires=30, **MAINTENANCE)
def heartbeat(self, hostname: str) -> None:
    """Sent by a worker to its own queue: consuming it proves the worker consumes."""
    record_heartbeat(context.connection(), hostname, [])


@app.task(name=names.REFRESH_HOLDINGS, ignore_result=True)
def refresh_holdings() -> list[str]:
    """Queue a holdings job for every group with an active account whose positions are
    not read live from a ledger (those are always current)."""
    connection = context.connection()
    operations = Operations(connection, context.settings())
    accounts = AccountRegistry(connection)
    queued = []
    for group in GroupRegistry(connection).names():
        if any(not traits_of(a.brokerage).keeps_ledger for a in accounts.active(group)):
            queued.append(operations.refresh_holdings(group).job.id)
    return queued
