"""What a notification says, and how it reaches a webhook, Discord or Telegram.

:func:`compose` builds a :class:`Message` from records (a job, the Schwab login's
status), re-read when the delivery runs; :func:`send` posts it in the target's
format. A message never holds a credential: free text taken from results (details,
errors) has its account-number-like runs masked again (``xxxx1234``), though AutoRSA
output is scrubbed before it is stored.

Webhooks are signed: ``X-Tradefleet-Signature: t=<unix time>,v1=<hex>`` where
``hex`` is HMAC-SHA256 of ``<t>.<body>`` with the target's signing secret. A receiver
recomputes it over the raw body and refuses a stale ``t`` (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from brokers.autorsa.scrub import mask_account_numbers
from core.models import Job, JobState, LegResult, ResultStatus, summarise, to_iso, utcnow
from core.notifications import TEST_EVENT, Destination, Event, Target, TargetKind

SIGNATURE_HEADER = "X-Tradefleet-Signature"
EVENT_HEADER = "X-Tradefleet-Event"
DELIVERY_HEADER = "X-Tradefleet-Delivery"
TIMEOUT_SECONDS = 10.0
_DETAIL_LIMIT = 300
_DISCORD_CONTENT_LIMIT = 2000
_DISCORD_FIELDS_LIMIT = 25
_TELEGRAM_TEXT_LIMIT = 4096
_COLOURS = {"good": 0x2E7D32, "warn": 0xF9A825, "bad": 0xC62828}


class DeliveryFailed(Exception):
    """The receiver answered 5xx or 429, or was unreachable: usually temporary, so the
    delivery is retried. The message names the target, never its URL or token."""


class DeliveryRefused(Exception):
    """The receiver answered another 4xx (a wrong URL, token or chat): retrying won't help."""


@dataclass(frozen=True)
class Message:
    """One notification: a line for people, and the data for programs.

    Attributes:
        event: the event's name (``Event`` or ``"test"``).
        title: short, e.g. ``Job 1a2b3c4d succeeded``.
        text: the whole message in plain text.
        mood: ``good``, ``warn`` or ``bad`` (Discord's embed colour).
        data: JSON-able facts: the job, its per-account summary, and so on.
        fields: ``(name, value)`` pairs shown as a table where the format has one.
    """

    event: str
    title: str
    text: str
    mood: str = "good"
    data: dict[str, Any] = field(default_factory=dict)
    fields: tuple[tuple[str, str], ...] = ()


# Composing ---------------------------------------------------------------------------


def clean(text: str) -> str:
    """Free text safe to send: account-number-like runs masked, bounded in length."""
    text = mask_account_numbers(text or "")
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def job_events(job: Job) -> list[Event]:
    """The events a finished job raises (``job_finished`` always)."""
    events = [Event.JOB_FINISHED]
    if any(r.status is ResultStatus.UNKNOWN for r in job.results):
        events.append(Event.UNKNOWN_RESULT)
    if failed_accounts(job):
        events.append(Event.ACCOUNT_FAILED)
    return events


def failed_accounts(job: Job) -> list[dict[str, str]]:
    """The accounts an activation or holdings job failed for (account, brokerage, detail)."""
    if job.kind.value not in ("activate", "holdings"):
        return []
    failed = [
        {"account": r.account, "brokerage": r.brokerage, "detail": clean(r.detail)}
        for r in job.results
        if r.status is ResultStatus.FAILED
    ]
    if not failed and job.state is JobState.FAILED and job.account:
        failed = [{"account": job.account, "brokerage": "", "detail": clean(job.error)}]
    return failed


def _result(r: LegResult) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "status": r.status.value,
        "quantity": r.quantity,
        "price": r.price,
        "detail": clean(r.detail),
    }


def _job_facts(job: Job) -> dict[str, Any]:
    order = job.order
    return {
        "id": job.id,
        "kind": job.kind.value,
        "group": job.group,
        "state": job.state.value,
        "account": job.account,
        "order": None
        if order is None
        else {
            "action": order.action.value,
            "symbols": list(order.symbols),
            "quantity": order.to_dict()["quantity"],
            "dry_run": order.dry_run,
        },
        "error": clean(job.error),
        "created_at": to_iso(job.created_at),
        "finished_at": to_iso(job.finished_at),
    }


