"""Credentials appear nowhere in clear: not in Redis, task messages, results, responses or logs."""

import base64
import json
import uuid

import pytest

pytestmark = pytest.mark.integration

SECRET = f"Sekr1t-{uuid.uuid4().hex[:12]}"


def _everything_in_redis(redis_client) -> str:
    chunks = []
    for key in redis_client.scan_iter(count=1000):
        kind = redis_client.type(key)
        if kind == "string":
            chunks.append(redis_client.get(key) or "")
        elif kind == "hash":
            chunks.append(json.dumps(redis_client.hgetall(key)))
        elif kind == "list":
            chunks.extend(redis_client.lrange(key, 0, -1))
        elif kind == "set":
            chunks.extend(redis_client.smembers(key))
        elif kind == "zset":
            chunks.extend(redis_client.zrange(key, 0, -1))
    return "\n".join(chunks)


def _decoded_messages(raw_messages: list[str]) -> str:
    """Kombu wraps task bodies in base64: decode them so the check sees the arguments."""
    decoded = []
    for raw in raw_messages:
        message = json.loads(raw)
        decoded.append(raw)
        decoded.append(base64.b64decode(message["body"]).decode(errors="replace"))
    return "\n".join(decoded)


def test_credentials_never_appear_in_clear(api, worker, redis_client):
    group = api.create_group()
    responses = [
        api.post(
            f"/api/v1/groups/{group}/accounts",
            json={"name": "tr1", "brokerage": "tradier", "credentials": {"access_token": SECRET}},
        ),
        api.post(
            f"/api/v1/groups/{group}/accounts",
            json={
                "name": "rh1",
                "brokerage": "robinhood",
                "credentials": {"username": "someone@example.com", "password": SECRET + "rh"},
            },
        ),
    ]
    jobs = [api.wait_job(r.json()["job_id"]) for r in responses]
    api.set_quote("AAPL", "10")
    api.add_paper_account(group, "p1")
    jobs.append(api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False))

    # Messages that wait in a queue nobody consumes show exactly what a task carries.
    idle = f"x-{uuid.uuid4().hex[:8]}"
    api.post("/api/v1/groups", json={"name": idle})
    api.post(
        f"/api/v1/groups/{idle}/accounts",
        json={"name": "tr2", "brokerage": "tradier", "credentials": {"access_token": SECRET}},
    )
    waiting = _decoded_messages(redis_client.lrange(f"group.{idle}", 0, -1))
    assert idle in waiting and "tasks.advance_group" in waiting
    assert SECRET not in waiting

    texts = [r.text for r in responses] + [json.dumps(j) for j in jobs]
    for path in (f"/api/v1/groups/{group}/accounts", f"/api/v1/groups/{group}/jobs"):
        texts.append(api.get(path).text)
    texts.append(_everything_in_redis(redis_client))
    texts.append(worker.log_text())
    for text in texts:
        assert SECRET not in text
