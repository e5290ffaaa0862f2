"""A local stand-in for Schwab's Trader API, following its documented requests and answers.

Routes: ``GET /v1/oauth/authorize`` (redirects to the callback with a code and
the state, as Schwab does after a login), ``POST /v1/oauth/token`` (HTTP Basic
app key:secret, form ``grant_type=authorization_code|refresh_token``),
``GET /marketdata/v1/pricehistory`` and ``GET /marketdata/v1/quotes`` (Bearer
access token). It checks what it is sent as Schwab would (client auth, the
redirect URI, the valid periodType/frequencyType table, epoch-ms dates, a minute
request spanning at most 10 days) and records every request in
:attr:`FakeSchwab.requests` for tests to assert on. ``fail_next`` queues
answers (429 with ``Retry-After``, 503, ...) for the next market-data calls.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

VALID = {
    "day": ({1, 2, 3, 4, 5, 10}, {"minute"}),
    "month": ({1, 2, 3, 6}, {"daily", "weekly"}),
    "year": ({1, 2, 3, 5, 10, 15, 20}, {"daily", "weekly", "monthly"}),
    "ytd": ({1}, {"daily", "weekly"}),
}
FREQUENCIES = {"minute": {1, 5, 10, 15, 30}, "daily": {1}, "weekly": {1}, "monthly": {1}}
STEP = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1), "monthly": timedelta(days=30)}
MAX_MINUTE_SPAN = timedelta(days=10)
ONE_MINUTE_REACH = timedelta(days=48)


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class FakeSchwab:
    app_key: str
    app_secret: str
    callback_url: str
    access_life: float = 1800.0
    token_delay: float = 0.0  # seconds the token endpoint takes (widens races)
    requests: list[Recorded] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    refresh_tokens: set[str] = field(default_factory=set)
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0  # token requests being answered now
    most_in_flight: int = 0  # the most ever answered at once (2+: two refreshers overlapped)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Test controls -----------------------------------------------------------

    def issue_code(self) -> str:
        code = f"C0.{secrets.token_urlsafe(16)}@"  # Schwab's codes end in '@' (%40 in the URL)
        with self.lock:
            self.codes.add(code)
        return code

    def fail_next(self, status: int, count: int = 1, **headers: str) -> None:
        with self.lock:
            self.failures.extend([(status, headers)] * count)

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0.0

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def token_calls(self, grant_type: str) -> list[Recorded]:
        return [r for r in self.calls("/v1/oauth/token") if r.form.get("grant_type") == grant_type]

    # Behaviour ---------------------------------------------------------------

    def _new_tokens(self, refresh_token: str | None = None) -> dict:
        access = secrets.token_urlsafe(24)
        refresh = refresh_token or secrets.token_urlsafe(32)
        self.access_tokens[access] = time.time() + self.access_life
        self.refresh_tokens.add(refresh)
        return {
            "expires_in": int(self.access_life) if self.access_life >= 1 else self.access_life,
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": refresh,
            "access_token": access,
            "id_token": secrets.token_urlsafe(16),
        }

    def token(self, record: Recorded) -> tuple[int, dict]:
        expected = base64.b64encode(f"{self.app_key}:{self.app_secret}".encode()).decode()
        if record.headers.get("authorization") != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "client auth failed"}
        if not record.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return 400, {"error": "invalid_request"}
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.token_delay:
                time.sleep(self.token_delay)
            return self._grant(record.form)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _grant(self, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                if form.get("redirect_uri") != self.callback_url:
                    return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
                if form.get("code") not in self.codes:
                    return 400, {"error": "invalid_grant", "error_description": "bad code"}
                self.codes.discard(form["code"])
                return 200, self._new_tokens()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return 400, {
                        "error": "invalid_client",
                        "error_description": "refresh token invalid",
                    }
                return 200, self._new_tokens(form["refresh_token"])
        return 400, {"error": "unsupported_grant_type"}

    def authorized(self, record: Recorded) -> bool:
        scheme, _, token = record.headers.get("authorization", "").partition(" ")
        with self.lock:
            return scheme == "Bearer" and self.access_tokens.get(token, 0) > time.time()

    def price_history(self, query: dict[str, str]) -> tuple[int, dict]:
        period_type = query.get("periodType", "day")
        frequency_type = query.get("frequencyType", "minute")
        try:
            frequency = int(query.get("frequency", "1"))
            start = datetime.fromtimestamp(int(query["startDate"]) / 1000, UTC)
            end = datetime.fromtimestamp(int(query["endDate"]) / 1000, UTC)
        except (KeyError, ValueError):
            return 400, _error(400, "startDate and endDate must be epoch milliseconds")
        periods, frequency_types = VALID.get(period_type, (set(), set()))
        if frequency_type not in frequency_types or frequency not in FREQUENCIES.get(
            frequency_type, ()
        ):
            return 400, _error(400, "invalid periodType/frequencyType/frequency")
        if "period" in query and int(query["period"]) not in periods:
            return 400, _error(400, "invalid period")
        if frequency_type == "minute" and end - start > MAX_MINUTE_SPAN:
            return 400, _error(400, "minute range too long")
        now = datetime.now(UTC)
        if frequency_type == "minute" and frequency == 1:
            start = max(start, now - ONE_MINUTE_REACH)
        step = timedelta(minutes=frequency) if frequency_type == "minute" else STEP[frequency_type]
        candles = []
        moment = datetime.fromtimestamp((start.timestamp() // step.total_seconds())
                                        * step.total_seconds(), UTC)  # fmt: skip
        if moment < start:
            moment += step
        while moment <= end and moment <= now:  # Schwab's endDate is inclusive
            price = 100 + (moment.timestamp() // 60) % 50 / 4
            candles.append(
                {
                    "open": price,
                    "high": price + 0.5,
                    "low": price - 0.5,
                    "close": price + 0.25,
                    "volume": 1000,
                    "datetime": int(moment.timestamp() * 1000),
                }
            )
            moment += step
        return 200, {"symbol": query.get("symbol"), "empty": not candles, "candles": candles}

    def quotes(self, query: dict[str, str]) -> tuple[int, dict]:
        body: dict = {}
        invalid = []
        now_ms = int(time.time() * 1000)
        for symbol in query.get("symbols", "").split(","):
            if symbol.startswith("ZZ"):
                invalid.append(symbol)
                continue
            body[symbol] = {
                "assetMainType": "EQUITY",
                "symbol": symbol,
                "quote": {
                    "lastPrice": 123.4567,
                    "bidPrice": 123.4,
                    "askPrice": 123.5,
                    "quoteTime": now_ms,
                    "tradeTime": now_ms - 1000,
                },
            }
        if invalid:
            body["errors"] = {"invalidSymbols": invalid}
        return 200, body


def _error(status: int, detail: str) -> dict:
    return {"errors": [{"status": str(status), "title": "Bad Request", "detail": detail}]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _record(self, method: str) -> Recorded:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        record = Recorded(
            method=method,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            form={k: v[0] for k, v in parse_qs(body).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.time(),
        )
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(record)
        return record

    def _answer(self, record: Recorded, status: int, body: dict, headers: dict | None = None):
        record.status = status
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        record = self._record("GET")
        fake = self.server.fake
        if record.path == "/v1/oauth/authorize":
            query = {"code": fake.issue_code(), "state": record.query.get("state", "")}
            record.status = 302
            self.send_response(302)
            self.send_header("Location", f"{fake.callback_url}?{urlencode(query)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not record.path.startswith("/marketdata/v1/"):
            return self._answer(record, 404, _error(404, "not found"))
        if not fake.authorized(record):
            return self._answer(
                record, 401, {"errors": [{"status": "401", "title": "Unauthorized"}]}
            )
        with fake.lock:
            failure = fake.failures.pop(0) if fake.failures else None
        if failure is not None:
            status, headers = failure
            headers = {k.replace("_", "-"): v for k, v in headers.items()}
            return self._answer(record, status, _error(status, "injected"), headers)
        if record.path == "/marketdata/v1/pricehistory":
            return self._answer(record, *fake.price_history(record.query))
        if record.path == "/marketdata/v1/quotes":
            return self._answer(record, *fake.quotes(record.query))
        return self._answer(record, 404, _error(404, "not found"))

    def do_POST(self) -> None:
        record = self._record("POST")
        if record.path == "/v1/oauth/token":
            return self._answer(record, *self.server.fake.token(record))
        return self._answer(record, 404, _error(404, "not found"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSchwab


class SchwabServer:
    """The fake on a free port of 127.0.0.1, as a context manager."""

    def __init__(self, fake: FakeSchwab) -> None:
        self.fake = fake
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = fake
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SchwabServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
