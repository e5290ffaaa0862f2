"""Core bench (issue 8): four figures of the job path, each beside a baseline from the same run.

1. ``POST /transactions`` accepted/s ÷ a bare Flask endpoint that only calls ``send_task``,
   both served by the same gunicorn, 16 keep-alive connections, no worker running.
2. Paper jobs completed/s (1,200 jobs over 8 groups of 1 paper account) ÷ the rate at which
   the same workers drain 1,200 no-op Celery tasks from the same Redis.
3. POST -> job done on an idle system, 1 paper account: p50 and p99 (beside a raw no-op
   task round trip).
4. One order to 10 / 100 / 1,000 / 10,000 paper accounts: POST -> job done (beside a Redis
   round trip from Python, to read the per-account cost in round trips).

It starts its own redis-server, gunicorn and Celery workers on 127.0.0.1 and stops them at
the end, on an error and on Ctrl-C. Every loop is bounded in count and time. See
``bench/README.md`` and ``docs/PERFORMANCE.md``.

    .venv/bin/python bench/core.py --quick    # about 1 minute, fan-out up to 1,000
    .venv/bin/python bench/core.py            # about 2.5 minutes, fan-out up to 10,000

Exit status: 0 when everything was measured (goals missed are printed as MISSED, they do not
fail the run), 1 when a measurement failed (bad HTTP status, failed job, timeout), 2 when the
system could not start, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import redis  # noqa: E402
import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from tests.services import (  # noqa: E402
    CeleryWorker,
    RedisServer,
    _make_temp_dir,
    _spawn,
    _terminate,
    free_port,
    wait_until,
)

RESULTS_DIR = REPO_ROOT / "bench" / "results"
TERMINAL = {"succeeded", "partial", "failed", "unknown"}
SYMBOL = "BNCH"
PRICE = "1.00"
STARTING_CASH = "100000000"
NOOP_TASK = "bench.noop"  # bench/noop_task.py, loaded into the workers with -I
ORDER = {"action": "buy", "symbols": [SYMBOL], "quantity": 1, "dry_run": False}
METHOD = (
    "load generator: Python threads, one keep-alive http.client connection each, "
    "closed loop (next request when the answer is read), same generator for API and baseline"
)


class BenchError(Exception):
    """A measurement could not be made (bad status, failed job, timeout)."""


class StartupError(Exception):
    """The system under test did not start."""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class CpuMeter:
    """CPU used during a row: by the whole machine, by this bench's process tree, by the rest.

    The machine is shared: "others" is what other people's processes (test suites) took from
    the same cores while the row ran. Read from ``/proc``; zeros where it is not there.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.machine = self._machine_busy()
        self.ours = self._tree_cpu()

    @staticmethod
    def _machine_busy() -> float:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return 0.0
        # user nice system idle iowait irq softirq steal: busy leaves out idle, iowait, steal
        return (sum(fields[:3]) + sum(fields[5:7])) / CpuMeter.TICK

    @staticmethod
    def _tree_cpu() -> float:
        """utime + stime of this process and every descendant alive now."""
        total, todo, seen = 0.0, [os.getpid()], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / CpuMeter.TICK
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
        return total

    def read(self) -> dict:
        seconds = time.monotonic() - self.began
        if seconds <= 0:
            return {}
        busy = (self._machine_busy() - self.machine) / seconds
        ours = (self._tree_cpu() - self.ours) / seconds
        return {
            "cores": os.cpu_count(),
            "machine_busy_cores": round(busy, 2),
            "bench_cores": round(ours, 2),
            "others_cores": round(max(0.0, busy - ours), 2),
            "load_average": load_average(),
        }


# The system under test -------------------------------------------------------------------


