"""Load test: many concurrent clients posting orders to many groups, then a correctness audit.

Starts everything it needs on 127.0.0.1 (a private redis-server, gunicorn serving
``api:create_app()``, two Celery workers), creates ``--groups`` groups with ``--accounts`` paper
accounts each, and lets ``--clients`` threads post ``POST /api/v1/groups/<g>/transactions``
(real paper orders, ``dry_run: false``) for ``--duration`` seconds. Then it waits for every
accepted job and checks: no 5xx, no lost job (every accepted id ends in a terminal state), no
doubled job (one result per account and symbol; exactly one ledger fill per filled result and
none otherwise). Same-run baselines (raw ``send_task`` rate from one process, raw task round
trip) make the figures comparable on a noisy machine. See ``bench/README.md``.

    .venv/bin/python bench/load.py            # 60 s, 200 clients, 20 groups
    .venv/bin/python bench/load.py --quick    # ~10 s smoke run

Exit status: 0 when every check passes, 1 when one fails, 2 when the system could not start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402

from bench.api_client import Api  # noqa: E402
from bench.errors import StartupError  # noqa: E402
from bench.load_audit import Report, Sample, audit, wait_drained  # noqa: E402
from bench.load_baseline import baseline  # noqa: E402
from bench.stats import percentile  # noqa: E402
from bench.system import System  # noqa: E402
from bench.workload import ORDER  # noqa: E402

RESULTS_DIR = REPO_ROOT / "bench" / "results"


# Setup and load --------------------------------------------------------------------------


def make_session(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    session.mount("http://", adapter)
    return session


def create_groups(url: str, key: str, groups: int, accounts: int) -> list[str]:
    """``groups`` new groups of ``accounts`` paper accounts each, activated by real jobs."""
    api = Api(url, key)
    run = uuid.uuid4().hex[:6]
    names = [f"bench-{run}-{n:03d}" for n in range(groups)]
    try:
        api.set_quote()
        for name in names:
            api.create_group(name)
        api.add_paper_accounts(names, [f"a{a}" for a in range(accounts)], timeout=60)
    finally:
        api.close()
    return names


def unloaded_posts(url: str, key: str, group: str, count: int) -> dict:
    """One client, one request at a time, before the load: the POST's own service time."""
    session = make_session(key)
    order = {**ORDER, "dry_run": True}
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.post(f"{url}/api/v1/groups/{group}/transactions", json=order, timeout=10)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return {
        "unloaded_post_p50_ms": statistics.median(latencies) * 1000,
        "unloaded_post_p99_ms": percentile(latencies, 99) * 1000,
        "unloaded_post_count": count,
    }


def hammer(url: str, key: str, groups: list[str], clients: int, duration: float, limit: int):
    """``clients`` threads post orders until ``duration`` s pass or ``limit`` requests are sent."""
    samples: list[Sample] = []
    lock = threading.Lock()
    budget = iter(range(limit))
    budget_lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)
    deadline = 0.0

    def client(n: int) -> None:
        session = make_session(key)
        mine: list[Sample] = []
        start_line.wait()
        i = 0
        while time.monotonic() < deadline:
            with budget_lock:
                if next(budget, None) is None:
                    break
            group = groups[(n + i) % len(groups)]
            i += 1
            started = time.perf_counter()
            try:
                response = session.post(
                    f"{url}/api/v1/groups/{group}/transactions", json=ORDER, timeout=30
                )
            except requests.RequestException as exc:
                mine.append(Sample(0, time.perf_counter() - started, group, error=repr(exc)))
                continue
            latency = time.perf_counter() - started
            job_id = ""
            if response.status_code == 202:
                job_id = response.json().get("job_id", "")
            mine.append(
                Sample(response.status_code, latency, group, job_id, response.text[:200])
                if response.status_code != 202
                else Sample(202, latency, group, job_id)
            )
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + duration
    start_line.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(duration + 60)
    return samples, time.monotonic() - began


# Entry point -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (200)")
    parser.add_argument("--groups", type=int, default=20, help="groups (20)")
    parser.add_argument("--accounts", type=int, default=2, help="paper accounts per group (2)")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="stop after this many POSTs (200000)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 s, light baselines")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="pool size each (2)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--broker-url", default="", help="Celery broker (default: the private Redis)"
    )
    parser.add_argument("--appendonly", action="store_true", help="Redis with AOF, as in prod")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to finish")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 10.0)
    return args


