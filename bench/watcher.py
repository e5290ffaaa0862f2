"""Waiting for one job or one no-op task to end, timed from the records, not from waking up."""

from __future__ import annotations

import json
import time

import redis

from bench.errors import BenchError
from bench.workload import TERMINAL
from core import keys
from core.models import from_iso


class Watcher:
    """Wakes on the job-events channel (and the no-op channel); reads the job record to be sure.

    Times are taken from the records (the job's ``finished_at``, the no-op's own clock), not
    from when this process woke, so the waiting method does not bias the figures. Without an
    event the record is read every 20 ms, so a system that publishes no events is still
    measured right, only paced more slowly.

    Raises (from the constructor):
        BenchError: the subscriptions were not confirmed within 10 s.
    """

    def __init__(self, url: str, noop_channel: str) -> None:
        self.connection = redis.Redis.from_url(url, decode_responses=True)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(keys.job_events(), noop_channel)
        self.noop_channel = noop_channel
        # Both subscriptions confirmed before anything is sent.
        confirmed = 0
        deadline = time.monotonic() + 10
        while confirmed < 2 and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message and message["type"] == "subscribe":
                confirmed += 1
        if confirmed < 2:
            self.close()
            raise BenchError("could not subscribe to the job-events channel")
        self.pubsub.ignore_subscribe_messages = True

    def close(self) -> None:
        self.pubsub.close()
        self.connection.close()

    def _record(self, job_id: str) -> tuple[str, str]:
        state, finished = self.connection.hmget(keys.job(job_id), "state", "finished_at")
        return state or "", finished or ""

    def wait_job(self, job_id: str, timeout: float) -> tuple[str, float]:
        """Wait until ``job_id`` is terminal; returns its state and ``finished_at`` (epoch s).

        Raises:
            BenchError: not finished after ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        next_look = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.02)
            seen = False
            if message and message["channel"] != self.noop_channel:
                event = json.loads(message["data"])
                seen = event.get("id") == job_id and event.get("state") in TERMINAL
            if seen or time.monotonic() >= next_look:
                state, finished = self._record(job_id)
                if state in TERMINAL and finished:
                    return state, from_iso(finished).timestamp()
                next_look = time.monotonic() + 0.02
        raise BenchError(f"job {job_id} not finished after {timeout} s")

    def wait_noop(self, seq: int, timeout: float) -> float:
        """Wait for no-op ``seq`` to run; returns the time it ran (epoch s).

        Raises:
            BenchError: it did not run within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.05)
            if message and message["channel"] == self.noop_channel:
                got, at = message["data"].split()
                if int(got) == seq:
                    return float(at)
        raise BenchError(f"no-op task {seq} did not run within {timeout} s")
