"""Which queues a worker consumes, kept in step with the registry.

At start a worker consumes every group queue it serves (``TRADEFLEET_WORKER_GROUPS``
limits it to some groups, by name or glob) and every brokerage queue it serves
(``TRADEFLEET_WORKER_BROKERAGES``). A new group reaches running workers through
the ``tradefleet_sync_groups`` broadcast the API sends; a background thread also
re-syncs every few seconds, so a worker that missed the broadcast (it was
reconnecting) catches up, and sends itself a heartbeat task through its own
queue, which proves it still consumes.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import signals
from celery.utils.nodenames import worker_direct
from celery.worker.control import control_command

from brokers.credentials import AUTORSA_BROKERAGES
from core.groups import GroupRegistry
from tasks import context, names, routing

log = logging.getLogger(__name__)

SYNC_INTERVAL_SECONDS = 10.0
SYNC_COMMAND = names.SYNC_GROUPS_COMMAND


def wanted_queues() -> set[str]:
    settings = context.settings()
    groups = GroupRegistry(context.connection()).names()
    wanted = {
        routing.group_queue(g) for g in groups if routing.serves_group(g, settings.worker_groups)
    }
    brokerages = settings.worker_brokerages or AUTORSA_BROKERAGES
    wanted |= {routing.brokerage_queue(b) for b in brokerages if b != routing.NONE}
    return wanted


def sync_queues(consumer) -> dict[str, list[str]]:
    """Consume the queues this worker should and stop consuming deleted groups'."""
    current = {q.name for q in consumer.task_consumer.queues} if consumer.task_consumer else set()
    wanted = wanted_queues()
    added = sorted(wanted - current)
    removed = sorted(
        q
        for q in current - wanted
        if q.startswith((routing.GROUP_PREFIX, routing.BROKERAGE_PREFIX))
    )
    for queue in added:
        consumer.add_task_queue(queue)
    for queue in removed:
        consumer.cancel_task_queue(queue)
    if added or removed:
        log.info("queues synced: added %s, removed %s", added, removed)
    return {"added": added, "removed": removed}


@control_command(name=SYNC_COMMAND)
def tradefleet_sync_groups(state) -> dict:
    """Remote control: re-read the groups and adjust consumed queues."""
    return {"ok": sync_queues(state.consumer)}


@signals.worker_ready.connect
def _on_worker_ready(sender, **_kwargs) -> None:
    sync_queues(sender)
    thread = threading.Thread(
        target=_keep_in_step,
        args=(sender.app, sender.hostname),
        name="tradefleet-sync",
        daemon=True,
    )
    thread.start()


def _keep_in_step(app, hostname: str) -> None:
    while True:
        try:
            app.control.broadcast(SYNC_COMMAND, destination=[hostname])
            app.send_task(names.HEARTBEAT, args=[hostname], queue=worker_direct(hostname).name)
        except Exception as exc:  # broker away: the next round retries; never kill the thread
            log.warning(
                "queue sync skipped (%s); retrying in %ss",
                type(exc).__name__,
                SYNC_INTERVAL_SECONDS,
            )
        time.sleep(SYNC_INTERVAL_SECONDS)
