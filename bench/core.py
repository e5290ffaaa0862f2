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

This module is the command line: options, the rows in order, the table, the exit status. The
rows are in ``bench/rows.py``; the system they drive in ``bench/system.py``; the load
generator in ``bench/loadgen.py``; waiting for jobs in ``bench/watcher.py``; the CPU
accounting in ``bench/cpu.py``.

    .venv/bin/python bench/core.py --quick    # about 1 minute, fan-out up to 1,000
    .venv/bin/python bench/core.py            # about 2.5 minutes, fan-out up to 10,000

Exit status: 0 when everything was measured (goals missed are printed as MISSED, they do not
fail the run), 1 when a measurement failed (bad HTTP status, failed job, timeout), 2 when the
system could not start, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import core  # noqa: E402  (which tree the bench imported, printed with the figures)
from bench import rows  # noqa: E402
from bench.cpu import load_average, machine  # noqa: E402
from bench.errors import StartupError  # noqa: E402

RESULTS_DIR = REPO_ROOT / "bench" / "results"
METHOD = (
    "load generator: Python threads, one keep-alive http.client connection each, "
    "closed loop (next request when the answer is read), same generator for API and baseline"
)


# The table -------------------------------------------------------------------------------


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
                f"{s['round_trips_per_account']:.1f}x a Redis round trip "
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
        rows.run_row(report, "accept", rows.row_accept, args, report)
        rows.run_row(report, "2-4 (the system with workers)", rows.rows_with_workers, args, report)
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