def _what(job: Job) -> str:
    if job.order is not None:
        order = job.order.to_dict()
        dry = " (dry run)" if job.order.dry_run else ""
        return f"{order['action']} {order['quantity']} {', '.join(order['symbols'])}{dry}"
    return f"{job.kind.value} {job.account}".strip()


def _per_account(job: Job) -> list[dict[str, Any]]:
    by_account: dict[str, list[LegResult]] = {}
    for r in job.results:
        by_account.setdefault(r.account, []).append(r)
    return [
        {
            "account": name,
            "brokerage": results[0].brokerage,
            "status": summarise(results).value,
            "results": [_result(r) for r in results],
        }
        for name, results in sorted(by_account.items())
    ]


def _mood(state: JobState) -> str:
    if state is JobState.SUCCEEDED:
        return "good"
    return "bad" if state in (JobState.FAILED, JobState.UNKNOWN) else "warn"


def compose_job(job: Job, event: str) -> Message:
    """The message of ``event`` about a finished ``job``."""
    head = f"Job {job.id[:8]} in group {job.group} ({_what(job)})"
    facts = {"job": _job_facts(job)}
    if event == Event.UNKNOWN_RESULT:
        unknown = [
            {"account": r.account, "brokerage": r.brokerage, **_result(r)}
            for r in job.results
            if r.status is ResultStatus.UNKNOWN
        ]
        facts["unknown"] = unknown
        lines = [f"{u['account']} {u['symbol'] or ''}: {u['detail']}".strip() for u in unknown]
        return Message(
            event=event,
            title=f"Job {job.id[:8]}: {len(unknown)} unknown outcome(s)",
            text=f"{head}: {len(unknown)} outcome(s) unknown: check the brokerage before "
            "retrying.\n" + "\n".join(lines),
            mood="bad",
            data=facts,
            fields=tuple((u["account"], f"{u['symbol'] or ''} unknown") for u in unknown),
        )
    if event == Event.ACCOUNT_FAILED:
        failed = failed_accounts(job)
        facts["failed"] = failed
        lines = [f"{f['account']}: {f['detail']}" for f in failed]
        return Message(
            event=event,
            title=f"Job {job.id[:8]}: {len(failed)} account(s) failed {job.kind.value}",
            text=f"{head}: {len(failed)} account(s) failed.\n" + "\n".join(lines),
            mood="bad",
            data=facts,
            fields=tuple((f["account"], f["detail"] or "failed") for f in failed),
        )
    accounts = _per_account(job)
    counts = Counter(r.status.value for r in job.results)
    facts.update(accounts=accounts, counts=dict(sorted(counts.items())))
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no results"
    lines = [f"{a['account']} ({a['brokerage']}): {a['status']} ({_outcomes(a)})" for a in accounts]
    error = f"\n{clean(job.error)}" if job.error else ""
    return Message(
        event=Event.JOB_FINISHED,
        title=f"Job {job.id[:8]} {job.state.value}",
        text=f"{head} finished: {job.state.value} ({summary}).{error}\n" + "\n".join(lines),
        mood=_mood(job.state),
        data=facts,
        fields=tuple((a["account"], _outcomes(a)) for a in accounts),
    )


def _outcomes(account: dict[str, Any]) -> str:
    """``AAPL filled, MSFT rejected``, or the one status of a non-order result."""
    return ", ".join(
        f"{r['symbol']} {r['status']}" if r["symbol"] else r["status"] for r in account["results"]
    )


def compose_code_needed(job: Job, account: str) -> Message:
    """The message that ``account`` of ``job`` waits for a 2FA code or an app approval."""
    return Message(
        event=Event.CODE_NEEDED,
        title=f"Job {job.id[:8]}: {account} needs a code",
        text=f"Job {job.id[:8]} in group {job.group}: account {account} waits for a 2FA code "
        f"or an approval in the brokerage's app: POST /api/v1/jobs/{job.id}/codes",
        mood="warn",
        data={"job": _job_facts(job), "account": account},
    )


