"""WebSocket ``/ws`` with a real client over real HTTP: sign-in, events, order, slow clients."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest
import websocket

from core import keys
from tests.conftest import unique
from tests.factories import daily_signal
from tests.processes import LiveServer

pytestmark = pytest.mark.integration


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/ws"


def connect(server_url: str, key: str | None, **kwargs) -> websocket.WebSocket:
    ws = websocket.create_connection(ws_url(server_url), timeout=10, **kwargs)
    if key is not None:
        ws.send(json.dumps({"type": "auth", "key": key}))
        ready = json.loads(ws.recv())
        assert ready["type"] == "ready", ready
    return ws


def receive(ws: websocket.WebSocket) -> dict:
    return json.loads(ws.recv())


def receive_until(ws: websocket.WebSocket, test, timeout: float = 20) -> tuple[dict, list[dict]]:
    """Messages until one passes ``test``: (that one, all before it)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = receive(ws)
        if test(message):
            return message, seen
        seen.append(message)
    raise AssertionError(f"no matching message in {timeout}s; saw {seen}")


def close_code(ws: websocket.WebSocket, timeout: float = 10) -> int | None:
    """Read until the server closes; its close code (None if the socket just ended)."""
    ws.settimeout(timeout)
    while True:
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None


def subscribe(ws: websocket.WebSocket, groups=(), quotes=()) -> list[dict]:
    """Subscribe; the current state, which arrives before the ``subscribed`` reply."""
    ws.send(json.dumps({"type": "subscribe", "groups": list(groups), "quotes": list(quotes)}))
    _, state = receive_until(ws, lambda m: m["type"] == "subscribed")
    return state


def test_ws_without_a_key_is_refused(live_server):
    ws = connect(live_server.url, None)
    ws.send(json.dumps({"type": "subscribe", "groups": ["*"]}))
    error = receive(ws)
    assert error["type"] == "error" and "auth" in error["message"]
    assert close_code(ws) == 4401


def test_ws_with_a_wrong_key_is_refused(live_server, api_key):
    ws = connect(live_server.url, None)
    ws.send(json.dumps({"type": "auth", "key": "wrong-" + api_key}))
    assert receive(ws) == {"type": "error", "message": "unknown or revoked API key"}
    assert close_code(ws) == 4401


def test_ws_key_in_the_query_string_is_not_accepted(live_server, api_key):
    ws = websocket.create_connection(ws_url(live_server.url) + "?key=" + api_key, timeout=10)
    ws.send(json.dumps({"type": "ping"}))
    assert receive(ws)["type"] == "error"
    ws.close()


def test_ws_order_events_arrive_in_order_with_results(api, live_server, api_key):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.set_quote("WSA", "10.00")
    ws = connect(live_server.url, api_key)
    state = subscribe(ws, groups=[group])
    assert [m["account"]["name"] for m in state if m["type"] == "account"] == ["alice"]

    ids = []
    for _ in range(3):
        response = api.post(
            f"/api/v1/groups/{group}/transactions",
            json={"action": "buy", "symbols": ["WSA"], "quantity": 1},
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["job_id"])
    states: dict[str, list[str]] = {job_id: [] for job_id in ids}
    finished: dict[str, dict] = {}
    while len(finished) < len(ids):
        message, _ = receive_until(ws, lambda m: m["type"] == "job")
        job = message["job"]
        states[job["id"]].append(job["state"])
        if job["state"] not in ("queued", "running"):
            finished[job["id"]] = job
    for job_id in ids:
        seen = states[job_id]
        assert seen[-1] == "succeeded", seen
        rank = [0 if s == "queued" else 1 if s == "running" else 2 for s in seen]
        assert rank == sorted(rank), seen  # never back to an earlier state
        assert [(r["account"], r["status"]) for r in finished[job_id]["results"]] == [
            ("alice", "dry_run")
        ]
    ws.close()


