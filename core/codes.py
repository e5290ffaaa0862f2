"""Two-factor codes on demand: a waiting AutoRSA run, the person, and Redis between them.

The worker running an account's AutoRSA process and the API answering the
person are different processes (often different machines); Redis is all they
share. Per job:

* ``keys.job_waiting(job)``: hash account → JSON :class:`CodeWait` while that
  account's run waits for a code (or for an approval in the brokerage's app).
  Written and deleted by the run; an entry past its deadline counts as gone.
* ``keys.job_code(job, account)``: a one-element list holding a code on its
  way; the run pops it (``BLPOP``), so it exists only between the ``POST`` and
  the read, and expires with the deadline if nobody reads it.
* ``keys.job_captcha(job, account)``: the captcha image (base64 PNG) a BBAE or
  DSPAC login asks about, until the answer.

A code is never logged and never stored anywhere else; :func:`check_code` is
the one rule for what may reach a process's stdin.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum

import redis

from core import keys
from core.errors import Conflict, InvalidRequest, NotFound
from core.models import from_iso, to_iso

_log = logging.getLogger(__name__)
# Told when an account starts waiting for a code (see CodeRelay.on_waiting).
_WAITING_LISTENERS: list[Callable[[str, str, str], None]] = []

MAX_CODE_LENGTH = 16
# How long an abandoned waiting hash outlives the latest deadline in it (a worker died).
_WAITING_GRACE_SECONDS = 60


class PromptKind(StrEnum):
    """What a waiting run needs from the person."""

    CODE = "code"  # type a code (``POST /jobs/<id>/codes``)
    APPROVAL = "approval"  # approve the login in the brokerage's app; nothing to type


@dataclass(frozen=True)
class CodeWait:
    """One account's run waiting on the person.

    Attributes:
        account: the account's name.
        brokerage: its brokerage.
        kind: a code to type, or an approval in the app.
        prompt: what AutoRSA asked, scrubbed (e.g. ``Enter code:``).
        deadline: when the run stops waiting (UTC); then the process is stopped.
        captcha: whether a captcha image is offered (``GET /jobs/<id>/captcha``).
    """

    account: str
    brokerage: str
    kind: PromptKind
    prompt: str
    deadline: datetime
    captcha: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["deadline"] = to_iso(self.deadline)
        data["deadline_epoch"] = self.deadline.timestamp()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CodeWait:
        data = json.loads(text)
        return cls(
            account=data["account"],
            brokerage=data["brokerage"],
            kind=PromptKind(data["kind"]),
            prompt=data["prompt"],
            deadline=from_iso(data["deadline"]) or datetime.now(UTC),
            captcha=bool(data.get("captcha")),
        )


def check_code(code: object) -> str:
    """The code to type, or why it cannot be one.

    A code is one line of 1 to 16 printable ASCII characters (surrounding
    spaces are dropped). Nothing else a client sends ever reaches a process.

    Raises:
        InvalidRequest: ``code`` is not such a line; the message never repeats it.
    """
    text = code.strip(" ") if isinstance(code, str) else ""
    if not text or len(text) > MAX_CODE_LENGTH or not all(" " <= c <= "~" for c in text):
        raise InvalidRequest(
            "invalid code",
            errors={"code": [f"must be one line of 1 to {MAX_CODE_LENGTH} printable characters"]},
        )
    return text


# KEYS: waiting hash, code list, captcha. ARGV: account, code, now (epoch s).
# A code goes out only to an account waiting for one right now; the entry is
# removed in the same step, so a second POST for the same prompt is refused.
_DELIVER = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local wait = cjson.decode(raw)
local left = tonumber(wait['deadline_epoch']) - tonumber(ARGV[3])
if wait['kind'] ~= 'code' or left <= 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], math.ceil(left * 1000) + 1000)
return 1
"""


