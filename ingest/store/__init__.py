"""The InfluxDB store (``MarketStore``) and how to open it from settings.

With ``INFLUX_URL`` unset there is no store: :func:`open_store` returns ``None``
and the system runs on the Redis quote cache alone (``/health`` says market
history is off).
"""

from __future__ import annotations

from core.settings import Settings
from ingest.store.market import MarketStore
from ingest.store.wire import (
    InfluxError,
    InfluxUnavailable,
    V1Wire,
    V2Wire,
    Wire,
    detect_version,
)

__all__ = [
    "InfluxError",
    "InfluxUnavailable",
    "MarketStore",
    "V1Wire",
    "V2Wire",
    "Wire",
    "detect_version",
    "open_store",
    "open_wire",
]


def open_wire(settings: Settings, *, timeout: float = 30.0) -> Wire:
    """The dialect ``INFLUX_VERSION`` names, else the one ``/ping`` reports.

    Raises:
        InfluxUnavailable: the version must be detected and InfluxDB does not answer.
    """
    version = settings.influx_version or detect_version(settings.influx_url)
    if version == "1":
        return V1Wire(settings.influx_url, settings.influx_bucket, settings.influx_token, timeout)
    return V2Wire(
        settings.influx_url,
        settings.influx_bucket,
        settings.influx_token,
        settings.influx_org,
        timeout,
    )


def open_store(settings: Settings, *, batch_size: int | None = None) -> MarketStore | None:
    """The store, or ``None`` when ``INFLUX_URL`` is unset.

    Raises:
        InfluxUnavailable: InfluxDB is configured but does not answer.
    """
    if not settings.influx_url:
        return None
    wire = open_wire(settings)
    wire.ensure_database()
    store = MarketStore(wire) if batch_size is None else MarketStore(wire, batch_size=batch_size)
    return store