class System:
    """A private Redis, gunicorn serving ``bench.bare_app:combined()`` and (later) workers."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.args = args
        self.label = label
        self.redis = RedisServer()
        self.directory = _make_temp_dir(f"tf-core-{label}-")
        self.port = free_port()
        self.gunicorn: subprocess.Popen | None = None
        self.workers: list[CeleryWorker] = []
        self.paused = False
        self.env: dict[str, str] = {}
        self.queues = ["default", "market", "strategies"]  # and group.<name> once created
        self.secret = Fernet.generate_key().decode()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> System:
        self.redis.start()
        path = os.environ.get("PYTHONPATH", "")
        self.env = {
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_RESULT_BACKEND": self.redis.url,
            "TRADEFLEET_SECRET_KEY": self.secret,
            "TRADEFLEET_DATA_DIR": str(self.directory / "data"),
            "LOG_LEVEL": "WARNING",
            # The tree under test, also for children of a venv with tradefleet installed
            # editable from elsewhere.
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), path) if p),
        }
        log = open(self.directory / "gunicorn.log", "ab")  # noqa: SIM115 - lives with the process
        command = [
            sys.executable, "-m", "gunicorn", "bench.bare_app:combined()",
            "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread",
            "--workers", str(self.args.web_workers),
            "--threads", str(self.args.web_threads),
            "--backlog", "2048",
            "--keep-alive", "30",
            "--timeout", "60",
        ]  # fmt: skip
        self.gunicorn = _spawn(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._web_answers, 60, interval=0.2, message="gunicorn did not answer")
        except TimeoutError as exc:
            raise StartupError(f"{exc}: see {self.directory / 'gunicorn.log'}") from None
        return self

    def _web_answers(self) -> bool:
        if self.gunicorn is not None and self.gunicorn.poll() is not None:
            log = (self.directory / "gunicorn.log").read_text(errors="replace")[-3000:]
            raise StartupError(f"gunicorn exited:\n{log}")
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def server_code(self) -> str:
        return requests.get(f"{self.url}/bare/whoami", timeout=5).json()["core"]

    def start_workers(self, client) -> None:
        for n in range(self.args.workers):
            worker = CeleryWorker(
                {
                    **self.env,
                    "TRADEFLEET_WORKER_GROUPS": None,
                    "TRADEFLEET_WORKER_BROKERAGES": None,
                },
                concurrency=self.args.worker_concurrency,
                hostname=f"core{n}-{uuid.uuid4().hex[:6]}@%h",
                extra_args=("--loglevel=WARNING", "-I", "bench.noop_task"),
            )
            self.workers.append(worker.start(wait=False))
        try:
            for worker in self.workers:
                worker.wait_for_log("[queues]", 90)  # the banner; "ready." is INFO, not logged

            def all_answer() -> bool:
                return len(client.control.ping(timeout=1.0)) >= len(self.workers)

            wait_until(all_answer, 60, interval=0.2, message="workers did not answer ping")
        except (RuntimeError, TimeoutError) as exc:
            raise StartupError(str(exc)) from None

    def _signal_workers(self, sig: int) -> None:
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                os.killpg(worker.proc.pid, sig)  # the main process and its pool children

    def pause_workers(self) -> None:
        """SIGSTOP every worker process: queued messages wait, nothing is consumed."""
        self._signal_workers(signal.SIGSTOP)
        self.paused = True

    def resume_workers(self) -> None:
        self._signal_workers(signal.SIGCONT)
        self.paused = False

    def in_flight(self, connection: redis.Redis) -> int:
        """Messages waiting in the queues this bench uses, plus delivered but not acknowledged.

        Redis transport: a queue is a list named after it, unacknowledged deliveries are
        kept in the ``unacked`` hash.
        """
        with connection.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.llen(queue)
            pipe.hlen("unacked")
            return sum(pipe.execute())

    def wait_quiet(self, connection: redis.Redis, timeout: float = 120) -> float:
        """Wait until no message is queued or unacknowledged twice in a row; returns the wait."""
        started = time.monotonic()
        quiet = 0
        while quiet < 2:
            quiet = quiet + 1 if self.in_flight(connection) == 0 else 0
            if time.monotonic() - started > timeout:
                raise BenchError(f"tasks still in flight after {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.paused:
            self.resume_workers()  # a stopped process would not see SIGTERM
        if self.gunicorn is not None:
            _terminate(self.gunicorn, timeout=20)
        for worker in self.workers:
            worker.stop(timeout=30)
        self.redis.stop()


def celery_client(url: str):
    """A Celery app that sends to ``url`` only (no environment override, not set current)."""
    from celery import Celery

    app = Celery("bench-core", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        broker_write_url=url,
        broker_read_url=url,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        task_create_missing_queues=True,
    )
    return app


class Api:
    """Setup calls over HTTP with ``requests`` (not timed)."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, expect: int, **kwargs) -> dict:
        response = self.session.request(method, self.url + path, timeout=120, **kwargs)
        if response.status_code != expect:
            raise BenchError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def job(self, job_id: str) -> dict:
        return self.call("GET", f"/api/v1/jobs/{job_id}", 200)

    def wait_job(self, job_id: str, timeout: float) -> dict:
        def done():
            job = self.job(job_id)
            return job if job.get("state") in TERMINAL else None

        try:
            return wait_until(done, timeout, interval=0.05)
        except TimeoutError:
            raise BenchError(f"job {job_id} not finished after {timeout} s") from None


