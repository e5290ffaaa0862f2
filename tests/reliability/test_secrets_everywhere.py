"""One recognisable secret per brokerage, every path run, then everything scanned for it.

Activation, live and dry orders, rejections, login failures, garbage output that
echoes credentials, a hung run killed at its limit, and a 2FA code posted to a
waiting login (the code carries the mark too); then every Redis key and
value (registry, broker queues with their base64 bodies, unacked messages, result
backend), every job record, the API's responses, the worker's log and Flower's
task views must hold none of the secrets in clear.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
import requests

from tests.processes import Flower
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

MARK = "Zq" + secrets.token_hex(4)  # in every secret: easy to find, impossible by chance


def _secret(tag: str) -> str:
    return f"{MARK}{tag}"


def credentials_for(brokerage: str, scenario: str) -> dict[str, str]:
    """Valid credentials whose secret fields carry MARK (and the stand-in's scenario)."""
    password = f"{scenario}-{_secret(brokerage)}"
    token = f"{scenario}-{_secret(brokerage + 'tok')}"
    return {
        "bbae": {"username": f"{MARK}@example.com", "password": password},
        "dspac": {"username": "5551234567", "password": password},
        "chase": {"username": _secret("u"), "password": password, "phone_last4": "1234"},
        "vanguard": {"username": _secret("u"), "password": password, "phone_last4": "4321"},
        "fennel": {"pat_token": token},
        "fidelity": {
            "username": _secret("u"),
            "password": password,
            "totp_secret": _secret("totp"),
        },
        "firstrade": {"username": _secret("u"), "password": password, "second_factor": "1234"},
        "public": {"api_secret_key": token},
        "robinhood": {"username": f"{MARK}@example.com", "password": password},
        "schwab": {"username": _secret("u"), "password": password, "totp_secret": _secret("t")},
        "sofi": {"username": _secret("u"), "password": password},
        "tastytrade": {"provider_secret": token, "refresh_token": _secret("refresh")},
        "tornado": {"email": f"{MARK}@example.com", "password": password},
        "tradier": {"access_token": token},
        "webull": {
            "username": _secret("u"),
            "password": password,
            "did": _secret("did"),
            "trading_pin": "123456",
        },
        "wellsfargo": {"username": _secret("u"), "password": password, "phone_hint": "1234"},
        "paper": {"starting_cash": "50000"},
    }[brokerage]


SCENARIOS = {
    "tradier": "ok",
    "robinhood": "ok",
    "webull": "reject",
    "public": "garbage",
    "schwab": "badlogin",
    "tastytrade": "zero",
    "firstrade": "hang",
}


@pytest.fixture
def flower(worker):
    """Flower on the session broker, started before the jobs so it sees their events."""
    with Flower() as running:
        yield running.url


def test_flower_metrics_need_basic_auth(flower):
    """Flower 2 exempts /metrics from auth; scripts/flowerconfig.py puts it back behind it."""
    assert requests.get(f"{flower}/metrics", timeout=10).status_code == 401
    wrong = requests.get(f"{flower}/metrics", auth=("ops", "wrong"), timeout=10)
    assert wrong.status_code == 401
    metrics = requests.get(f"{flower}/metrics", auth=Flower.auth, timeout=10)
    assert metrics.status_code == 200
    assert "flower_" in metrics.text
    assert requests.get(f"{flower}/healthcheck", timeout=10).text == "OK"  # compose probes it


def _redis_dump(redis_client) -> str:
    chunks = []
    for key in redis_client.scan_iter(count=1000):
        chunks.append(key)
        kind = redis_client.type(key)
        if kind == "string":
            values = [redis_client.get(key) or ""]
        elif kind == "hash":
            values = list(redis_client.hgetall(key).values())
        elif kind == "list":
            values = redis_client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(redis_client.smembers(key))
        elif kind == "zset":
            values = redis_client.zrange(key, 0, -1)
        else:
            values = []
        for value in values:
            chunks.append(value)
            chunks.append(_decoded_body(value))
    return "\n".join(chunks)


def _decoded_body(value: str) -> str:
    """Kombu messages (queues, unacked) carry the task body in base64."""
    try:
        message = json.loads(value)
        if isinstance(message, list):  # the unacked hash stores [message, exchange, routing key]
            message = message[0]
        return base64.b64decode(message["body"]).decode(errors="replace")
    except (ValueError, TypeError, KeyError, IndexError):
        return ""


def test_no_secret_anywhere_after_every_kind_of_run(api, worker, flower, redis_client):
    group = api.create_group()
    api.set_quote("AAPL", "100")
    texts: list[str] = []
    brokerages = sorted(set(SCENARIOS) | {"paper"} | {
        "bbae", "dspac", "chase", "vanguard", "fennel", "fidelity", "sofi", "tornado", "wellsfargo",
    })  # fmt: skip
    activations = []
    for brokerage in brokerages:
        credentials = credentials_for(brokerage, SCENARIOS.get(brokerage, "ok"))
        response = api.post(
            f"/api/v1/groups/{group}/accounts",
            json={"name": f"acct-{brokerage}", "brokerage": brokerage, "credentials": credentials},
        )
        assert response.status_code == 202, (brokerage, response.text)
        texts.append(response.text)
        activations.append(response.json()["job_id"])
    # A login that asks for a code, answered through the API with a code that carries MARK.
    credentials = credentials_for("chase", "otp")
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "acct-chase-otp", "brokerage": "chase", "credentials": credentials},
    )
    assert response.status_code == 202, response.text
    otp_job = response.json()["job_id"]

    def waiting():
        job = api.get(f"/api/v1/jobs/{otp_job}").json()
        texts.append(json.dumps(job))
        return any(w["account"] == "acct-chase-otp" for w in job.get("waiting", []))

    wait_until(waiting, 90, interval=0.1, message="the otp login never waited for a code")
    code = api.post(
        f"/api/v1/jobs/{otp_job}/codes", json={"account": "acct-chase-otp", "code": _secret("c")}
    )
    assert code.status_code == 202, code.text
    texts.append(code.text)
    for job_id in activations:
        texts.append(json.dumps(api.wait_job(job_id, timeout=90)))
    otp_done = api.wait_job(otp_job, timeout=90)
    assert otp_done["state"] == "succeeded", otp_done
    texts.append(json.dumps(otp_done))
    # Later runs of this account would ask again; it has done its part.
    assert api.delete(f"/api/v1/groups/{group}/accounts/acct-chase-otp").status_code == 204

    # A bad credential set answers 422 without echoing it.
    refused = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "bad", "brokerage": "chase", "credentials": {
            "username": _secret("x"), "password": _secret("p:w"), "phone_last4": "NA"}},
    )  # fmt: skip
    assert refused.status_code == 422
    texts.append(refused.text)

    for dry_run in (False, True):
        texts.append(json.dumps(api.order(group, action="buy", symbols=["AAPL"], quantity=1,
                                          dry_run=dry_run)))  # fmt: skip
    holdings = api.post(f"/api/v1/groups/{group}/holdings/refresh").json()["job_id"]
    texts.append(json.dumps(api.wait_job(holdings, timeout=90)))
    for path in ("accounts", "jobs", "positions"):
        texts.append(api.get(f"/api/v1/groups/{group}/{path}").text)

    texts.append(_redis_dump(redis_client))
    texts.append(worker.log_text())

    auth = Flower.auth
    assert requests.get(f"{flower}/api/tasks", timeout=10).status_code == 401  # basic auth is on
    tasks = requests.get(f"{flower}/api/tasks", auth=auth, timeout=10)
    assert tasks.status_code == 200
    assert any(t.get("name") == "tasks.run_leg" for t in tasks.json().values()), (
        "Flower saw no legs"
    )
    texts.append(tasks.text)
    for task_id in list(tasks.json())[:40]:
        texts.append(requests.get(f"{flower}/task/{task_id}", auth=auth, timeout=10).text)

    leaks = [t for t in texts if MARK in t]
    assert not leaks, [t[max(0, t.index(MARK) - 200) : t.index(MARK) + 100] for t in leaks]
