"""The live stream: WebSocket ``/ws`` over Redis pub/sub (job, account and quote events).

Every API process keeps one :class:`Hub`: one thread subscribed to the job-events and
quote-events channels of ``core.keys``, fanning each event out to the clients of this
process that asked for it. Any process can therefore serve any client.

Each client has a bounded queue. The hub never waits for a client: when a client's
queue is full the client is dropped (close code 4008) and the others keep receiving.
A job's events are read from one channel by one thread, so they reach every client in
the order they were published; a client never sees a job go back to an earlier state
(the current state sent on subscribing may be newer than an event still queued).

The message format is in the README ("Live stream").
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time
from typing import Any

import redis
from flask import Flask, current_app
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from api import auth, deps
from api.stream_messages import account_message, job_messages, job_schema
from core import keys
from core.accounts import AccountRegistry
from core.codes import CodeRelay
from core.connection import redis_client
from core.errors import NotFound
from core.groups import GroupRegistry
from core.jobs import JobRegistry
from core.models import JobState
from core.quotes import QuoteBook

log = logging.getLogger("api.stream")

PATH = "/ws"
ALL = "*"  # subscribe to every group or every symbol
QUEUE_SIZE = 256  # events waiting for one client before it is dropped (app.config WS_QUEUE_SIZE)
AUTH_SECONDS = 10.0  # the first message (the key) must arrive within this
REVERIFY_SECONDS = 30.0  # a revoked key is shut out within about this long (WS_REVERIFY_SECONDS)
FORCE_CLOSE_SECONDS = 5.0  # a dropped client still blocked in a send is cut off after this
MAX_SUBSCRIPTIONS = 500
MAX_TRACKED_JOBS = 10_000  # jobs whose last state one connection remembers

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_SLOW = 4008
CLOSE_STREAM_LOST = 1011

_EXTENSION = "tradefleet.stream"
_RANK = {JobState.QUEUED.value: 0, JobState.RUNNING.value: 1}  # every other state: terminal, 2


class Client:
    """One connected WebSocket: what it follows and the events waiting for it."""

    def __init__(self, ws, queue_size: int) -> None:
        self.ws = ws
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self.groups: set[str] = set()
        self.symbols: set[str] = set()
        self.dropped = threading.Event()
        self.lost = threading.Event()
        self._lock = threading.Lock()

    def wants_group(self, group: str) -> bool:
        with self._lock:
            return ALL in self.groups or group in self.groups

    def wants_symbol(self, symbol: str) -> bool:
        with self._lock:
            return ALL in self.symbols or symbol in self.symbols

    def follow(self, groups: set[str], symbols: set[str]) -> None:
        with self._lock:
            self.groups |= groups
            self.symbols |= symbols

    def unfollow(self, groups: set[str], symbols: set[str]) -> None:
        with self._lock:
            self.groups -= groups
            self.symbols -= symbols

    def offer(self, message: dict[str, Any]) -> bool:
        """Queue ``message`` without waiting; False (and the client is dropped) when full."""
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            self.dropped.set()
            threading.Timer(FORCE_CLOSE_SECONDS, self.cut_off).start()
            return False
        return True

    def cut_off(self) -> None:
        """Shut the socket of a dropped client whose thread is still blocked sending."""
        sock = getattr(self.ws, "sock", None)
        if sock is not None and self.ws.connected:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class Hub:
    """One pub/sub subscriber per process, fanning events out to its clients."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, client: Client) -> None:
        with self._lock:
            self._clients.add(client)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tf-ws-hub", daemon=True)
                self._thread.start()

    def remove(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def clients(self) -> list[Client]:
        with self._lock:
            return list(self._clients)

    def _run(self) -> None:
        connection = redis_client(self.app.extensions["tradefleet"].redis_url)
        while True:
            pubsub = connection.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(keys.job_events(), keys.quote_events())
                while self.clients():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        with self.app.app_context():
                            self._dispatch(connection, message)
            except redis.RedisError as error:
                log.warning("ws: event stream lost (%s); closing clients so they resync", error)
                for client in self.clients():
                    client.lost.set()
                time.sleep(0.5)
            finally:
                pubsub.close()
            with self._lock:
                if not self._clients:  # checked under the lock that add() takes
                    self._thread = None
                    return

    def _dispatch(self, connection: redis.Redis, message: dict) -> None:
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("ws: ignored a malformed event on %s", message.get("channel"))
            return
        if not isinstance(event, dict):
            log.warning("ws: ignored a malformed event on %s", message.get("channel"))
            return
        try:
            self._fan_out(connection, message["channel"], event)
        except redis.RedisError:
            raise
        except Exception:  # one bad event must not stop the stream of every client
            log.exception("ws: could not fan out an event on %s", message["channel"])

    def _fan_out(self, connection: redis.Redis, channel: str, event: dict) -> None:
        if channel == keys.quote_events():
            targets = [c for c in self.clients() if c.wants_symbol(str(event.get("symbol")))]
            outgoing = [{"type": "quote", "quote": event, "snapshot": False}] if targets else []
        else:
            targets = [c for c in self.clients() if c.wants_group(str(event.get("group")))]
            outgoing = job_messages(connection, event) if targets else []
        for client in targets:
            for item in outgoing:
                if not client.offer(item):
                    self.remove(client)
                    break


def init_app(app: Flask) -> None:
    app.config.setdefault("WS_QUEUE_SIZE", QUEUE_SIZE)
    app.config.setdefault("WS_REVERIFY_SECONDS", REVERIFY_SECONDS)
    app.extensions[_EXTENSION] = Hub(app)
    sock = Sock(app)

    @sock.route(PATH, endpoint="stream")
    def stream(ws) -> None:
        serve(ws)


class _Session:
    """The server side of one client: sign-in, subscriptions, then events."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.app = current_app._get_current_object()
        self.hub: Hub = self.app.extensions[_EXTENSION]
        self.client = Client(ws, self.app.config["WS_QUEUE_SIZE"])
        self.connection = deps.connection()
        # Per job: (state rank, results so far), which only grow; an event behind is older.
        self.job_rank: dict[str, tuple[int, int]] = {}
        self.quote_as_of: dict[str, str] = {}

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(self.app.json.dumps(message))

    def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.ws.close(reason=code, message=reason)

    def sign_in(self) -> str | None:
        raw = self.ws.receive(timeout=AUTH_SECONDS)
        message = _parse(raw)
        key = message.get("key") if message and message.get("type") == "auth" else None
        if not isinstance(key, str) or not key.strip():
            text = 'sign in first: send {"type": "auth", "key": "<api key>"}'
            self.send({"type": "error", "message": text})
            self.close(CLOSE_UNAUTHENTICATED, "API key required")
            return None
        name = auth.verify_key(key.strip())
        if name is None:
            self.send({"type": "error", "message": "unknown or revoked API key"})
            self.close(CLOSE_UNAUTHENTICATED, "unknown or revoked API key")
            return None
        self.send({"type": "ready", "key_name": name})
        return key.strip()

    def run(self) -> None:
        key = self.sign_in()
        if key is None:
            return
        self.hub.add(self.client)
        checked = time.monotonic()
        try:
            while self.ws.connected:
                if self.client.dropped.is_set():
                    self.close(CLOSE_TOO_SLOW, "too slow: events were not read in time")
                    return
                if self.client.lost.is_set():
                    self.close(CLOSE_STREAM_LOST, "event stream lost: reconnect to resync")
                    return
                if time.monotonic() - checked > self.app.config["WS_REVERIFY_SECONDS"]:
                    checked = time.monotonic()
                    if auth.verify_key(key) is None:
                        self.send({"type": "error", "message": "API key revoked"})
                        self.close(CLOSE_UNAUTHENTICATED, "API key revoked")
                        return
                raw = self.ws.receive(timeout=0)
                if raw is not None:
                    self.handle(_parse(raw))
                    continue
                try:
                    self.deliver(self.client.queue.get(timeout=0.05))
                except queue.Empty:
                    continue
        finally:
            self.hub.remove(self.client)

    def deliver(self, message: dict[str, Any]) -> None:
        """Send ``message`` unless it is older than what this client was already sent."""
        if message["type"] == "job":
            job = message["job"]
            rank = (_RANK.get(job.get("state"), 2), len(job.get("results") or ()))
            if rank < self.job_rank.get(job["id"], (-1, 0)):
                return
            if len(self.job_rank) >= MAX_TRACKED_JOBS:  # forget finished jobs, not live ones
                self.job_rank = {i: r for i, r in self.job_rank.items() if r[0] < 2}
            self.job_rank[job["id"]] = rank
        elif message["type"] == "quote":
            quote = message["quote"]
            as_of = str(quote.get("as_of", ""))
            if as_of < self.quote_as_of.get(quote.get("symbol"), ""):
                return
            self.quote_as_of[quote.get("symbol")] = as_of
        self.send(message)

    def handle(self, message: dict | None) -> None:
        kind = message.get("type") if message else None
        if kind == "ping":
            self.send({"type": "pong"})
            return
        if kind not in ("subscribe", "unsubscribe"):
            text = "expected a message of type subscribe, unsubscribe or ping"
            self.send({"type": "error", "message": text})
            return
        groups, symbols, problem = _targets(message)
        if problem:
            self.send({"type": "error", "message": problem})
            return
        if kind == "unsubscribe":
            self.client.unfollow(groups, symbols)
        else:
            self.subscribe(groups, symbols)
        self.send(
            {
                "type": kind + "d",
                "groups": sorted(self.client.groups),
                "quotes": sorted(self.client.symbols),
            }
        )

    def subscribe(self, groups: set[str], symbols: set[str]) -> None:
        """Follow ``groups`` and ``symbols``, then send their current state.

        Following first, then reading the state, misses nothing: an event published in
        between waits in the queue, and :meth:`deliver` drops it if it is older.
        """
        known = set(GroupRegistry(self.connection).names())
        missing = sorted(g for g in groups if g != ALL and g not in known)
        if missing:
            self.send({"type": "error", "message": f"no such group: {', '.join(missing)}"})
            groups = groups - set(missing)
        self.client.follow(groups, symbols)
        for group in sorted(known if ALL in groups else groups):
            for account in AccountRegistry(self.connection).list_group(group):
                self.send(account_message(group, account, snapshot=True))
            registry = JobRegistry(self.connection)
            for job_id in registry.pending(group):
                try:
                    job = registry.fetch(job_id)
                except NotFound:
                    continue  # finished and deleted in between
                job.waiting = CodeRelay(self.connection).waiting(job.id)
                self.deliver({"type": "job", "job": job_schema.dump(job), "snapshot": True})
        book = QuoteBook(self.connection)
        quotes = book.all() if ALL in symbols else filter(None, map(book.find, sorted(symbols)))
        for quote in quotes:
            self.deliver(
                {"type": "quote", "quote": json.loads(quote.to_message()), "snapshot": True}
            )


def _parse(raw: object) -> dict | None:
    try:
        message = json.loads(raw) if isinstance(raw, (str, bytes)) else None
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _targets(message: dict) -> tuple[set[str], set[str], str]:
    groups, symbols = message.get("groups", []), message.get("quotes", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return set(), set(), 'groups must be a list of group names (or "*")'
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        return set(), set(), 'quotes must be a list of symbols (or "*")'
    if len(groups) + len(symbols) > MAX_SUBSCRIPTIONS:
        return set(), set(), f"at most {MAX_SUBSCRIPTIONS} groups and symbols per message"
    return set(groups), {s if s == ALL else s.strip().upper() for s in symbols}, ""


def serve(ws) -> None:
    """Serve one WebSocket client until it leaves, is dropped or the stream is lost."""
    session = _Session(ws)
    try:
        session.run()
    except redis.RedisError:
        session.send({"type": "error", "message": "Redis is not answering; reconnect shortly"})
        session.close(CLOSE_STREAM_LOST, "Redis is not answering")
