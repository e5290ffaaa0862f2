"""The two wire dialects of InfluxDB behind one small interface (:class:`Wire`).

* **1.x** (:class:`V1Wire`): ``POST /write?db=&precision=`` with line protocol,
  InfluxQL through ``POST /query``. Debian's ``influxd`` 1.6 speaks only this.
* **2.x** (:class:`V2Wire`): writes through ``influxdb-client`` (``/api/v2/write``
  with org, bucket, precision and ``Authorization: Token``); reads through the
  InfluxQL ``/query`` compatibility endpoint, which needs a DBRP mapping of the
  bucket (InfluxDB 2.x maps every bucket to a database of its name).

:func:`detect_version` asks ``/ping`` for its ``X-Influxdb-Version`` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import requests

from core.errors import ServiceUnavailable, TradefleetError

TIMEOUT_SECONDS = 30.0


class InfluxError(TradefleetError):
    """InfluxDB refused a write or a query (the message carries its answer): fix the request."""


class InfluxUnavailable(ServiceUnavailable, InfluxError):
    """InfluxDB cannot be reached: market history is off until it is back."""


class Wire(Protocol):
    version: str

    def write(self, lines: Sequence[str], precision: str = "s") -> None:
        """Write one batch of line protocol at ``precision`` (``s``, ``ms``, ``us``, ``ns``)."""
        ...

    def query(self, influxql: str) -> list[dict]:
        """Run InfluxQL; the series of every statement (``name``, ``tags``, ``columns``,
        ``values``), timestamps as epoch seconds."""
        ...

    def ensure_database(self) -> None: ...

    def close(self) -> None: ...


def detect_version(url: str, timeout: float = 5.0) -> str:
    """``"1"`` or ``"2"`` from ``/ping``'s ``X-Influxdb-Version`` (``3.x`` speaks the 2.x writes).

    Raises:
        InfluxUnavailable: nothing answers at ``url``.
    """
    try:
        response = requests.get(f"{url.rstrip('/')}/ping", timeout=timeout)
    except requests.RequestException as exc:
        raise InfluxUnavailable(f"InfluxDB at {url} does not answer: {exc}") from None
    version = response.headers.get("X-Influxdb-Version", "").lstrip("v")
    return "1" if version.startswith(("0.", "1.")) else "2"


class _InfluxQL:
    """The InfluxQL ``/query`` endpoint, shared by both dialects."""

    def __init__(self, url: str, database: str, token: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def query(self, influxql: str) -> list[dict]:
        answer = self._post(
            "/query", data={"q": influxql, "db": self.database, "epoch": "s"}, what="query"
        ).json()
        series = []
        for result in answer.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxDB refused the query: {result['error']}")
            series.extend(result.get("series", []))
        return series

    def _post(self, path: str, *, what: str, **kwargs) -> requests.Response:
        try:
            response = self.session.post(self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} does not answer: {exc}") from None
        if response.status_code >= 500:
            raise InfluxUnavailable(f"InfluxDB {what} failed ({response.status_code})")
        if response.status_code >= 400:
            raise InfluxError(
                f"InfluxDB refused the {what} ({response.status_code}): {response.text[:300]}"
            )
        return response

    def close(self) -> None:
        self.session.close()


class V1Wire(_InfluxQL):
    """InfluxDB 1.x: ``/write`` and ``/query`` (the database is ``INFLUX_BUCKET``)."""

    version = "1"

    def write(self, lines: Sequence[str], precision: str = "s") -> None:
        if not lines:
            return
        self._post(
            "/write",
            params={"db": self.database, "precision": precision},
            data="\n".join(lines).encode(),
            what="write",
        )

    def ensure_database(self) -> None:
        self._post("/query", data={"q": f'CREATE DATABASE "{self.database}"'}, what="query")


class V2Wire(_InfluxQL):
    """InfluxDB 2.x: writes through ``influxdb-client``, InfluxQL reads through ``/query``."""

    version = "2"

    def __init__(self, url: str, database: str, token: str, org: str, timeout: float) -> None:
        super().__init__(url, database, token, timeout)
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.org = org
        self.client = InfluxDBClient(
            url=self.url, token=token, org=org, timeout=int(timeout * 1000)
        )
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str], precision: str = "s") -> None:
        if not lines:
            return
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self.write_api.write(
                bucket=self.database,
                org=self.org,
                record="\n".join(lines),
                write_precision=precision,
            )
        except ApiException as exc:
            if exc.status and exc.status >= 500:
                raise InfluxUnavailable(f"InfluxDB write failed ({exc.status})") from None
            raise InfluxError(f"InfluxDB refused the write ({exc.status}): {exc.body}") from None
        except (HTTPError, OSError) as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} does not answer: {exc}") from None

    def ensure_database(self) -> None:
        """The bucket is made when InfluxDB 2 is set up (``DOCKER_INFLUXDB_INIT_BUCKET``)."""

    def close(self) -> None:
        super().close()
        self.client.close()