def test_ws_quotes_current_state_first_then_live(api, live_server, api_key):
    symbol = "WSQ" + unique("q")[-4:].upper().replace("-", "")
    api.set_quote(symbol, "5.00")
    ws = connect(live_server.url, api_key)
    state = subscribe(ws, quotes=[symbol.lower()])
    assert [(m["quote"]["symbol"], m["quote"]["price"], m["snapshot"]) for m in state] == [
        (symbol, "5.00", True)
    ]
    api.set_quote(symbol, "5.25")
    message, _ = receive_until(ws, lambda m: m["type"] == "quote")
    assert (message["quote"]["price"], message["snapshot"]) == ("5.25", False)
    ws.close()


def test_ws_reconnect_gets_unfinished_jobs_first(api, live_server, api_key, redis_client):
    from core.jobs import JobRegistry, new_job_id
    from core.models import Job, JobKind

    # A job written but never sent to a worker: it stays queued, as after a missed event.
    group = api.create_group(prefix="idle")
    job_id = new_job_id()
    assert JobRegistry(redis_client).create(Job(id=job_id, kind=JobKind.HOLDINGS, group=group))
    first = connect(live_server.url, api_key)
    subscribe(first, groups=[group])
    first.close()
    again = connect(live_server.url, api_key)
    state = subscribe(again, groups=[group])
    assert [(m["job"]["id"], m["job"]["state"], m["snapshot"]) for m in state] == [
        (job_id, "queued", True)
    ]
    again.close()
    assert api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200


def test_ws_unknown_group_is_an_error_and_the_rest_still_subscribes(live_server, api_key, api):
    group = api.create_group()
    ws = connect(live_server.url, api_key)
    ws.send(json.dumps({"type": "subscribe", "groups": [group, "no-such-group-x"]}))
    assert receive(ws) == {"type": "error", "message": "no such group: no-such-group-x"}
    reply, _ = receive_until(ws, lambda m: m["type"] == "subscribed")
    assert reply["groups"] == [group]
    ws.close()


@pytest.fixture
def small_queue_server(redis_server):
    from api import create_app

    app = create_app()
    app.config["WS_QUEUE_SIZE"] = 8
    app.config["WS_REVERIFY_SECONDS"] = 0.5
    with LiveServer(app) as server:
        yield server


def test_ws_slow_client_is_dropped_while_others_keep_receiving(
    small_queue_server, api_key, redis_client
):
    symbol = "WSSLOW"
    slow = connect(
        small_queue_server.url,
        api_key,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
    )
    fast = connect(small_queue_server.url, api_key)
    subscribe(slow, quotes=[symbol])
    subscribe(fast, quotes=[symbol])
    padding = "x" * 4000
    fast.settimeout(10)
    for n in range(3000):  # ~12 MB: far more than the slow client's socket buffers hold
        quote = {"symbol": symbol, "price": "1.00", "as_of": f"2026-01-01T{n:06d}"}
        redis_client.publish(keys.quote_events(), json.dumps({**quote, "source": padding}))
        message = receive(fast)  # the fast client keeps up, one event at a time
        assert message["quote"]["as_of"] == quote["as_of"], message
    # Once read, what reached the slow client ends with the close (or a cut-off socket).
    code = close_code(slow, timeout=30)
    assert code in (4008, None)
    fast.close()


def test_ws_two_api_processes_serve_one_stream(api, live_server, api_key):
    """A client of gunicorn (gthread, as in the Procfile) and one of the in-process server."""
    from tests.conftest import worker_env
    from tests.processes import ApiProcess

    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.set_quote("WSG", "3.00")
    with ApiProcess(worker_env()) as other:
        clients = [connect(live_server.url, api_key), connect(other.url, api_key)]
        for ws in clients:
            subscribe(ws, groups=[group])
        response = api.post(
            f"/api/v1/groups/{group}/transactions",
            json={"action": "buy", "symbols": ["WSG"], "quantity": 1},
        )
        job_id = response.json()["job_id"]
        for ws in clients:
            message, _ = receive_until(
                ws, lambda m: m["type"] == "job" and m["job"]["state"] == "succeeded"
            )
            assert message["job"]["id"] == job_id
            ws.close()


