"""The core bench's four measurements, each beside its baseline from the same run.

Row 1 (:func:`row_accept`) runs on a system of its own with no worker; rows 2-4
(:func:`rows_with_workers`) share one with workers. Each row writes its figures into
``report["rows"][<name>]``; :func:`run_row` records a row that failed in
``report["problems"]`` and lets the others run.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import statistics
import sys
import time
import uuid
from decimal import Decimal

import redis
import requests

from bench.api_client import Api
from bench.cpu import CpuMeter
from bench.errors import BenchError
from bench.loadgen import Blast, Poster, blast
from bench.stats import percentile
from bench.system import System, celery_client
from bench.watcher import Watcher
from bench.workload import NOOP_TASK, STARTING_CASH, TERMINAL
from core import keys
from core.models import from_iso
from tasks import routing
from tests.services import wait_until

APP = "bench.bare_app:combined()"  # the API at /, the baseline endpoints at /bare
NOOP_MODULE = "bench.noop_task"  # loaded into the workers with -I: the NOOP_TASK baseline


def run_row(report: dict, name: str, function, *args) -> None:
    """Run one row; a failed measurement is recorded and the other rows still run."""
    try:
        function(*args)
    except (BenchError, TimeoutError, OSError, http.client.HTTPException) as exc:
        report["problems"].append(f"row {name}: {exc}")
        print(f"  row {name} FAILED: {exc}", file=sys.stderr, flush=True)


def make_system(args: argparse.Namespace, label: str) -> System:
    return System(APP, label=label, web_workers=args.web_workers, web_threads=args.web_threads)


# Row 1: acceptance rate -----------------------------------------------------------------


def row_accept(args: argparse.Namespace, report: dict) -> None:
    """The API's POST and the bare endpoint, alternating in rounds, under one gunicorn."""
    system = make_system(args, "accept")
    try:
        system.start()
        whoami = requests.get(f"{system.url}/bare/whoami", timeout=5).json()
        report["code_under_test"]["gunicorn_core"] = whoami["core"]
        key = system.create_api_key()
        api = Api(system.url, key)
        api.set_quote()
        api.create_group("accept")
        api.close()
        headers = {"Authorization": f"Bearer {key}"}
        targets = {
            "api": ["/api/v1/groups/accept/transactions"],
            "bare": ["/bare/groups/accept/transactions"],
            "ping": ["/bare/ping"],
        }
        common = {"connections": args.connections, "max_requests": 1_000_000}
        for name, paths in targets.items():  # warm up every gunicorn thread and pool
            blast(system.port, name, paths, headers, duration=args.warmup_seconds, **common)
        totals = {name: Blast(name) for name in targets}
        rounds = []
        cpu = CpuMeter()
        for n in range(args.rounds):
            order = ["bare", "api"] if n % 2 == 0 else ["api", "bare"]
            if n == 0:
                order.append("ping")
            this_round = {}
            print(f"  row 1: round {n + 1}/{args.rounds}: {', '.join(order)} ...", flush=True)
            for name in order:
                got = blast(
                    system.port, name, targets[name], headers, duration=args.round_seconds, **common
                )
                got.check()
                totals[name].add(got)
                this_round[name] = round(got.rate, 1)
            rounds.append(this_round)
        for this_round in rounds:
            this_round["ratio"] = round(this_round["api"] / this_round["bare"], 3)
        # Medians over rounds: the API and the baseline of one round ran seconds apart, so a
        # burst of other load on the shared machine moves both or only one round.
        report["rows"]["accept"] = {
            "api_per_s": statistics.median(r["api"] for r in rounds),
            "bare_per_s": statistics.median(r["bare"] for r in rounds),
            "ping_per_s": totals["ping"].rate,
            "ratio": statistics.median(r["ratio"] for r in rounds),
            "api_p50_ms": percentile(totals["api"].latencies, 50) * 1000,
            "api_p99_ms": percentile(totals["api"].latencies, 99) * 1000,
            "bare_p50_ms": percentile(totals["bare"].latencies, 50) * 1000,
            "bare_p99_ms": percentile(totals["bare"].latencies, 99) * 1000,
            "api_accepted": totals["api"].accepted,
            "bare_accepted": totals["bare"].accepted,
            "rounds": rounds,
            "connections": args.connections,
            "round_seconds": args.round_seconds,
            "cpu": cpu.read(),
        }
    finally:
        system.stop()


# Rows 2-4: the system with workers ------------------------------------------------------


