"""Operations metrics for Grafana, read from Redis and written to InfluxDB by beat.

Measurements (one point per tag set at each collection, timestamp = collection time):

* ``jobs`` (tags ``state``, ``kind``; field ``count``): jobs created in the last
  ``WINDOW_SECONDS``, by state and kind.
* ``results`` (tags ``brokerage``, ``status``; field ``count``): per-account results of
  those jobs, by brokerage and status.
* ``queues`` (tag ``queue``; field ``depth``): messages waiting in each Celery queue.
* ``latency`` (tag ``kind``; fields ``wait_p50``, ``wait_p95``, ``run_p50``, ``run_p95``
  in seconds, ``count``): of jobs that finished in the last ``LATENCY_SECONDS``;
  wait = created to started, run = started to finished.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

import redis

from core import keys
from core.models import from_iso, utcnow
from ingest.store import lines

WINDOW_SECONDS = 24 * 3600
LATENCY_SECONDS = 300
MAX_JOBS_PER_GROUP = 2000
_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: <queue>\x06\x16<priority>


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def queue_depths(
    connection: redis.Redis, prefixes: Iterable[str], static: Iterable[str] = ()
) -> dict[str, int]:
    """Messages waiting per Celery queue (kombu's Redis lists), priorities summed."""
    depths: dict[str, int] = {name: 0 for name in static}
    names = set(static)
    for prefix in prefixes:
        names.update(connection.scan_iter(match=f"{prefix}*", count=500, _type="list"))
    names = sorted(names)
    with connection.pipeline() as pipe:
        for name in names:
            pipe.llen(name)
        for name, depth in zip(names, pipe.execute(), strict=True):
            base = name.split(_PRIORITY_SEP)[0]
            depths[base] = depths.get(base, 0) + int(depth)
    return depths


def collect(
    connection: redis.Redis,
    *,
    queue_prefixes: Iterable[str] = (),
    static_queues: Iterable[str] = (),
    now: datetime | None = None,
) -> list[str]:
    """Line protocol (second precision) of every operations measurement, now."""
    now = now or utcnow()
    stamp = lines.epoch_seconds(now)
    since = now.timestamp() - WINDOW_SECONDS
    job_ids: list[str] = []
    for group in sorted(connection.smembers(keys.groups())):
        job_ids += connection.zrevrangebyscore(
            keys.group_jobs(group), "+inf", since, start=0, num=MAX_JOBS_PER_GROUP
        )
    fields = ("state", "kind", "created_at", "started_at", "finished_at")
    with connection.pipeline() as pipe:
        for job_id in job_ids:
            pipe.hmget(keys.job(job_id), fields)
            pipe.hvals(keys.job_results(job_id))
        replies = pipe.execute()
    jobs: Counter = Counter()
    results: Counter = Counter()
    waits: dict[str, list[float]] = defaultdict(list)
    runs: dict[str, list[float]] = defaultdict(list)
    for record, result_values in zip(replies[::2], replies[1::2], strict=True):
        state, kind, created, started, finished = record
        if not state:
            continue
        jobs[state, kind or ""] += 1
        for value in result_values:
            result = json.loads(value)
            results[result.get("brokerage", ""), result.get("status", "")] += 1
        finished_at = from_iso(finished)
        if finished_at and (now - finished_at).total_seconds() <= LATENCY_SECONDS and started:
            created_at, started_at = from_iso(created), from_iso(started)
            waits[kind].append(max(0.0, (started_at - created_at).total_seconds()))
            runs[kind].append(max(0.0, (finished_at - started_at).total_seconds()))
    out = [
        lines.point("jobs", {"state": s, "kind": k}, {"count": n}, stamp)
        for (s, k), n in sorted(jobs.items())
    ]
    out += [
        lines.point("results", {"brokerage": b, "status": s}, {"count": n}, stamp)
        for (b, s), n in sorted(results.items())
    ]
    depths = queue_depths(connection, queue_prefixes, static_queues)
    out += [lines.point("queues", {"queue": q}, {"depth": d}, stamp) for q, d in depths.items()]
    for kind in sorted(waits):
        out.append(
            lines.point(
                "latency",
                {"kind": kind},
                {
                    "wait_p50": _percentile(waits[kind], 0.5),
                    "wait_p95": _percentile(waits[kind], 0.95),
                    "run_p50": _percentile(runs[kind], 0.5),
                    "run_p95": _percentile(runs[kind], 0.95),
                    "count": len(waits[kind]),
                },
                stamp,
            )
        )
    return out