def compose_schwab(status) -> Message:
    """The message of the Schwab login's status (``brokers.schwab.TokenStatus``)."""
    ends = to_iso(status.refresh_token_expires_at)
    return Message(
        event=Event.SCHWAB_TOKEN,
        title=f"Schwab login {status.state.value}",
        text=f"Schwab: {status.message}" + (f" (the login ends at {ends})" if ends else ""),
        mood="bad" if status.state.value in ("expired", "rejected") else "warn",
        data={"schwab": {"state": status.state.value, "refresh_token_expires_at": ends}},
    )


def compose_test(target: Target) -> Message:
    scope = f"group {target.group}" if target.group else "the whole fleet"
    return Message(
        event=TEST_EVENT,
        title="tradefleet test notification",
        text=f"Test from tradefleet: this {target.kind.value} target ({scope}) works.",
        data={"target": {"id": target.id, "group": target.group or None}},
    )


# Sending -----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Tradefleet-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_body(message: Message, target: Target, delivery_id: str) -> bytes:
    body = {
        "event": message.event,
        "delivery": delivery_id,
        "sent_at": to_iso(utcnow()),
        "group": target.group or None,
        "title": message.title,
        "text": message.text,
        **message.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def discord_body(message: Message) -> dict[str, Any]:
    content = f"**{message.title}**"
    embed: dict[str, Any] = {
        "title": message.title[:256],
        "description": message.text[:4096],
        "color": _COLOURS.get(message.mood, _COLOURS["good"]),
        "timestamp": to_iso(utcnow()),
    }
    if message.fields:
        embed["fields"] = [
            {"name": name[:256], "value": (value or "-")[:1024], "inline": True}
            for name, value in message.fields[:_DISCORD_FIELDS_LIMIT]
        ]
    return {
        "content": content[:_DISCORD_CONTENT_LIMIT],
        "embeds": [embed],
        "allowed_mentions": {"parse": []},  # nobody is pinged by a name in a result
    }


def telegram_body(message: Message, chat_id: str) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "text": message.text[:_TELEGRAM_TEXT_LIMIT],
        "disable_web_page_preview": True,
    }


def send(
    target: Target,
    destination: Destination,
    message: Message,
    *,
    delivery_id: str,
    telegram_api_url: str,
    session: requests.Session | None = None,
) -> int:
    """Post ``message`` to ``target``; returns the receiver's status code.

    Raises:
        DeliveryFailed: it answered 5xx or 429, or could not be reached (retry later).
        DeliveryRefused: it answered another 4xx (retrying won't help).
    """
    http = session or requests
    if target.kind is TargetKind.WEBHOOK:
        body = webhook_body(message, target, delivery_id)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(destination.signing_secret, int(time.time()), body),
            EVENT_HEADER: message.event,
            DELIVERY_HEADER: delivery_id,
        }
        url, request = destination.url, {"data": body, "headers": headers}
    elif target.kind is TargetKind.DISCORD:
        url, request = destination.url, {"json": discord_body(message)}
    else:
        url = f"{telegram_api_url}/bot{destination.bot_token}/sendMessage"
        request = {"json": telegram_body(message, destination.chat_id)}
    try:
        response = http.post(url, timeout=TIMEOUT_SECONDS, **request)
    except requests.RequestException as exc:
        # Its message holds the URL, which may carry a token (Discord, Telegram): not chained.
        raise DeliveryFailed(
            f"{target.kind.value} target {target.id} unreachable ({type(exc).__name__})"
        ) from None
    status = response.status_code
    if status >= 500 or status == 429:
        raise DeliveryFailed(f"{target.kind.value} target {target.id} answered {status}")
    if status >= 400:
        raise DeliveryRefused(f"{target.kind.value} target {target.id} answered {status}")
    return status