def rows_with_workers(args: argparse.Namespace, report: dict) -> None:
    """Set up groups and accounts, start the workers, then rows 3, 4 and 2 in that order."""
    system = make_system(args, "workers")
    watcher = poster = quiet = client = None
    try:
        system.start()
        key = system.create_api_key()
        api = Api(system.url, key)
        client = celery_client(system.redis.url)
        api.set_quote()
        groups = [f"drain-{g}" for g in range(args.drain_groups)] + ["latency"]
        fanout_groups = [f"fanout-{size}" for size, _ in args.fanout]
        for name in groups + fanout_groups:  # before the workers: they consume them at start
            api.create_group(name)
            system.queues.append(routing.group_queue(name))
        for size, _ in args.fanout:
            print(f"seeding {size:,} paper accounts through the registries ...", flush=True)
            seed_paper_accounts(system, f"fanout-{size}", size)
        print(f"starting {args.workers} workers x {args.worker_concurrency} ...", flush=True)
        system.start_workers(args.workers, args.worker_concurrency, imports=(NOOP_MODULE,))
        api.add_paper_accounts(groups, ["a0"], timeout=60)

        quiet = redis.Redis.from_url(system.redis.url)
        system.wait_quiet(quiet)
        noop_prefix = f"bench:noop:rt-{uuid.uuid4().hex[:8]}"
        watcher = Watcher(system.redis.url, noop_prefix)
        poster = Poster(system.port, key)
        print(f"row 3: {args.latency_samples} orders, one at a time ...", flush=True)
        run_row(
            report,
            "latency",
            row_idle_latency,
            args,
            api,
            poster,
            watcher,
            client,
            noop_prefix,
            report,
        )
        system.wait_quiet(quiet)
        print("row 4: fan-out ...", flush=True)
        run_row(report, "fanout", row_fanout, args, system, api, poster, watcher, report)
        watcher.close()
        watcher = None
        print("row 2: drain ...", flush=True)
        run_row(report, "drain", row_drain, args, system, key, client, report)
    finally:
        for closeable in (poster, watcher, quiet, client):
            if closeable is not None:
                closeable.close()
        system.stop()


def seed_paper_accounts(system: System, group: str, count: int) -> None:
    """Active paper accounts written straight through the registries (no activation job)."""
    from brokers.paper_ledger import PaperLedger
    from core.accounts import AccountRegistry
    from core.models import Account, AccountState
    from core.vault import Vault

    connection = redis.Redis.from_url(system.redis.url, decode_responses=True)
    try:
        vault = Vault(connection, (system.secret,))
        accounts = AccountRegistry(connection)
        ledger = PaperLedger(connection)
        names = [f"p{n:05d}" for n in range(count)]
        for start in range(0, count, 500):
            with connection.pipeline() as pipe:
                for name in names[start : start + 500]:
                    vault.store(group, name, {"starting_cash": STARTING_CASH}, pipeline=pipe)
                    account = Account(
                        group=group, name=name, brokerage="paper", state=AccountState.ACTIVE
                    )
                    accounts.save(account, pipeline=pipe)
                pipe.execute()
        for name in names:
            ledger.open(group, name, Decimal(STARTING_CASH))
    finally:
        connection.close()


def row_idle_latency(args, api, poster, watcher, client, noop_prefix, report) -> None:
    """Row 3, interleaved with its baseline: a no-op round trip, then an order, and again."""
    latencies, round_trips, observed = [], [], []
    total = args.latency_warmup + args.latency_samples
    cpu = CpuMeter()
    for n in range(total):
        sent = time.time()
        client.send_task(NOOP_TASK, args=[noop_prefix, n], queue=routing.DEFAULT_QUEUE)
        ran = watcher.wait_noop(n, 10)
        time.sleep(0.005)  # the worker goes back to waiting
        started = time.perf_counter()
        job_id, sent_post = poster.post("latency")
        state, finished = watcher.wait_job(job_id, 10)
        woke = time.perf_counter() - started
        if state != "succeeded":
            raise BenchError(f"latency job {job_id} ended {state}: {api.job(job_id)}")
        if n >= args.latency_warmup:
            round_trips.append(ran - sent)
            latencies.append(finished - sent_post)
            observed.append(woke)
        time.sleep(0.01)  # idle again before the next order
    report["rows"]["latency"] = {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000,
        "woken_p50_ms": percentile(observed, 50) * 1000,  # when this process knew it
        "noop_round_trip_p50_ms": percentile(round_trips, 50) * 1000,
        "noop_round_trip_p99_ms": percentile(round_trips, 99) * 1000,
        "samples": len(latencies),
        "cpu": cpu.read(),
    }


def redis_round_trip(url: str, count: int) -> float:
    """Median PING round trip from this process, in seconds."""
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            connection.ping()
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        connection.close()


def row_fanout(args, system, api, poster, watcher, report) -> None:
    """Row 4: one order to N accounts, POST -> job done, for each N."""
    sizes = {}
    cpu = CpuMeter()
    for size, repeats in args.fanout:
        group = f"fanout-{size}"
        times, rtts = [], []
        for n in range(repeats):
            print(f"  row 4: {size:,} accounts, order {n + 1}/{repeats} ...", flush=True)
            # The baseline right before each order: the machine's speed changes by the minute.
            rtts.append(redis_round_trip(system.redis.url, 500))
            job_id, sent = poster.post(group)
            state, finished = watcher.wait_job(job_id, args.fanout_timeout + size * 0.05)
            job = api.job(job_id)
            if state != "succeeded" or len(job.get("results", [])) != size:
                raise BenchError(
                    f"fan-out job {job_id} to {size} accounts ended {state} with "
                    f"{len(job.get('results', []))} results"
                )
            times.append(finished - sent)
        best, rtt = statistics.median(times), statistics.median(rtts)
        sizes[str(size)] = {
            "seconds": best,
            "all_seconds": times,
            "ms_per_account": best / size * 1000,
            "redis_round_trip_ms": rtt * 1000,
            "round_trips_per_account": best / size / rtt,
        }
    report["rows"]["fanout"] = {"sizes": sizes, "cpu": cpu.read()}


