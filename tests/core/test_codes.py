"""``core.codes``: the waiting hash, one-shot delivery, deadlines, captcha, the code rule."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from core import keys
from core.codes import CodeRelay, CodeWait, PromptKind, check_code
from core.errors import Conflict, InvalidRequest, NotFound
from tests.conftest import unique

pytestmark = pytest.mark.integration


def _wait(account="a1", kind=PromptKind.CODE, seconds=30.0, captcha=False) -> CodeWait:
    return CodeWait(
        account=account,
        brokerage="chase",
        kind=kind,
        prompt="Enter code:",
        deadline=datetime.now(UTC) + timedelta(seconds=seconds),
        captcha=captcha,
    )


@pytest.mark.parametrize("code", ["123456", " 123456 ", "W7KQ", "a" * 16, "ab cd"])
def test_check_code_accepts_one_printable_line(code) -> None:
    assert check_code(code) == code.strip()


@pytest.mark.parametrize(
    "code", ["", "   ", "1\n2", "1\r", "123456\n", "\t1", "a" * 17, "\x00", "é", None, 12]
)
def test_check_code_refuses_anything_else_without_repeating_it(code) -> None:
    with pytest.raises(InvalidRequest) as raised:
        check_code(code)
    assert str(code) not in raised.value.message or code in ("", "   ")


def test_code_goes_to_a_waiting_account_once_and_is_gone_when_read(redis_client) -> None:
    relay, job = CodeRelay(redis_client), unique("job")
    relay.announce(job, "g", _wait())
    assert [w.account for w in relay.waiting(job)] == ["a1"]
    relay.deliver(job, "a1", "654321", group="g")
    assert relay.waiting(job) == []  # delivered: no longer waiting
    with pytest.raises(Conflict):
        relay.deliver(job, "a1", "111111")
    assert 0 < redis_client.pttl(keys.job_code(job, "a1")) <= 31000
    assert relay.take(job, "a1", 1) == "654321"
    assert not redis_client.exists(keys.job_code(job, "a1"))
    assert relay.take(job, "a1", 0.1) is None


def test_take_blocks_until_a_code_arrives(redis_client) -> None:
    relay, job = CodeRelay(redis_client), unique("job")
    relay.announce(job, "g", _wait())
    threading.Timer(0.3, relay.deliver, args=(job, "a1", "777777")).start()
    started = time.monotonic()
    assert relay.take(job, "a1", 5) == "777777"
    assert time.monotonic() - started < 3


def test_no_code_for_an_approval_an_expired_wait_or_a_stranger(redis_client) -> None:
    relay, job = CodeRelay(redis_client), unique("job")
    relay.announce(job, "g", _wait("app", kind=PromptKind.APPROVAL))
    relay.announce(job, "g", _wait("late", seconds=-1))
    for account in ("app", "late", "nobody"):
        with pytest.raises(Conflict):
            relay.deliver(job, account, "123456")
    assert [w.account for w in relay.waiting(job)] == ["app"]  # the expired one is hidden
    with pytest.raises(InvalidRequest):
        relay.deliver(job, "app", "12\n34")


def test_clear_removes_the_wait_an_undelivered_code_and_the_captcha(redis_client) -> None:
    relay, job = CodeRelay(redis_client), unique("job")
    events = redis_client.pubsub(ignore_subscribe_messages=True)
    events.subscribe(keys.job_events())
    relay.announce(job, "g", _wait(captcha=True), b"\x89PNG fake")
    assert relay.captcha(job, "a1") == b"\x89PNG fake"
    relay.deliver(job, "a1", "123456")
    relay.clear(job, "g", "a1")
    assert not redis_client.exists(keys.job_code(job, "a1"))
    with pytest.raises(NotFound):
        relay.captcha(job, "a1")
    assert redis_client.hgetall(keys.job_waiting(job)) == {}
    published = []
    deadline = time.monotonic() + 5
    while len(published) < 2 and time.monotonic() < deadline:
        message = events.get_message(timeout=0.5)
        if message and json.loads(message["data"]).get("id") == job:
            published.append(json.loads(message["data"]))
    assert [e["event"] for e in published] == ["waiting", "waiting_over"]
    assert published[0]["prompt_kind"] == "code" and published[0]["captcha"] is True
    assert all("123456" not in json.dumps(e) for e in published)
    events.close()


def test_waiting_hash_expires_after_the_latest_deadline(redis_client) -> None:
    relay, job = CodeRelay(redis_client), unique("job")
    relay.announce(job, "g", _wait(seconds=10))
    assert 10 < redis_client.ttl(keys.job_waiting(job)) <= 71


def test_announce_tells_waiting_listeners_and_notifications_listen(redis_client):
    import tasks.notify
    from core import codes

    heard = []
    codes.CodeRelay.on_waiting(lambda job, group, account: heard.append((job, group, account)))
    codes.CodeRelay(redis_client).announce("job-w", "grp-w", _wait("a9"))
    assert heard[-1] == ("job-w", "grp-w", "a9")
    assert tasks.notify.code_needed in codes._WAITING_LISTENERS
