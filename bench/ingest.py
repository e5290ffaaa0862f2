"""Ingest speed (issue 9): 1,000,000 bars into a real InfluxDB through ``MarketStore``
against the same line protocol built by hand and POSTed, in the same run.

Both sides get identical bars (generated before the clock starts) and write them in
batches of the same size over one keep-alive HTTP session, each into a fresh database of
the same influxd (Debian's 1.x, started on a free port unless ``--url`` names one). The
order alternates between rounds; the figure is the median of the rounds.

    .venv/bin/python bench/ingest.py [--bars 1000000] [--rounds 5] [--batch 5000] [--url URL]

Prints bars/s for both sides and the ratio store / hand-built (goal: at least 0.8x).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # never used: no Redis here
if not os.environ.get("TRADEFLEET_SECRET_KEY"):
    from cryptography.fernet import Fernet

    os.environ["TRADEFLEET_SECRET_KEY"] = Fernet.generate_key().decode()

import requests  # noqa: E402

from core.settings import Settings  # noqa: E402
from ingest.providers.base import Bar  # noqa: E402
from ingest.store import MarketStore, V1Wire  # noqa: E402

SYMBOLS = 100
START = datetime(2026, 1, 1, tzinfo=UTC)


def make_bars(count: int) -> list[Bar]:
    """``count`` one-minute bars over ``SYMBOLS`` symbols (a seeded random walk, cents)."""
    rng = random.Random(20261201)
    per_symbol = -(-count // SYMBOLS)
    bars: list[Bar] = []
    cent = Decimal("0.01")
    for n in range(SYMBOLS):
        symbol = f"B{n:03d}"
        price = 100.0 + n
        for k in range(per_symbol):
            if len(bars) == count:
                break
            open_ = price
            price = max(1.0, price * (1 + rng.gauss(0, 0.001)))
            high, low = max(open_, price) * 1.0005, min(open_, price) * 0.9995
            bars.append(
                Bar(symbol, "1m", START + timedelta(minutes=k),
                    Decimal(open_).quantize(cent), Decimal(high).quantize(cent),
                    Decimal(low).quantize(cent), Decimal(price).quantize(cent),
                    rng.randint(100, 100_000), "bench")
            )  # fmt: skip
    return bars


def hand_built(url: str, database: str, bars: list[Bar], batch: int) -> float:
    """The baseline: f-string line protocol, POSTed to /write in batches. Returns seconds."""
    session = requests.Session()
    begun = time.perf_counter()
    for first in range(0, len(bars), batch):
        body = "\n".join(
            f"bars,interval={b.interval},source={b.source},symbol={b.symbol} "
            f"open={b.open},high={b.high},low={b.low},close={b.close},volume={b.volume}i "
            f"{int(b.start.timestamp())}"
            for b in bars[first : first + batch]
        )
        answer = session.post(
            f"{url}/write", params={"db": database, "precision": "s"}, data=body.encode()
        )
        answer.raise_for_status()
    elapsed = time.perf_counter() - begun
    session.close()
    return elapsed


def through_store(url: str, database: str, bars: list[Bar], batch: int) -> float:
    settings = dataclasses.replace(
        Settings.from_env(), influx_url=url, influx_bucket=database, influx_version="1"
    )
    store = MarketStore(V1Wire(url, database, settings.influx_token, 60.0), batch_size=batch)
    begun = time.perf_counter()
    store.write_bars(bars)
    elapsed = time.perf_counter() - begun
    store.close()
    return elapsed


def count(url: str, database: str) -> int:
    answer = requests.post(
        f"{url}/query", data={"db": database, "q": 'SELECT count("close") FROM "bars"'}
    ).json()
    return int(answer["results"][0]["series"][0]["values"][0][1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--url", help="an InfluxDB 1.x to use (default: start one)")
    args = parser.parse_args(argv)

    server = None
    url = args.url
    if url is None:
        from tests.services import InfluxServer

        server = InfluxServer().start()
        url = server.url
    try:
        print(f"generating {args.bars:,} bars ...", flush=True)
        bars = make_bars(args.bars)
        figures: dict[str, list[float]] = {"hand-built": [], "store": []}
        for round_ in range(args.rounds):
            sides = [("hand-built", hand_built), ("store", through_store)]
            if round_ % 2:
                sides.reverse()
            for name, run in sides:
                database = f"bench_{uuid.uuid4().hex[:8]}"
                requests.post(f"{url}/query", data={"q": f'CREATE DATABASE "{database}"'})
                seconds = run(url, database, bars, args.batch)
                stored = count(url, database)
                assert stored == len(bars), f"{name}: {stored} of {len(bars)} bars stored"
                figures[name].append(len(bars) / seconds)
                print(f"round {round_ + 1} {name:>10}: {seconds:6.2f} s  "
                      f"{len(bars) / seconds:9,.0f} bars/s", flush=True)  # fmt: skip
                requests.post(f"{url}/query", data={"q": f'DROP DATABASE "{database}"'})
        base = statistics.median(figures["hand-built"])
        ours = statistics.median(figures["store"])
        print(f"\nbars: {len(bars):,}  batch: {args.batch}  rounds: {args.rounds}")
        print(f"hand-built line protocol: {base:,.0f} bars/s (median)")
        print(f"MarketStore.write_bars:   {ours:,.0f} bars/s (median)")
        print(f"ratio store / hand-built: {ours / base:.2f}x  (goal >= 0.8x)")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
