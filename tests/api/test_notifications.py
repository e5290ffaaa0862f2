"""Notifications: targets managed by the API, delivered by a real worker from the
``notifications`` queue to a local HTTP server (webhook signed, Discord, Telegram)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import wait_for
from tests.receiver import Receiver

pytestmark = pytest.mark.integration

UNMASKED_NUMBER = re.compile(r"5QR\d{5}")  # the stand-in AutoRSA's account numbers


@pytest.fixture(scope="module")
def receiver():
    # The workers send Telegram messages to TELEGRAM_API_URL (tests/conftest.py): serve its port.
    telegram = urlsplit(os.environ["TELEGRAM_API_URL"])
    server = Receiver(telegram.port)
    yield server
    server.stop()


@pytest.fixture
def targets(api):
    """Create targets through the API; every one is deleted after the test."""
    created: list[str] = []

    def create(**body) -> dict:
        response = api.post("/api/v1/notifications", json=body)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        return response.json()

    yield create
    for target_id in created:
        api.delete(f"/api/v1/notifications/{target_id}")


def _add_autorsa_account(redis_client, group: str, name: str, password: str) -> None:
    from core.accounts import AccountRegistry
    from core.models import Account, AccountState
    from core.settings import get_settings
    from core.vault import Vault

    Vault(redis_client, get_settings().secret_keys).store(
        group, name, {"username": f"{name}@x.io", "password": password}
    )
    AccountRegistry(redis_client).save(
        Account(group=group, name=name, brokerage="robinhood", state=AccountState.ACTIVE)
    )


def _verify(secret: str, request: dict, max_age: float = 300) -> dict:
    """Check X-Tradefleet-Signature as a receiver would; return the JSON body."""
    header = request["headers"]["X-Tradefleet-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) < max_age, "a stale timestamp: refuse (replay)"
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    return json.loads(request["body"])


def _assert_nothing_secret(bodies: list[bytes], *secrets: str) -> None:
    for body in bodies:
        text = body.decode()
        for secret in secrets:
            assert secret not in text
        assert not UNMASKED_NUMBER.search(text), text


def test_webhook_is_signed_retried_after_a_500_and_holds_no_secret(
    api, redis_client, receiver, targets
):
    group = api.create_group()
    api.set_quote("AAPL", "10")
    api.add_paper_account(group, "p1", cash="1000")
    _add_autorsa_account(redis_client, group, "rh", "ok-pw7")
    path = f"/hook/{uuid.uuid4().hex}"
    receiver.fail_first[path] = 1
    target = targets(kind="webhook", url=receiver.url(path), group=group, events=["job_finished"])
    secret = target["signing_secret"]
    assert target["group"] == group and target["events"] == ["job_finished"]
    assert path not in target["destination"] and target["destination"].endswith("/***")

    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)

    delivered = wait_for(lambda: receiver.at(path), 30, "the webhook was not delivered")
    assert [r["status"] for r in receiver.at(path, None)] == [500, 200]  # retried after the 500
    body = _verify(secret, delivered[0])
    assert delivered[0]["headers"]["X-Tradefleet-Event"] == "job_finished"
    assert body["event"] == "job_finished" and body["group"] == group
    assert body["job"]["id"] == job["id"] and body["job"]["state"] == job["state"]
    accounts = {a["account"]: a for a in body["accounts"]}
    assert set(accounts) == {"p1", "rh"}
    assert accounts["p1"]["status"] == "succeeded" and accounts["p1"]["brokerage"] == "paper"
    assert [(r["symbol"], r["status"]) for r in accounts["p1"]["results"]] == [("AAPL", "filled")]
    assert accounts["rh"]["brokerage"] == "robinhood"
    tampered = dict(delivered[0], body=delivered[0]["body"] + b" ")
    with pytest.raises(AssertionError):
        _verify(secret, tampered)
    # Nothing about the target's secrets in the API's answers either.
    listed = api.get("/api/v1/notifications", params={"group": group}).json()
    assert [t["id"] for t in listed] == [target["id"]]
    assert "signing_secret" not in listed[0]
    _assert_nothing_secret(
        receiver.all_bodies(),
        "ok-pw7",
        "rh@x.io",
        secret,
        os.environ["TRADEFLEET_SECRET_KEY"],
    )


def test_unknown_results_and_failed_accounts_are_announced_without_secrets(
    api, redis_client, receiver, targets
):
    group = api.create_group()
    _add_autorsa_account(redis_client, group, "rh", "garbage-pw3")  # echoes its secrets
    _add_autorsa_account(redis_client, group, "bad", "badlogin-pw4")
    path = f"/hook/{uuid.uuid4().hex}"
    target = targets(
        kind="webhook",
        url=receiver.url(path),
        group=group,
        events=["unknown_result", "account_failed"],
    )

    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)
    statuses = {r["account"]: r["status"] for r in job["results"]}
    assert statuses["rh"] == "unknown", job["results"]
    unknown = wait_for(lambda: receiver.at(path), 30, "unknown_result was not delivered")
    body = _verify(target["signing_secret"], unknown[0])
    assert body["event"] == "unknown_result"
    assert [u["account"] for u in body["unknown"]] == ["rh"]
    assert "check the brokerage" in body["text"]

    response = api.post(f"/api/v1/groups/{group}/holdings/refresh")
    assert response.status_code == 202, response.text
    holdings = api.wait_job(response.json()["job_id"])
    assert {r["account"]: r["status"] for r in holdings["results"]}["bad"] == "failed"
    failed = wait_for(
        lambda: [r for r in receiver.at(path) if b'"account_failed"' in r["body"]],
        30,
        "account_failed was not delivered",
    )
    body = _verify(target["signing_secret"], failed[0])
    assert [f["account"] for f in body["failed"]] == ["bad"]
    assert len(receiver.at(path)) == 2  # nothing for events the target did not ask for
    _assert_nothing_secret(
        receiver.all_bodies(), "garbage-pw3", "badlogin-pw4", "rh@x.io", "bad@x.io"
    )


def test_discord_target_gets_discord_webhook_json(api, receiver, targets):
    group = api.create_group()
    api.add_paper_account(group, "p1")
    path = f"/api/webhooks/123/{uuid.uuid4().hex}"  # a Discord webhook's token is in its path
    target = targets(kind="discord", url=receiver.url(path), group=group)
    assert "signing_secret" not in target
    assert target["destination"] == f"http://127.0.0.1:{receiver.port}/***"

    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1)

    request = wait_for(lambda: receiver.at(path), 30, "discord was not called")[0]
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert job["id"][:8] in body["content"]
    embed = body["embeds"][0]
    assert job["id"][:8] in embed["title"] and group in embed["description"]
    assert embed["fields"] == [{"name": "p1", "value": "AAPL dry_run", "inline": True}]
    assert body["allowed_mentions"] == {"parse": []}


def test_telegram_target_gets_a_bot_api_message(api, receiver, targets):
    group = api.create_group()
    api.add_paper_account(group, "p1")
    token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ_0987"
    target = targets(kind="telegram", bot_token=token, chat_id=-100123456, group=group)
    assert token not in json.dumps(target) and target["destination"].endswith("***3456")
    assert token not in api.get(f"/api/v1/notifications/{target['id']}").text

    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1)

    path = f"/telegram/bot{token}/sendMessage"
    body = json.loads(wait_for(lambda: receiver.at(path), 30, "telegram was not called")[0]["body"])
    assert body["chat_id"] == "-100123456"
    assert job["id"][:8] in body["text"] and "p1 (paper): succeeded (AAPL dry_run)" in body["text"]


def test_test_endpoint_sends_a_signed_test_message(api, receiver, targets):
    path = f"/hook/{uuid.uuid4().hex}"
    # Fleet-wide, but wanting only schwab_token: the suite's jobs publish nothing to it.
    target = targets(kind="webhook", url=receiver.url(path), events=["schwab_token"])
    assert target["group"] is None

    response = api.post(f"/api/v1/notifications/{target['id']}/test")

    assert response.status_code == 202, response.text
    assert response.json()["queue"] == "notifications"
    request = wait_for(lambda: receiver.at(path), 30, "the test was not delivered")[0]
    body = _verify(target["signing_secret"], request)
    assert body["event"] == "test" and body["delivery"] == response.json()["delivery"]
    assert api.post("/api/v1/notifications/nope/test").status_code == 404


def test_delete_removes_a_target(api, targets):
    target = targets(kind="discord", url="https://discord.example/api/webhooks/1/x")
    assert api.delete(f"/api/v1/notifications/{target['id']}").status_code == 204
    assert api.get(f"/api/v1/notifications/{target['id']}").status_code == 404
    assert api.delete(f"/api/v1/notifications/{target['id']}").status_code == 404
    assert target["id"] not in [t["id"] for t in api.get("/api/v1/notifications").json()]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"kind"}),
        ({"kind": "pager", "url": "https://x.example"}, {"kind"}),
        ({"kind": "webhook"}, {"url"}),
        ({"kind": "webhook", "url": "ftp://x.example/hook"}, {"url"}),
        ({"kind": "webhook", "url": "https://x.example", "chat_id": 1}, {"chat_id"}),
        ({"kind": "telegram", "chat_id": 1}, {"bot_token"}),
        ({"kind": "telegram", "bot_token": "nope", "chat_id": "x y"}, {"bot_token", "chat_id"}),
        ({"kind": "discord", "url": "https://x.example", "events": []}, {"events"}),
        ({"kind": "discord", "url": "https://x.example", "events": ["party"]}, {"events"}),
        ({"kind": "discord", "url": "https://x.example", "group": "Bad Name"}, {"group"}),
        ({"kind": "discord", "url": "https://x.example", "group": "t-nosuchgroup"}, {"group"}),
        ({"kind": "discord", "url": "https://x.example", "secret": "x"}, {"secret"}),
    ],
)
def test_bad_target_is_422_naming_the_fields(api, body, fields):
    response = api.post("/api/v1/notifications", json=body)

    assert response.status_code == 422, response.text
    assert set(response.json()["errors"]["json"]) == fields


def test_job_without_target_publishes_no_notification(api, redis_client, targets, monkeypatch):
    from core.jobs import JobRegistry
    from tasks import notify, routing

    group = api.create_group()
    api.add_paper_account(group, "p1")
    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1)
    assert redis_client.llen(routing.NOTIFICATIONS_QUEUE) == 0  # nothing was queued for it

    sent: list[tuple] = []
    monkeypatch.setattr(
        notify.app,
        "send_task",
        lambda name, args, queue, **_options: sent.append((name, args, queue)),
    )
    finished = JobRegistry(redis_client).fetch(job["id"])
    notify.job_finished(finished)
    assert sent == []

    target = targets(kind="discord", url="https://discord.example/api/webhooks/1/x", group=group)
    notify.job_finished(finished)
    assert sent == [
        ("tasks.deliver_notification", [target["id"], "job_finished", job["id"]], "notifications")
    ]


def test_schwab_login_near_its_end_is_announced_once(api, redis_client, receiver, targets):
    import dataclasses

    from brokers.schwab import LOGIN_COMMAND, token_store
    from brokers.schwab.tokens import TokenGrant
    from core import keys
    from core.settings import get_settings
    from tasks import notify

    settings = dataclasses.replace(get_settings(), schwab_app_key="test-app")
    path = f"/hook/{uuid.uuid4().hex}"
    target = targets(kind="webhook", url=receiver.url(path), events=["schwab_token"])
    saved = redis_client.hgetall(keys.schwab_refresh())
    grant = TokenGrant("access-tok-55", 1800, "refresh-tok-66")
    try:
        token_store(redis_client, settings).save_login(grant, now=time.time() - 6.5 * 86400)

        assert notify.schwab_token_checked(redis_client, settings) == 1
        assert notify.schwab_token_checked(redis_client, settings) == 0  # once per login, state

        request = wait_for(lambda: receiver.at(path), 30, "schwab_token was not delivered")[0]
        body = _verify(target["signing_secret"], request)
        assert body["event"] == "schwab_token" and body["schwab"]["state"] == "expiring"
        assert LOGIN_COMMAND in body["text"]  # what to do about it
        _assert_nothing_secret([request["body"]], "access-tok-55", "refresh-tok-66")
    finally:
        redis_client.delete(keys.schwab_refresh(), keys.schwab_access())
        if saved:
            redis_client.hset(keys.schwab_refresh(), mapping=saved)


def test_unknown_query_parameter_is_422(api):
    response = api.get("/api/v1/notifications", params={"grup": "x"})

    assert response.status_code == 422, response.text
    assert "grup" in response.json()["errors"]["query"]
