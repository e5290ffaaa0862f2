"""Grafana provisioning: files parse, uids are stable, and every panel query returns series
from a real influxd holding data written by tradefleet's own code."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from core import keys
from core.models import LegResult, ResultStatus, to_iso
from ingest import metrics, pulls
from ingest.providers.synthetic import SyntheticProvider

ROOT = Path(__file__).resolve().parents[2] / "grafana"
DATASOURCE_UID = "tradefleet-influxdb"
DASHBOARDS = {"market.json": "tradefleet-market", "operations.json": "tradefleet-operations"}


def _dashboard(name: str) -> dict:
    return json.loads((ROOT / "dashboards" / name).read_text())


def _queries(board: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["query"]) for p in board["panels"] for t in p["targets"]]


def expand(query: str, start: datetime, end: datetime, variables: dict[str, str]) -> str:
    """What Grafana sends: ``$timeFilter`` in ms, ``$__interval``, template variables."""
    text = query.replace(
        "$timeFilter",
        f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms",
    )
    text = text.replace("$__interval", "5m")
    for name, value in variables.items():
        text = text.replace(f"${name}", re.escape(value))
    assert "$" not in text.replace("$/", ""), f"unexpanded variable in {text}"
    return text


def test_provisioning_files_point_at_the_dashboards():
    (source,) = yaml.safe_load((ROOT / "provisioning/datasources/influxdb.yaml").read_text())[
        "datasources"
    ]
    assert source["type"] == "influxdb" and source["uid"] == DATASOURCE_UID
    assert source["database"] == "${INFLUX_BUCKET}" and source["url"] == "${INFLUX_URL}"
    assert "version" not in source["jsonData"]  # InfluxQL, not Flux
    (provider,) = yaml.safe_load((ROOT / "provisioning/dashboards/tradefleet.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize(("name", "uid"), DASHBOARDS.items())
def test_dashboards_have_stable_uids_and_raw_influxql(name, uid):
    board = _dashboard(name)
    assert board["uid"] == uid
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        for target in panel["targets"]:
            assert target["rawQuery"] is True
            assert "$timeFilter" in target["query"]
            if "GROUP BY" in target["query"]:
                assert "time($__interval)" in target["query"]
    if name == "market.json":
        assert any(p["type"] == "candlestick" for p in board["panels"])
        assert {v["name"] for v in board["templating"]["list"]} == {"symbol", "bar_interval"}


@pytest.mark.integration
def test_every_panel_query_returns_series(store, private_redis):
    redis_client = private_redis
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(hours=6)
    provider = SyntheticProvider(seed=9)
    store.write_bars(provider.bars("GRAF", "1m", start, end))
    pulls.refresh_quotes(provider, redis_client, ["GRAF"], store)
    _seed_jobs(redis_client, end)
    store.write_lines(
        metrics.collect(
            redis_client, queue_prefixes=("group.graf",), static_queues=("default",), now=end
        ),
        "s",
    )

    variables = {"symbol": "GRAF", "bar_interval": "1m"}
    end += timedelta(minutes=1)  # Grafana's "now" when the dashboard loads, after the writes
    for variable in _dashboard("market.json")["templating"]["list"]:
        values = store.query(expand(variable["query"], start, end, variables))
        assert values and ["value"] in [s["columns"][1:] for s in values]
        assert any(row[1] == variables[variable["name"]] for s in values for row in s["values"])
    for name in DASHBOARDS:
        for title, query in _queries(_dashboard(name)):
            series = store.query(expand(query, start, end, variables))
            assert series, f"{name}: panel {title!r} returned no series for {query}"
            assert any(any(v is not None for v in row[1:]) for s in series for row in s["values"])


def _seed_jobs(connection, now: datetime) -> None:
    """Two finished jobs and a queued one in a group, as core.jobs writes them."""
    group = "graf-ops"
    connection.sadd(keys.groups(), group)
    connection.rpush("group.graf-ops", "waiting")
    for n, state in enumerate(("succeeded", "partial", "queued")):
        job_id = f"graf-job-{n}"
        created = now - timedelta(seconds=30)
        record = {"state": state, "kind": "transaction", "created_at": to_iso(created)}
        if state != "queued":
            record["started_at"] = to_iso(created + timedelta(seconds=1))
            record["finished_at"] = to_iso(created + timedelta(seconds=3))
            result = LegResult(account="a1", brokerage="paper", status=ResultStatus.FILLED)
            connection.hset(keys.job_results(job_id), "a1|SPY", result.to_json())
        connection.hset(keys.job(job_id), mapping=record)
        connection.zadd(keys.group_jobs(group), {job_id: created.timestamp()})