def api_key(system: System) -> str:
    from core.apikeys import ApiKeyStore

    connection = redis.Redis.from_url(system.redis.url, decode_responses=True)
    try:
        return ApiKeyStore(connection).create("bench", replace=True)
    finally:
        connection.close()


# The load generator ----------------------------------------------------------------------


@dataclass
class Blast:
    label: str
    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    stuck_threads: int = 0

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def check(self) -> None:
        bad = {s: n for s, n in self.statuses.items() if s != 202}
        if bad or self.stuck_threads:
            raise BenchError(
                f"{self.label}: statuses other than 202 {bad}, {self.stuck_threads} clients "
                f"did not finish, e.g. {self.errors[:3]}"
            )


def blast(
    port: int,
    label: str,
    paths: list[str],
    headers: dict[str, str],
    *,
    connections: int,
    duration: float,
    max_requests: int,
    keep_ids: bool = False,
) -> Blast:
    """``connections`` threads POST ``ORDER`` round-robin over ``paths``, closed loop.

    Stops after ``duration`` s or ``max_requests`` requests, whichever comes first.
    """
    body = json.dumps(ORDER).encode()
    headers = {"Content-Type": "application/json", **headers}
    result = Blast(label)
    lock = threading.Lock()
    issued = iter(range(max_requests))
    start_line = threading.Barrier(connections + 1)
    deadline = [0.0]

    def client() -> None:
        statuses: collections.Counter = collections.Counter()
        latencies: list[float] = []
        ids: list[str] = []
        errors: list[str] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            start_line.wait(30)
            while time.monotonic() < deadline[0]:
                with lock:
                    i = next(issued, None)
                if i is None:
                    break
                started = time.perf_counter()
                try:
                    conn.request("POST", paths[i % len(paths)], body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    statuses[0] += 1
                    errors.append(repr(exc))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1
                if response.status != 202:
                    errors.append(f"{response.status} {data[:200]!r}")
                elif keep_ids:
                    ids.append(json.loads(data)["job_id"])
        except threading.BrokenBarrierError:
            errors.append("start barrier broken")
        finally:
            conn.close()
            with lock:
                result.statuses.update(statuses)
                result.latencies.extend(latencies)
                result.job_ids.extend(ids)
                result.errors.extend(errors[:5])

    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + duration
    start_line.wait(30)
    began = time.perf_counter()
    for thread in threads:
        thread.join(max(1.0, deadline[0] - time.monotonic()) + 60)
    result.elapsed = time.perf_counter() - began
    result.stuck_threads = sum(t.is_alive() for t in threads)
    return result


# Waiting for one job or one no-op task ---------------------------------------------------


class Watcher:
    """Wakes on the job-events channel (and the no-op channel); reads the job record to be sure.

    Times are taken from the records (the job's ``finished_at``, the no-op's own clock), not
    from when this process woke, so the waiting method does not bias the figures. Without an
    event the record is read every 20 ms, so a system that publishes no events is still
    measured right, only paced more slowly.
    """

    def __init__(self, url: str, noop_channel: str) -> None:
        from core import keys

        self.keys = keys
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
            raise BenchError("could not subscribe to the job-events channel")
        self.pubsub.ignore_subscribe_messages = True

    def close(self) -> None:
        self.pubsub.close()
        self.connection.close()

    def _record(self, job_id: str) -> tuple[str, str]:
        state, finished = self.connection.hmget(self.keys.job(job_id), "state", "finished_at")
        return state or "", finished or ""

    def wait_job(self, job_id: str, timeout: float) -> tuple[str, float]:
        """Wait until ``job_id`` is terminal; returns its state and ``finished_at`` (epoch s)."""
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
                    return state, epoch(finished)
                next_look = time.monotonic() + 0.02
        raise BenchError(f"job {job_id} not finished after {timeout} s")

    def wait_noop(self, seq: int, timeout: float) -> float:
        """Wait for no-op ``seq`` to run; returns the time it ran (epoch s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.05)
            if message and message["channel"] == self.noop_channel:
                got, at = message["data"].split()
                if int(got) == seq:
                    return float(at)
        raise BenchError(f"no-op task {seq} did not run within {timeout} s")


class Poster:
    """One keep-alive ``http.client`` connection posting orders one at a time."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.body = json.dumps(ORDER).encode()

    def post(self, group: str) -> tuple[str, float]:
        """Returns the job id and the wall-clock time just before the request was sent."""
        sent = time.time()
        self.conn.request(
            "POST", f"/api/v1/groups/{group}/transactions", body=self.body, headers=self.headers
        )
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 202:
            raise BenchError(f"POST {group}/transactions: {response.status} {data[:300]!r}")
        return json.loads(data)["job_id"], sent

    def close(self) -> None:
        self.conn.close()


# Row 1: acceptance rate -----------------------------------------------------------------


def row_accept(args: argparse.Namespace, report: dict) -> None:
    """The API's POST and the bare endpoint, alternating in rounds, under one gunicorn."""
    system = System(args, "accept")
    try:
        system.start()
        report["code_under_test"]["gunicorn_core"] = system.server_code()
        key = api_key(system)
        api = Api(system.url, key)
        api.call("PUT", f"/api/v1/market-data/{SYMBOL}", 200, json={"price": PRICE})
        api.call("POST", "/api/v1/groups", 201, json={"name": "accept"})
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
                total = totals[name]
                total.statuses.update(got.statuses)
                total.latencies.extend(got.latencies)
                total.elapsed += got.elapsed
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


def seed_paper_accounts(system: System, group: str, count: int) -> None:
    """Active paper accounts written straight through the registries (no activation job)."""
    from brokers.paper import PaperLedger
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


def row_idle_latency(args, system, api, poster, watcher, client, noop_prefix, report) -> None:
    """Row 3, interleaved with its baseline: a no-op round trip, then an order, and again."""
    latencies, round_trips, observed = [], [], []
    total = args.latency_warmup + args.latency_samples
    cpu = CpuMeter()
    for n in range(total):
        sent = time.time()
        client.send_task(NOOP_TASK, args=[noop_prefix, n], queue="default")
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
    report["rows"]["fanout"] = {
        "sizes": sizes,
        "cpu": cpu.read(),
    }


def row_drain(args, system, key, client, report) -> None:
    """Row 2: workers paused, 1,200 tasks queued, workers resumed; the same for no-ops first."""
    connection = redis.Redis.from_url(system.redis.url, decode_responses=True)
    from core import keys

    groups = [f"drain-{g}" for g in range(args.drain_groups)]
    rounds = []
    cpu = CpuMeter()
    try:
        for n in range(args.drain_rounds):
            system.wait_quiet(connection)  # nothing left over when the workers stop
            prefix = f"bench:noop:drain-{uuid.uuid4().hex[:8]}"
            print(f"  row 2: round {n + 1}/{args.drain_rounds}: {args.jobs} no-ops ...", flush=True)
            system.pause_workers()
            try:
                with client.producer_or_acquire() as producer:
                    for i in range(args.jobs):
                        client.send_task(
                            NOOP_TASK, args=[prefix, i], queue="default", producer=producer
                        )
            finally:
                resumed = time.time()
                system.resume_workers()

            def noops_done(prefix=prefix) -> bool:
                return int(connection.get(f"{prefix}:count") or 0) >= args.jobs

            try:
                wait_until(noops_done, args.drain_timeout, interval=0.01)
            except TimeoutError:
                raise BenchError(
                    f"{args.jobs} no-ops not drained in {args.drain_timeout} s"
                ) from None
            noop_seconds = float(connection.get(f"{prefix}:last")) - resumed

            system.wait_quiet(connection)
            print(f"  row 2: round {n + 1}/{args.drain_rounds}: {args.jobs} jobs ...", flush=True)
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
            job_seconds = max(epoch(f) for _, f in states.values()) - resumed
            # A group's first task runs the jobs of the tasks behind it: those tasks are
            # still queued when the last job is done, and are consumed as no-ops after.
            left_over = system.in_flight(connection)
            settle = system.wait_quiet(connection)
            rounds.append(
                {
                    "noop_per_s": args.jobs / noop_seconds,
                    "jobs_per_s": args.jobs / job_seconds,
                    "noop_seconds": noop_seconds,
                    "job_seconds": job_seconds,
                    "enqueue_per_s": sent.rate,
                    "messages_left_after_last_job": left_over,
                    "seconds_to_consume_them": settle,
                }
            )
    finally:
        connection.close()
    for this_round in rounds:
        this_round["ratio"] = this_round["jobs_per_s"] / this_round["noop_per_s"]
    report["rows"]["drain"] = {  # medians over rounds, as in row 1
        "jobs_per_s": statistics.median(r["jobs_per_s"] for r in rounds),
        "noop_per_s": statistics.median(r["noop_per_s"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        "jobs": args.jobs,
        "groups": args.drain_groups,
        "rounds": rounds,
        "cpu": cpu.read(),
    }


def rows_with_workers(args: argparse.Namespace, report: dict) -> None:
    system = System(args, "workers")
    watcher = poster = None
    try:
        system.start()
        key = api_key(system)
        api = Api(system.url, key)
        client = celery_client(system.redis.url)
        api.call("PUT", f"/api/v1/market-data/{SYMBOL}", 200, json={"price": PRICE})
        groups = [f"drain-{g}" for g in range(args.drain_groups)] + ["latency"]
        fanout_groups = [f"fanout-{size}" for size, _ in args.fanout]
        for name in groups + fanout_groups:  # before the workers: they consume them at start
            api.call("POST", "/api/v1/groups", 201, json={"name": name})
            system.queues.append(f"group.{name}")
        for size, _ in args.fanout:
            print(f"seeding {size:,} paper accounts through the registries ...", flush=True)
            seed_paper_accounts(system, f"fanout-{size}", size)
        print(f"starting {args.workers} workers x {args.worker_concurrency} ...", flush=True)
        system.start_workers(client)
        activations = [
            api.call(
                "POST",
                f"/api/v1/groups/{group}/accounts",
                202,
                json={
                    "name": "a0",
                    "brokerage": "paper",
                    "credentials": {"starting_cash": STARTING_CASH},
                },
            )["job_id"]
            for group in groups
        ]
        for job_id in activations:
            if api.wait_job(job_id, 60)["state"] != "succeeded":
                raise BenchError(f"activation {job_id} failed: {api.job(job_id)}")

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
            system,
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
        quiet.close()
        print("row 2: drain ...", flush=True)
        run_row(report, "drain", row_drain, args, system, key, client, report)
    finally:
        if poster is not None:
            poster.close()
        if watcher is not None:
            watcher.close()
        system.stop()


def run_row(report: dict, name: str, function, *args) -> None:
    """Run one row; a failed measurement is recorded and the other rows still run."""
    try:
        function(*args)
    except (BenchError, TimeoutError, OSError, http.client.HTTPException) as exc:
        report["problems"].append(f"row {name}: {exc}")
        print(f"  row {name} FAILED: {exc}", file=sys.stderr, flush=True)


# Output -----------------------------------------------------------------------------------


def verdict(value: float, op: str, goal: float) -> str:
    if value != value:  # NaN
        return "not measured"
    met = value >= goal if op == ">=" else value <= goal
    return "met" if met else "MISSED"


def table(report: dict) -> list[tuple[str, str, str, str, str]]:
    rows = report["rows"]
    out: list[tuple[str, str, str, str, str]] = []
    nan = float("nan")
    if "accept" in rows:
        r = rows["accept"]
        out.append(
            (
                "1 POST /transactions accepted/s ÷ bare send_task endpoint",
                f"{r['ratio']:.2f}x",
                f"API {r['api_per_s']:.0f}/s, bare {r['bare_per_s']:.0f}/s "
                f"(HTTP-only {r['ping_per_s']:.0f}/s)",
                ">= 0.5x",
                verdict(r["ratio"], ">=", 0.5),
            )
        )
    else:
        out.append(("1 POST accepted/s ÷ bare endpoint", "-", "-", ">= 0.5x", "not measured"))
    if "drain" in rows:
        r = rows["drain"]
        out.append(
            (
                f"2 paper jobs completed/s ÷ no-op drain ({r['jobs']:,} over {r['groups']} groups)",
                f"{r['ratio']:.2f}x",
                f"jobs {r['jobs_per_s']:.0f}/s, no-ops {r['noop_per_s']:.0f}/s",
                ">= 0.5x",
                verdict(r["ratio"], ">=", 0.5),
            )
        )
    else:
        out.append(("2 paper jobs/s ÷ no-op drain", "-", "-", ">= 0.5x", "not measured"))
    r = rows.get("latency", {})
    rt = f"no-op round trip p50 {r.get('noop_round_trip_p50_ms', nan):.1f} ms"
    rt99 = f"no-op round trip p99 {r.get('noop_round_trip_p99_ms', nan):.1f} ms"
    for q, goal, base in (("p50", 6, rt), ("p99", 20, rt99)):
        value = r.get(f"{q}_ms", nan)
        out.append(
            (
                f"3 POST -> job done, idle, 1 paper account, {q}",
                f"{value:.1f} ms",
                base,
                f"<= {goal} ms",
                verdict(value, "<=", goal),
            )
        )
    r = rows.get("fanout", {})
    sizes = r.get("sizes", {})
    goals = {"1000": 0.3, "10000": 3.0}
    for size in ("10", "100", "1000", "10000"):
        if size not in sizes:
            if size in goals:
                out.append(
                    (
                        f"4 one order to {int(size):,} paper accounts, POST -> done",
                        "-",
                        "-",
                        f"<= {goals[size]} s",
                        "not measured",
                    )
                )
            continue
        s = sizes[size]
        out.append(
            (
                f"4 one order to {int(size):,} paper accounts, POST -> done",
                f"{s['seconds']:.3f} s",
                f"{s['ms_per_account']:.3f} ms/account = "
                f"{s['round_trips_per_account']:.0f}x a Redis round trip "
                f"({s['redis_round_trip_ms']:.3f} ms)",
                f"<= {goals[size]} s" if size in goals else "",
                verdict(s["seconds"], "<=", goals[size]) if size in goals else "",
            )
        )
    if "1000" in sizes and "10000" in sizes:
        growth = sizes["10000"]["ms_per_account"] / sizes["1000"]["ms_per_account"]
        out.append(
            (
                "4 linear: per-account time at 10,000 ÷ at 1,000",
                f"{growth:.2f}",
                "",
                "<= 1.2",
                verdict(growth, "<=", 1.2),
            )
        )
    return out


def print_report(report: dict) -> None:
    print()
    print(f"tradefleet core bench, {report['started_at']}, commit {report['commit']}")
    print(f"code under test: {report['code_under_test']}")
    print(f"machine: {report['machine']}")
    print(f"load average before/after: {report['load_before']} / {report['load_after']}")
    print(f"method: {METHOD}")
    c = report["config"]
    print(
        f"system: gunicorn gthread {c['web_workers']}x{c['web_threads']}, "
        f"{c['workers']} Celery workers x {c['worker_concurrency']}, private redis-server, "
        f"{c['connections']} connections for row 1{' (--quick)' if c['quick'] else ''}"
    )
    print()
    lines = table(report)
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    header = ("measure", "figure", "baseline, same run", "goal", "")
    for line in (header, *lines):
        print("  " + "  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(line)).rstrip())
    print()
    print("  CPU while each row ran (cores busy, of the machine's; others = not this bench):")
    for number, name in ((1, "accept"), (2, "drain"), (3, "latency"), (4, "fanout")):
        cpu = report["rows"].get(name, {}).get("cpu")
        if cpu:
            print(
                f"    row {number}: machine {cpu['machine_busy_cores']:.2f}, "
                f"bench {cpu['bench_cores']:.2f}, others {cpu['others_cores']:.2f} "
                f"(load average {cpu['load_average']})"
            )
    print()


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "?"
    return head + (" (tracked files modified)" if dirty else "")


# Entry point ------------------------------------------------------------------------------


def parse_fanout(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run, fan-out up to 1,000")
    parser.add_argument("--connections", type=int, default=16, help="row 1 and 2 clients (16)")
    parser.add_argument("--rounds", type=int, help="row 1 rounds (10; quick 4)")
    parser.add_argument("--round-seconds", type=float, help="row 1 seconds per target (2.5; 1.5)")
    parser.add_argument("--jobs", type=int, default=1200, help="row 2 jobs (1200)")
    parser.add_argument("--drain-groups", type=int, default=8, help="row 2 groups (8)")
    parser.add_argument("--drain-rounds", type=int, help="row 2 rounds (4; quick 1)")
    parser.add_argument("--latency-samples", type=int, help="row 3 orders (500; quick 100)")
    parser.add_argument("--fanout", type=parse_fanout, help="row 4 sizes (10,100,1000,10000)")
    parser.add_argument(
        "--fanout-timeout", type=float, default=30.0, help="row 4: s per job plus 50 ms/account"
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="row 2 time limit")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="pool size each (2)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (4 if quick else 10)
    args.round_seconds = args.round_seconds or (1.5 if quick else 2.5)
    args.warmup_seconds = 1.0
    args.drain_rounds = args.drain_rounds or (1 if quick else 4)
    args.latency_samples = args.latency_samples or (100 if quick else 500)
    args.latency_warmup = 10
    sizes = args.fanout or ([10, 100, 1000] if quick else [10, 100, 1000, 10000])
    repeats = {10: 5, 100: 5, 1000: 1 if quick else 3}
    args.fanout = [(size, repeats.get(size, 1)) for size in sizes]
    return args


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Also when started in the background by a shell that ignores SIGINT for its children.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    import core

    report = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "code_under_test": {"bench_core": core.__file__},
        "machine": machine(),
        "load_before": load_average(),
        "load_after": "",
        "method": METHOD,
        "config": {k: v for k, v in vars(args).items()},
        "rows": {},
        "problems": [],
    }
    try:
        print("row 1: acceptance, no workers ...", flush=True)
        run_row(report, "accept", row_accept, args, report)
        run_row(report, "2-4 (the system with workers)", rows_with_workers, args, report)
    except StartupError as exc:
        print(f"core bench: the system did not start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("core bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    report["load_after"] = load_average()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"core-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_report(report)
    print(f"results: {path.relative_to(REPO_ROOT)}")
    if report["problems"]:
        print("FAILED measurements:", file=sys.stderr)
        for problem in report["problems"]:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