class CodeRelay:
    """Carries codes from the API to waiting AutoRSA runs through Redis.

    Args:
        connection: a Redis client (``decode_responses=True``).
    """

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._deliver = connection.register_script(_DELIVER)

    # The run's side -----------------------------------------------------------

    @staticmethod
    def on_waiting(listener: Callable[[str, str, str], None]) -> None:
        """Call ``listener(job_id, group, account)`` whenever an account starts waiting
        (notifications register here; this layer cannot import them)."""
        if listener not in _WAITING_LISTENERS:
            _WAITING_LISTENERS.append(listener)

    def announce(self, job_id: str, group: str, wait: CodeWait, captcha_png: bytes = b"") -> None:
        """Show that ``wait.account`` waits now (and publish it on the job-events channel)."""
        left = max(1, math.ceil(wait.deadline.timestamp() - time.time()))
        pipe = self.connection.pipeline(transaction=True)
        if captcha_png:
            pipe.set(
                keys.job_captcha(job_id, wait.account),
                base64.b64encode(captcha_png).decode(),
                ex=left + _WAITING_GRACE_SECONDS,
            )
        pipe.hset(keys.job_waiting(job_id), wait.account, wait.to_json())
        pipe.expire(keys.job_waiting(job_id), left + _WAITING_GRACE_SECONDS)
        pipe.publish(keys.job_events(), _event(job_id, group, "waiting", wait))
        pipe.execute()
        for listener in _WAITING_LISTENERS:
            try:
                listener(job_id, group, wait.account)
            except Exception:  # a listener must never stop the wait; its own errors are logged
                _log.exception("a listener of waiting accounts failed")

    def take(self, job_id: str, account: str, timeout: float) -> str | None:
        """The code delivered for ``account``, waiting up to ``timeout`` s; it is gone
        from Redis once read. ``None`` if none came."""
        popped = self.connection.blpop([keys.job_code(job_id, account)], timeout=max(timeout, 0.01))
        return popped[1] if popped else None

    def clear(self, job_id: str, group: str, account: str, *, captcha: bool = True) -> None:
        """``account`` no longer waits: drop its entry, any undelivered code and, unless
        ``captcha`` is false, its captcha."""
        pipe = self.connection.pipeline(transaction=True)
        pipe.hdel(keys.job_waiting(job_id), account)
        pipe.delete(keys.job_code(job_id, account))
        if captcha:
            pipe.delete(keys.job_captcha(job_id, account))
        removed = pipe.execute()[0]
        if removed:
            self.connection.publish(keys.job_events(), _over(job_id, group, account))

    # The API's side -----------------------------------------------------------

    def waiting(self, job_id: str) -> list[CodeWait]:
        """The job's accounts waiting now, by account name."""
        now = datetime.now(UTC)
        found = [
            CodeWait.from_json(raw)
            for raw in self.connection.hgetall(keys.job_waiting(job_id)).values()
        ]
        return sorted((w for w in found if w.deadline > now), key=lambda w: w.account)

    def deliver(self, job_id: str, account: str, code: object, *, group: str = "") -> None:
        """Hand ``code`` to ``account``'s waiting run (``group``: the job's, for the event
        saying the account no longer waits).

        Raises:
            InvalidRequest: not a code (:func:`check_code`).
            Conflict: ``account`` is not waiting for a code now (never was, its
                deadline passed, or a code was delivered already).
        """
        text = check_code(code)
        delivered = self._deliver(
            keys=[
                keys.job_waiting(job_id),
                keys.job_code(job_id, account),
                keys.job_captcha(job_id, account),
            ],
            args=[account, text, repr(time.time())],
        )
        if not delivered:
            raise Conflict(f"account {account!r} of job {job_id} is not waiting for a code")
        self.connection.publish(keys.job_events(), _over(job_id, group, account))

    def captcha(self, job_id: str, account: str) -> bytes:
        """The captcha image ``account``'s run asks about (PNG bytes).

        Raises:
            NotFound: no captcha is waiting for an answer.
        """
        encoded = self.connection.get(keys.job_captcha(job_id, account))
        if not encoded:
            raise NotFound(f"no captcha is waiting for an answer from account {account!r}")
        return base64.b64decode(encoded)


def _over(job_id: str, group: str, account: str) -> str:
    return json.dumps({"id": job_id, "group": group, "event": "waiting_over", "account": account})


def _event(job_id: str, group: str, event: str, wait: CodeWait) -> str:
    return json.dumps(
        {
            "id": job_id,
            "group": group,
            "event": event,
            "account": wait.account,
            "brokerage": wait.brokerage,
            "prompt_kind": wait.kind.value,
            "prompt": wait.prompt,
            "deadline": to_iso(wait.deadline),
            "captcha": wait.captcha,
        }
    )
