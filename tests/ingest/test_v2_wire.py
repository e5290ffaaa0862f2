"""The 2.x dialect against a local server: what influxdb-client sends, and detection by /ping."""

from __future__ import annotations

import dataclasses
import gzip
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from core.settings import Settings
from ingest.providers.synthetic import SyntheticProvider
from ingest.store import InfluxError, V1Wire, V2Wire, detect_version, open_store
from ingest.store.lines import bar_line


class _Influx2(BaseHTTPRequestHandler):
    version_header = "v2.7.11"
    writes: list = []
    status = 204

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/ping":
            self.send_response(204)
            self.send_header("X-Influxdb-Version", self.version_header)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        url = urlparse(self.path)
        type(self).writes.append(
            {"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
             "body": body.decode()}
        )  # fmt: skip
        self.send_response(self.status)
        if self.status >= 400:
            payload = b'{"code":"invalid","message":"unable to parse"}'
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.end_headers()


@pytest.fixture
def influx2():
    _Influx2.writes = []
    _Influx2.status = 204
    _Influx2.version_header = "v2.7.11"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Influx2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _settings(url: str, **changes) -> Settings:
    return dataclasses.replace(
        Settings.from_env(), influx_url=url, influx_token="tok-123", influx_org="acme",
        influx_bucket="market", **changes,
    )  # fmt: skip


def test_v2_detected_from_ping_and_write_carries_org_bucket_precision_token(influx2):
    assert detect_version(influx2) == "2"
    store = open_store(_settings(influx2))
    assert isinstance(store.wire, V2Wire)
    end = datetime(2026, 11, 30, tzinfo=UTC)
    bars = SyntheticProvider().bars("SPY", "1m", end - timedelta(minutes=3), end)
    store.write_bars(bars)
    (write,) = _Influx2.writes
    assert write["path"] == "/api/v2/write"
    assert write["query"] == {"org": ["acme"], "bucket": ["market"], "precision": ["s"]}
    assert write["headers"]["Authorization"] == "Token tok-123"
    assert write["body"].splitlines() == [bar_line(b) for b in bars]
    assert (
        write["body"]
        .splitlines()[0]
        .startswith("bars,interval=1m,source=synthetic,symbol=SPY open=")
    )
    assert write["body"].splitlines()[0].endswith(f"i {int(bars[0].start.timestamp())}")


def test_v2_quotes_are_written_in_ms(influx2):
    from ingest import pulls

    store = open_store(_settings(influx2))
    store.write_quotes([SyntheticProvider().quote("AAPL")])
    (write,) = _Influx2.writes
    assert write["query"]["precision"] == ["ms"]
    assert write["body"].startswith("quotes,source=synthetic,symbol=AAPL price=")
    assert pulls  # the module the beat task uses writes through this store


def test_v2_refused_write_is_an_influx_error(influx2):
    _Influx2.status = 400
    store = open_store(_settings(influx2))
    with pytest.raises(InfluxError, match="400"):
        store.write_lines(["bad line"])


def test_version_setting_overrides_detection_and_1x_header_is_read(influx2):
    assert isinstance(open_store(_settings(influx2, influx_version="1")).wire, V1Wire)
    _Influx2.version_header = "1.6.7~rc0"
    assert detect_version(influx2) == "1"