def row_drain(args, system, key, client, report) -> None:
    """Row 2: workers paused, 1,200 tasks queued, workers resumed; the same for no-ops first."""
    connection = redis.Redis.from_url(system.redis.url, decode_responses=True)
    groups = [f"drain-{g}" for g in range(args.drain_groups)]
    rounds = []
    cpu = CpuMeter()
    try:
        for n in range(args.drain_rounds):
            print(f"  row 2: round {n + 1}/{args.drain_rounds}: {args.jobs} no-ops ...", flush=True)
            noop_seconds = _drain_noops(args, system, client, connection)
            print(f"  row 2: round {n + 1}/{args.drain_rounds}: {args.jobs} jobs ...", flush=True)
            this_round = _drain_jobs(args, system, key, groups, connection)
            this_round["noop_per_s"] = args.jobs / noop_seconds
            this_round["noop_seconds"] = noop_seconds
            this_round["ratio"] = this_round["jobs_per_s"] / this_round["noop_per_s"]
            rounds.append(this_round)
    finally:
        connection.close()
    report["rows"]["drain"] = {  # medians over rounds, as in row 1
        "jobs_per_s": statistics.median(r["jobs_per_s"] for r in rounds),
        "noop_per_s": statistics.median(r["noop_per_s"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        "jobs": args.jobs,
        "groups": args.drain_groups,
        "rounds": rounds,
        "cpu": cpu.read(),
    }


def _drain_noops(args, system: System, client, connection: redis.Redis) -> float:
    """Queue ``args.jobs`` no-ops to paused workers; seconds from resume to the last one."""
    system.wait_quiet(connection)  # nothing left over when the workers stop
    prefix = f"bench:noop:drain-{uuid.uuid4().hex[:8]}"
    system.pause_workers()
    try:
        with client.producer_or_acquire() as producer:
            for i in range(args.jobs):
                client.send_task(
                    NOOP_TASK, args=[prefix, i], queue=routing.DEFAULT_QUEUE, producer=producer
                )
    finally:
        resumed = time.time()
        system.resume_workers()

    def noops_done() -> bool:
        return int(connection.get(f"{prefix}:count") or 0) >= args.jobs

    try:
        wait_until(noops_done, args.drain_timeout, interval=0.01)
    except TimeoutError:
        raise BenchError(f"{args.jobs} no-ops not drained in {args.drain_timeout} s") from None
    return float(connection.get(f"{prefix}:last")) - resumed


def _drain_jobs(args, system: System, key: str, groups: list[str], connection) -> dict:
    """POST ``args.jobs`` orders to paused workers; the rate from resume to the last job done."""
    system.wait_quiet(connection)
    system.pause_workers()
    try:
        sent = blast(
            system.port,
            "drain",
            [f"/api/v1/groups/{g}/transactions" for g in groups],
            {"Authorization": f"Bearer {key}"},
            connections=args.connections,
            duration=args.drain_timeout,
            max_requests=args.jobs,
            keep_ids=True,
        )
    finally:
        resumed = time.time()
        system.resume_workers()
    sent.check()
    unfinished = set(sent.job_ids)
    states: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + args.drain_timeout
    while unfinished and time.monotonic() < deadline:
        time.sleep(0.1)
        batch = sorted(unfinished)
        with connection.pipeline(transaction=False) as pipe:
            for job_id in batch:
                pipe.hmget(keys.job(job_id), "state", "finished_at")
            for job_id, (state, finished) in zip(batch, pipe.execute(), strict=True):
                if state in TERMINAL:
                    states[job_id] = (state, finished)
                    unfinished.discard(job_id)
    if unfinished:
        raise BenchError(f"{len(unfinished)} jobs unfinished after {args.drain_timeout} s")
    bad = collections.Counter(s for s, _ in states.values() if s != "succeeded")
    if bad:
        raise BenchError(f"drain jobs did not all succeed: {dict(bad)}")
    job_seconds = max(from_iso(f).timestamp() for _, f in states.values()) - resumed
    # The task holding a group's mutex runs the jobs queued behind it: their own tasks are
    # still queued when the last job is done, and find nothing to do when consumed after.
    left_over = system.in_flight(connection)
    settle = system.wait_quiet(connection)
    return {
        "jobs_per_s": args.jobs / job_seconds,
        "job_seconds": job_seconds,
        "enqueue_per_s": sent.rate,
        "messages_left_after_last_job": left_over,
        "seconds_to_consume_them": settle,
    }
