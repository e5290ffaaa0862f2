"""Notifications: decide who to tell (cheaply, on the order path) and deliver on their queue.

:func:`job_finished` is ``GroupRunner``'s ``on_finished`` hook. With no target for
the job's group or the fleet it costs one Redis round trip (two ``SCARD``) and
publishes nothing. Otherwise it publishes one ``deliver_notification`` task per
target and event to the ``notifications`` queue and returns: a slow or dead
receiver never holds up a job, and nothing it does can fail the job.

The task takes ids only (target, event, subject: a job id, ``<job>|<account>``, or
nothing) and re-reads the records, so a message never carries a credential and a
retry sends what is true then. Deliveries are retried with exponential backoff
(about 1, 2, 4 … s, capped at 5 min, ``MAX_RETRIES`` times) when the receiver is
unreachable or answers 5xx or 429; another 4xx is logged and dropped.
"""

from __future__ import annotations

import logging
import time

import redis

import brokers.schwab
from core.codes import CodeRelay
from core.errors import NotFound, VaultError
from core.jobs import JobRegistry
from core.keys import notify_once
from core.models import Job
from core.notifications import TEST_EVENT, Event, Target, TargetRegistry
from core.settings import Settings
from core.vault import Vault
from tasks import context, delivery, names, routing
from tasks.celery import app
from tasks.enqueue import PUBLISH_ERRORS

log = logging.getLogger(__name__)

MAX_RETRIES = 8
RETRY_BACKOFF_MAX_SECONDS = 300
# One announcement per Schwab login and state (expiring, expired, rejected).
_SCHWAB_MARK_SECONDS = 8 * 86400
_SCHWAB_STATES = ("expiring", "expired", "rejected")
# Give up quickly when the broker is away: the job is committed, and a notification is not
# worth holding up its group for.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def targets(connection: redis.Redis, settings: Settings) -> TargetRegistry:
    return TargetRegistry(connection, Vault(connection, settings.secret_keys))


def job_finished(job: Job) -> None:
    """Tell the job's group's and the fleet's targets that ``job`` finished.

    Never raises: a notification must not keep the runner from moving the group on.
    """
    try:
        registry = targets(context.connection(), context.settings())
        if not registry.anyone_listens(job.group):
            return
        for event in delivery.job_events(job):
            publish(registry, job.group, event, job.id)
    except Exception:  # the job is committed; whatever broke here must not stop its group
        log.exception("notifications for job %s not published", job.id)


def code_needed(job_id: str, group: str, account: str) -> int:
    """Tell the targets wanting ``code_needed`` that ``account`` of a job waits for a code.

    Called by ``core.codes.CodeRelay.announce`` (registered below) when a login asks.
    """
    registry = targets(context.connection(), context.settings())
    if not registry.anyone_listens(group):
        return 0
    return publish(registry, group, Event.CODE_NEEDED, f"{job_id}|{account}")


def schwab_token_checked(connection: redis.Redis, settings: Settings) -> int:
    """After a refresher run: announce once that the Schwab login nears its end (or ended)."""
    registry = targets(connection, settings)
    if not registry.anyone_listens(None):
        return 0
    status = brokers.schwab.token_store(connection, settings).status(
        configured=bool(settings.schwab_app_key)
    )
    if status.state.value not in _SCHWAB_STATES:
        return 0
    if not registry.listening(None, Event.SCHWAB_TOKEN):
        return 0
    login = int(status.logged_in_at.timestamp()) if status.logged_in_at else 0
    mark = notify_once(Event.SCHWAB_TOKEN, f"{login}:{status.state.value}")
    if not connection.set(mark, "1", nx=True, ex=_SCHWAB_MARK_SECONDS):
        return 0  # announced already for this login and state
    return publish(registry, None, Event.SCHWAB_TOKEN, "")


def send_test(target: Target) -> str:
    """Queue a test message to ``target``; returns the delivery's id.

    Raises:
        kombu OperationalError: the broker is unreachable (the API answers 503).
    """
    return app.send_task(
        names.DELIVER_NOTIFICATION,
        args=[target.id, TEST_EVENT, ""],
        queue=routing.NOTIFICATIONS_QUEUE,
    ).id


def publish(registry: TargetRegistry, group: str | None, event: str, subject: str) -> int:
    """One delivery task per target of ``group`` (and the fleet) wanting ``event``."""
    sent = 0
    for target in registry.listening(group, event):
        try:
            app.send_task(
                names.DELIVER_NOTIFICATION,
                args=[target.id, str(event), subject],
                queue=routing.NOTIFICATIONS_QUEUE,
                retry_policy=_PUBLISH_RETRY,
            )
            sent += 1
        except PUBLISH_ERRORS as exc:
            log.warning("%s for target %s not published (%s)", event, target.id, exc)
    return sent


@app.task(
    name=names.DELIVER_NOTIFICATION,
    bind=True,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(delivery.DeliveryFailed,),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    time_limit=60,
)
def deliver_notification(self, target_id: str, event: str, subject: str = "") -> None:
    """Send ``event`` about ``subject`` to one target (retried on 5xx, 429, no answer)."""
    deliver(
        context.connection(),
        context.settings(),
        target_id,
        event,
        subject,
        delivery_id=self.request.id or "",
    )


def deliver(
    connection: redis.Redis,
    settings: Settings,
    target_id: str,
    event: str,
    subject: str,
    *,
    delivery_id: str,
) -> bool:
    """Compose and send one notification; False when there is nothing (left) to send.

    Raises:
        delivery.DeliveryFailed: the receiver is unreachable or answered 5xx or 429.
    """
    registry = targets(connection, settings)
    try:
        target = registry.get(target_id)
        message = _compose(connection, settings, target, event, subject)
        destination = registry.destination(target)
    except (NotFound, VaultError) as exc:
        log.warning("notification %s to %s dropped: %s", event, target_id, exc.message)
        return False
    started = time.monotonic()
    try:
        status = delivery.send(
            target,
            destination,
            message,
            delivery_id=delivery_id,
            telegram_api_url=settings.telegram_api_url,
        )
    except delivery.DeliveryRefused as exc:
        log.warning("notification %s dropped: %s", event, exc)
        return False
    log.info(
        "notification %s sent to %s target %s (%s, %.0f ms)",
        event,
        target.kind.value,
        target.id,
        status,
        (time.monotonic() - started) * 1000,
    )
    return True


def _compose(
    connection: redis.Redis, settings: Settings, target: Target, event: str, subject: str
) -> delivery.Message:
    """Raises: NotFound: the job it is about is gone."""
    if event == TEST_EVENT:
        return delivery.compose_test(target)
    if event == Event.SCHWAB_TOKEN:
        # Published by a refresher, so Schwab is configured where it ran.
        return delivery.compose_schwab(brokers.schwab.token_store(connection, settings).status())
    job_id, _, account = subject.partition("|")
    job = JobRegistry(connection).fetch(job_id)
    if event == Event.CODE_NEEDED:
        return delivery.compose_code_needed(job, account)
    return delivery.compose_job(job, event)


CodeRelay.on_waiting(code_needed)
