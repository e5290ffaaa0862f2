"""Which queues a worker consumes, kept in step with the registry.

At start a worker consumes every group queue it serves (``TRADEFLEET_WORKER_GROUPS``
limits it to some groups, by name or glob) and every brokerage queue it serves
(``TRADEFLEET_WORKER_BROKERAGES``). A new group reaches running workers through
the ``tradefleet_sync_groups`` broadcast the API sends; a background thread also
re-syncs every few seconds, so a worker that missed the broadcast (it was
reconnecting) catches up, and sends itself a heartbeat task through its own
queue, which proves it still consumes.

The re-sync leaves an operator's choices alone. A queue cancelled on this worker
(``celery -A tasks control cancel_consumer group.family -d celery@host``) stays
cancelled here until an operator adds it back (``control add_consumer``); a queue an
operator added that this worker does not serve by its settings stays consumed. Only
queues of deleted groups are dropped, and a cancelled queue whose group is deleted is
forgotten (a new group of that name is served again). The choices live in the worker
process: a restarted worker starts from its settings again.
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


def _existing_queues() -> tuple[set[str], set[str]]:
    """(every queue that exists, the queues this worker serves by its settings)."""
    settings = context.settings()
    groups = GroupRegistry(context.connection()).names()
    existing = {routing.group_queue(g) for g in groups}
    existing |= {routing.brokerage_queue(b) for b in AUTORSA_BROKERAGES}
    wanted = {
        routing.group_queue(g) for g in groups if routing.serves_group(g, settings.worker_groups)
    }
    brokerages = settings.worker_brokerages or AUTORSA_BROKERAGES
    wanted |= {routing.brokerage_queue(b) for b in brokerages if b != routing.NONE}
    # Every worker delivers notifications, whatever its -Q (a slow receiver never waits on
    # a busy group's worker).
    existing.add(routing.NOTIFICATIONS_QUEUE)
    wanted.add(routing.NOTIFICATIONS_QUEUE)
    return existing, wanted


def wanted_queues() -> set[str]:
    """The queues this worker serves by its settings."""
    return _existing_queues()[1]


class _OperatorChoices:
    """What the last sync left consumed, and the queues an operator cancelled since."""

    def __init__(self) -> None:
        self.consumed: set[str] = set()
        self.cancelled: set[str] = set()


def _choices(consumer) -> _OperatorChoices:
    choices = getattr(consumer, "_tradefleet_choices", None)
    if choices is None:
        choices = _OperatorChoices()
        consumer._tradefleet_choices = choices
    return choices


def sync_queues(consumer) -> dict[str, list[str]]:
    """Consume the queues this worker should, keep an operator's cancels and adds, and stop
    consuming deleted groups' queues."""
    ours = (routing.GROUP_PREFIX, routing.BROKERAGE_PREFIX, routing.NOTIFICATIONS_QUEUE)
    connected = consumer.task_consumer is not None
    current = {q.name for q in consumer.task_consumer.queues} if connected else set()
    current = {q for q in current if q.startswith(ours)}
    existing, wanted = _existing_queues()
    choices = _choices(consumer)
    if connected:
        # A sync never stops a queue it serves: one gone since the last sync was cancelled
        # by an operator; one back in `current` was added back.
        choices.cancelled |= choices.consumed - current
        choices.cancelled -= current
    choices.cancelled &= existing  # a deleted group's cancel is forgotten
    added = sorted(wanted - current - choices.cancelled)
    removed = sorted(current - existing)
    for queue in added:
        consumer.add_task_queue(queue)
    for queue in removed:
        consumer.cancel_task_queue(queue)
    if connected:
        choices.consumed = (current | set(added)) - set(removed)
    if added or removed:
        log.info("queues synced: added %s, removed %s", added, removed)
    return {"added": added, "removed": removed, "cancelled": sorted(choices.cancelled)}


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