def print_table(report: Report) -> None:
    f, b = report.figures, report.baseline
    rows = [
        ("requests/s (POST, all statuses)", f"{f.get('requests_per_s', 0):.1f}"),
        ("requests sent / accepted (202)", f"{f.get('requests')} / {f.get('accepted')}"),
        ("enqueue latency p50 (HTTP POST)", f"{f.get('latency_p50_ms', 0):.1f} ms"),
        ("enqueue latency p99 (HTTP POST)", f"{f.get('latency_p99_ms', 0):.1f} ms"),
        ("jobs completed/s", f"{f.get('jobs_completed_per_s', 0):.1f}"),
        ("drain after load ended", f"{f.get('drain_after_load_s', 0):.1f} s"),
        ("baseline: raw send_task/s (1 process)", f"{b.get('send_task_per_s', 0):.0f}"),
        ("baseline: raw task round trip p50", f"{b.get('round_trip_p50_ms', 0):.2f} ms"),
        ("baseline: raw task round trip p99", f"{b.get('round_trip_p99_ms', 0):.2f} ms"),
        ("baseline: POST p50, 1 client, unloaded", f"{b.get('unloaded_post_p50_ms', 0):.1f} ms"),
        ("API requests/s ÷ raw send_task/s", f"{f.get('ratio_rps_to_send_task', 0):.3f}"),
        ("POST p50 ÷ raw round trip p50", f"{f.get('ratio_p50_to_round_trip', 0):.1f}"),
        ("clients ÷ requests/s (Little's law)", f"{f.get('queueing_latency_ms', 0):.0f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print()
    for name, value in report.checks.items():
        print(f"  check {name}: {value}")
    print()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        config={k: v for k, v in vars(args).items() if k != "broker_url"}
        | {"broker": (args.broker_url.split("://")[0] if args.broker_url else "redis")},
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    system = System(
        "api:create_app()",
        label="load",
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        broker_url=args.broker_url,
        appendonly=args.appendonly,
    )
    try:
        web = f"{args.web_workers}x{args.web_threads}"
        print(f"starting redis, gunicorn ({web}), {args.workers} workers ...", flush=True)
        try:
            system.start()
            system.start_workers(args.workers, args.worker_concurrency)
        except StartupError as exc:
            print(f"load: could not start the system: {exc}", file=sys.stderr)
            return 2
        # This process sends the baseline tasks: its Celery app must read the same settings.
        os.environ.update(system.env)
        from core.connection import redis_client

        redis = redis_client(system.redis.url)
        key = system.create_api_key()

        quick = args.quick
        print("baseline ...", flush=True)
        report.baseline = baseline(
            count=2000 if quick else 10000, round_trips=100 if quick else 500
        )
        print(f"creating {args.groups} groups x {args.accounts} paper accounts ...", flush=True)
        groups = create_groups(system.url, key, args.groups, args.accounts)
        report.baseline |= unloaded_posts(system.url, key, groups[0], 50 if quick else 200)

        print(f"load: {args.clients} clients for {args.duration:.0f} s ...", flush=True)
        load_started = time.monotonic()
        samples, elapsed = hammer(
            system.url, key, groups, args.clients, args.duration, args.max_requests
        )
        print(f"waiting for the jobs ({len(samples)} requests) ...", flush=True)
        drain = wait_drained(redis, groups, args.drain_timeout)
        latencies = [s.latency for s in samples if s.status]
        accepted = [s for s in samples if s.status == 202]
        report.figures.update(
            {
                "requests": len(samples),
                "accepted": len(accepted),
                "load_seconds": elapsed,
                "requests_per_s": len(samples) / elapsed if elapsed else 0.0,
                "latency_p50_ms": percentile(latencies, 50) * 1000,
                "latency_p90_ms": percentile(latencies, 90) * 1000,
                "latency_p99_ms": percentile(latencies, 99) * 1000,
                "latency_max_ms": max(latencies, default=0.0) * 1000,
                "drain_after_load_s": drain,
                "load_start_to_drained_s": time.monotonic() - load_started,
            }
        )
        audit(redis, samples, groups, args.accounts, report)
        f, b = report.figures, report.baseline
        f["ratio_rps_to_send_task"] = f["requests_per_s"] / b["send_task_per_s"]
        f["ratio_p50_to_round_trip"] = f["latency_p50_ms"] / b["round_trip_p50_ms"]
        # Little's law: the latency closed-loop clients must see at this throughput.
        f["queueing_latency_ms"] = args.clients / f["requests_per_s"] * 1000
    finally:
        system.stop()

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"load-{stamp}.json"
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    print_table(report)
    print(f"results: {path.relative_to(REPO_ROOT)}")
    if report.problems:
        print("FAILED:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