def test_ws_malformed_events_do_not_stop_the_stream(live_server, api_key, redis_client, api):
    ws = connect(live_server.url, api_key)
    subscribe(ws, quotes=["WSBAD"])
    for junk in ("not json", "[1, 2]", '{"symbol": "WSBAD"}'):
        redis_client.publish(keys.quote_events(), junk)
    api.set_quote("WSBAD", "7.00")
    message, _ = receive_until(ws, lambda m: m["type"] == "quote" and "price" in m["quote"])
    assert message["quote"]["price"] == "7.00"
    ws.close()


def test_ws_revoked_key_is_shut_out(small_queue_server, redis_client):
    from core.apikeys import ApiKeyStore

    store = ApiKeyStore(redis_client)
    name = unique("ws-revoke")
    ws = connect(small_queue_server.url, store.create(name))
    subscribe(ws, groups=[])
    store.revoke(name)
    # Verified keys are remembered for 5 s, then the next check refuses it.
    assert close_code(ws, timeout=15) == 4401


def test_ws_announces_groups_created_and_deleted_and_accounts_deleted(api, live_server, api_key):
    ws = connect(live_server.url, api_key)
    subscribe(ws, groups=["*"])
    group = api.create_group()
    created, _ = receive_until(ws, lambda m: m["type"] == "group" and m["group"]["name"] == group)
    assert created["snapshot"] is False
    api.add_paper_account(group, "gone")
    assert api.delete(f"/api/v1/groups/{group}/accounts/gone").status_code == 204
    deleted, _ = receive_until(ws, lambda m: m["type"] == "account_deleted")
    assert deleted == {
        "type": "account_deleted", "group": group, "account": "gone", "snapshot": False
    }  # fmt: skip
    assert api.delete(f"/api/v1/groups/{group}").status_code == 204
    gone, _ = receive_until(ws, lambda m: m["type"] == "group_deleted")
    assert gone == {"type": "group_deleted", "group": group, "snapshot": False}
    ws.close()


def test_ws_announces_signals_as_they_are_recorded_and_decided(
    api, live_server, api_key, redis_client
):
    from strategies.signals import SignalBook

    group = api.create_group()
    ws = connect(live_server.url, api_key)
    subscribe(ws, groups=[group], quotes=["WSSIG"])
    book = SignalBook(redis_client)
    signal, new = book.record(
        daily_signal(group, "WSSIG", 1_700_000_000, "buy", 10.5, unique("sub"), auto_trade=True)
    )
    assert new
    recorded, _ = receive_until(ws, lambda m: m["type"] == "signal")
    assert recorded["snapshot"] is False
    assert recorded["signal"]["id"] == signal.id
    assert (recorded["signal"]["outcome"], recorded["signal"]["symbol"]) == ("recorded", "WSSIG")
    signal.outcome, signal.job_id = "submitted", "job-1"
    book.update(signal)
    decided, _ = receive_until(ws, lambda m: m["type"] == "signal")
    assert (decided["signal"]["outcome"], decided["signal"]["job_id"]) == ("submitted", "job-1")
    # A second evaluation of the same bar records nothing and announces nothing.
    assert book.record(signal)[1] is False
    api.set_quote("WSSIG", "1.00")  # a later event on the stream: nothing came before it
    _, before = receive_until(ws, lambda m: m["type"] == "quote" and "price" in m["quote"])
    assert [m for m in before if m["type"] == "signal"] == []
    ws.close()


def test_ws_an_event_behind_what_a_client_was_sent_is_dropped():
    """A job's state only moves forward and its results only grow: an event read back before
    the snapshot a client got (same state, fewer results) would undo what it shows."""
    from api.stream import _Session

    session = _Session.__new__(_Session)  # the delivery rule alone: no socket, no app
    session.job_rank, session.quote_as_of, sent = {}, {}, []
    session.send = sent.append

    def job(state: str, results: int) -> dict:
        return {"type": "job", "job": {"id": "j1", "state": state, "results": [{}] * results}}

    for message in (job("running", 2), job("running", 1), job("queued", 3), job("running", 2),
                    job("running", 3), job("succeeded", 3), job("running", 3)):  # fmt: skip
        session.deliver(message)
    assert [(m["job"]["state"], len(m["job"]["results"])) for m in sent] == [
        ("running", 2),
        ("running", 2),
        ("running", 3),
        ("succeeded", 3),
    ]
