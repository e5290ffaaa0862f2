"""Hand-written bad input that a schema-driven fuzzer does not send.

Every refused request must answer a 4xx JSON error with a message (never a 500)
and change nothing: each test compares what the API shows before and after.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from core import keys

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ORDER = {"action": "buy", "symbols": ["AAPL"], "quantity": 1}


@pytest.fixture(scope="module")
def group(api) -> str:
    """A served group with one active paper account and a quote for AAPL."""
    name = api.create_group()
    api.add_paper_account(name, "alice")
    api.set_quote("AAPL", "190.00")
    return name


def snapshot(api, group: str) -> dict:
    """What the API shows about the group (and the registry around it)."""

    def body(path: str):
        response = api.get(path)
        return response.status_code, response.json()

    jobs = api.get(f"/api/v1/groups/{group}/jobs", params={"page_size": 100})
    return {
        "groups": sorted(g["name"] for g in api.get("/api/v1/groups").json()),
        "group": body(f"/api/v1/groups/{group}"),
        "accounts": body(f"/api/v1/groups/{group}/accounts"),
        "jobs": [j["id"] for j in jobs.json()],
        "jobs_total": json.loads(jobs.headers["X-Pagination"])["total"],
        "positions": [  # as_of of a paper ledger is "now"
            {k: v for k, v in account.items() if k != "as_of"}
            for account in api.get(f"/api/v1/groups/{group}/positions").json()
        ],
        "quote": body("/api/v1/market-data/AAPL"),
    }


def refused(response: requests.Response, status: int | tuple[int, ...]) -> dict:
    """Assert a JSON error of ``status`` with a message; return its body."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["code"] == response.status_code
    assert isinstance(body["message"], str) and body["message"]
    return body


def raw(api, method: str, path: str, data, content_type: str = "application/json", **kwargs):
    headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
    return api.request(method, path, data=data, headers=headers, **kwargs)


# --- oversized, non-JSON and malformed bodies -------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/groups"),
        ("POST", "/api/v1/groups/{g}/accounts"),
        ("POST", "/api/v1/groups/{g}/transactions"),
        ("PUT", "/api/v1/market-data/AAPL"),
        ("POST", "/activate"),
    ],
)
def test_body_over_64_kib_is_413(api, group, method, path):
    before = snapshot(api, group)
    name = f"t-{uuid.uuid4().hex[:10]}"
    padding = "x" * (65 * 1024)
    data = json.dumps({"name": name, "padding": padding, **ORDER})
    body = refused(raw(api, method, path.format(g=group), data), 413)
    assert "limit" in body["message"] or "large" in body["message"].lower()
    assert snapshot(api, group) == before


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"not json", "application/json", 400),
        (b'{"name": ', "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b"", "application/json", 422),  # no body: every required field is missing
        (b'{"name": "t-x"}', "text/plain", 422),
        (b"name=t-x", "application/x-www-form-urlencoded", 422),
        (b"<xml/>", "application/xml", 422),
        (b"null", "application/json", 422),
        (b"[]", "application/json", 422),
        (b'"t-x"', "application/json", 422),
        (b"42", "application/json", 422),
    ],
)
def test_non_json_or_wrong_content_type_is_4xx(api, group, data, content_type, status):
    before = snapshot(api, group)
    for path in ("/api/v1/groups", f"/api/v1/groups/{group}/transactions"):
        refused(raw(api, "POST", path, data, content_type), status)
    assert snapshot(api, group) == before


def test_deeply_nested_json_is_400(api, group):
    """Regression: json.loads raised RecursionError, which webargs let through as a 500."""
    before = snapshot(api, group)
    for data in ("[" * 30000 + "]" * 30000, '{"a":' * 10000 + "1" + "}" * 10000):
        for path in ("/api/v1/groups", f"/api/v1/groups/{group}/transactions", "/activate"):
            body = refused(raw(api, "POST", path, data), 400)
            assert body["errors"] == {"json": ["Invalid JSON body."]}
    assert snapshot(api, group) == before


def test_moderately_nested_json_is_422(api, group):
    before = snapshot(api, group)
    nested = {"starting_cash": "100"}
    for _ in range(200):
        nested = {"a": nested}
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "nested", "brokerage": "paper", "credentials": nested},
    )
    assert "credentials" in refused(response, 422)["errors"]["json"]
    assert snapshot(api, group) == before


def test_integer_of_thousands_of_digits_is_400(api, group):
    """Regression: Python refuses ints over 4300 digits with a ValueError: it was a 500."""
    before = snapshot(api, group)
    digits = "9" * 5000
    for path, data in [
        (
            f"/api/v1/groups/{group}/transactions",
            '{"action": "buy", "symbols": ["AAPL"], "quantity": ' + digits + "}",
        ),
        ("/api/v1/groups", '{"name": ' + digits + "}"),
    ]:
        refused(raw(api, "POST", path, data), 400)
    refused(raw(api, "PUT", "/api/v1/market-data/AAPL", '{"price": ' + digits + "}"), 400)
    assert snapshot(api, group) == before


# --- names and credentials -----------------------------------------------------------------

BAD_NAMES = [
    "",
    "Family",
    "ünïcode",
    "\uff46\uff41\uff4d",  # fullwidth letters
    "fam\u202eily",  # right-to-left override
    "fam\u200bily",  # zero-width space
    "fam😀",
    "fam\x00ily",
    "fam\nily",
    "fam\tily",
    "fam\x7f",
    "-leading-dash",
    "_leading",
    "has space",
    "a" * 65,
    "x\ud800",  # lone surrogate (valid JSON escape)
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_group_name_is_422_and_creates_nothing(api, group, name):
    before = snapshot(api, group)
    body = refused(raw(api, "POST", "/api/v1/groups", json.dumps({"name": name})), 422)
    assert "name" in body["errors"]["json"]
    if "\ud800" not in name:  # a lone surrogate cannot be put in a URL
        compat = api.post("/createGroup", params={"group_name": name})
        assert "name" in refused(compat, 422)["errors"]["json"]
    assert snapshot(api, group) == before


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_account_name_is_422_and_stores_nothing(api, group, redis_client, name):
    before = snapshot(api, group)
    data = json.dumps({"name": name, "brokerage": "paper", "credentials": {}})
    body = refused(raw(api, "POST", f"/api/v1/groups/{group}/accounts", data), 422)
    assert "name" in body["errors"]["json"]
    compat = {
        "group_name": group,
        "account_name": name,
        "brokerage": "paper",
        "cred": {"USERNAME": "u", "PASSWORD": "p"},
    }
    assert (
        "name" in refused(raw(api, "POST", "/activate", json.dumps(compat)), 422)["errors"]["json"]
    )
    assert snapshot(api, group) == before
    if isinstance(name, str) and "\ud800" not in name:
        assert not redis_client.exists(keys.credentials(group, name))


SECRET = "S3cr3t-value"
BAD_CREDENTIALS = [
    ("tradier", "access_token", f"{SECRET}\x00"),
    ("tradier", "access_token", f"{SECRET}\n"),
    ("tradier", "access_token", f"\r{SECRET}"),
    ("tradier", "access_token", f"{SECRET}:extra"),
    ("tradier", "access_token", f"{SECRET},other"),
    ("tradier", "access_token", f"{SECRET}\u2028"),  # line separator
    ("tradier", "access_token", f"{SECRET}\ud800"),  # lone surrogate
    ("tradier", "access_token", "x" * 513),
    ("tradier", "access_token", "   "),
    ("tradier", "access_token", 12345),
    ("tradier", "access_token", ["list"]),
    ("tradier", "access_token", {"nested": SECRET}),
    ("fidelity", "password", f"pässwörd\x1b[31m{SECRET}"),
    ("chase", "phone_last4", "\uff11\uff12\uff13\uff14"),  # fullwidth digits
    ("chase", "phone_last4", "12345"),
    ("paper", "starting_cash", "NaN"),
    ("paper", "starting_cash", "1e400"),
    ("paper", "starting_cash", "-5"),
]


@pytest.mark.parametrize(
    ("brokerage", "field", "value"), BAD_CREDENTIALS, ids=range(len(BAD_CREDENTIALS))
)
def test_bad_credentials_are_422_naming_the_field(
    api, group, redis_client, brokerage, field, value
):
    from brokers.credentials import BROKERAGES

    before = snapshot(api, group)
    credentials = {name: "ok-value" for name in BROKERAGES[brokerage].fields}
    credentials.pop("starting_cash", None)
    if brokerage == "chase":
        credentials["phone_last4"] = "1234"
        credentials.pop("debug", None)
    if brokerage == "fidelity":
        credentials.pop("totp_secret", None)
    credentials[field] = value
    name = f"acct-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"name": name, "brokerage": brokerage, "credentials": credentials})
    response = raw(api, "POST", f"/api/v1/groups/{group}/accounts", data)
    body = refused(response, 422)
    assert field in body["errors"]["json"]["credentials"], body
    assert SECRET not in response.text  # errors name the field, never echo the value
    assert snapshot(api, group) == before
    assert not redis_client.exists(keys.credentials(group, name))
    assert not redis_client.exists(keys.account(group, name))


@pytest.mark.parametrize("brokerage", ["robin hood", "RH", "paper\x00", "", "ünknown", 7])
def test_unknown_brokerage_is_422(api, group, brokerage):
    from brokers.credentials import BROKERAGES

    before = snapshot(api, group)
    data = json.dumps({"name": "newacct", "brokerage": brokerage, "credentials": {}})
    body = refused(raw(api, "POST", f"/api/v1/groups/{group}/accounts", data), 422)
    assert "brokerage" in body["errors"]["json"]
    order = json.dumps({**ORDER, "brokerages": [brokerage]})
    body = refused(raw(api, "POST", f"/api/v1/groups/{group}/transactions", order), 422)
    assert "brokerages" in body["errors"]["json"]
    # The old API's names are normalised ("Robin Hood" is robinhood): only truly unknown ones.
    if isinstance(brokerage, str) and brokerage.replace(" ", "").lower() not in BROKERAGES:
        compat = {
            "group_name": group,
            "account_name": "newacct",
            "brokerage": brokerage,
            "cred": {"USERNAME": "u", "PASSWORD": "p"},
        }
        refused(raw(api, "POST", "/activate", json.dumps(compat)), 422)
    assert snapshot(api, group) == before


# --- numbers ---------------------------------------------------------------------------------

BAD_NUMBERS = [
    "1e308",
    "1E308",
    "-1e308",
    "1e400",  # a float overflow: json reads it as inf
    "-1e400",
    "1" + "0" * 400,  # 10**400 as an integer
    "NaN",
    "Infinity",
    "-Infinity",
    "0",
    "-0",
    "-1",
    "-0.0001",
    "1000001",
    "1e-400",  # underflows to 0
    "true",
    "null",
    '"NaN"',
    '"Infinity"',
    '"1e3"',
    '"1_000"',
    '" 5 "',
    '"-5"',
    '"five"',
    '""',
    "[1]",
    '{"v": 1}',
]


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_bad_quantity_is_422(api, group, number):
    before = snapshot(api, group)
    data = '{"action": "buy", "symbols": ["AAPL"], "quantity": ' + number + ', "dry_run": false}'
    body = refused(raw(api, "POST", f"/api/v1/groups/{group}/transactions", data), 422)
    assert "quantity" in body["errors"]["json"], body
    assert snapshot(api, group) == before


@pytest.mark.parametrize("number", [n for n in BAD_NUMBERS if n != "1000001"] + ["100000000"])
def test_bad_price_and_limit_price_are_422(api, group, number):
    before = snapshot(api, group)
    body = refused(raw(api, "PUT", "/api/v1/market-data/AAPL", '{"price": ' + number + "}"), 422)
    assert "price" in body["errors"]["json"], body
    data = (
        '{"action": "buy", "symbols": ["AAPL"], "quantity": 1, "order_type": "limit",'
        ' "limit_price": ' + number + "}"
    )
    if number != "null":  # a limit order without a limit price is refused too, below
        body = refused(raw(api, "POST", f"/api/v1/groups/{group}/transactions", data), 422)
        assert "limit_price" in body["errors"]["json"], body
    assert snapshot(api, group) == before


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e400", "-1", "0", "1e3", "abc", "1" * 500])
def test_bad_compat_amount_is_422(api, group, amount):
    before = snapshot(api, group)
    response = api.post("/transaction", params={"group_name": group, "amount": amount})
    assert "amount" in refused(response, 422)["errors"]["query"]
    assert snapshot(api, group) == before


def test_decimal_strings_and_numbers_are_accepted(api, group):
    """The tightened decimal strings still take what clients send (README: "190.00")."""
    for price in ('"190.00"', "190", "190.5", '"7"'):
        response = raw(api, "PUT", "/api/v1/market-data/AAPL", '{"price": ' + price + "}")
        assert response.status_code == 200, response.text
    api.set_quote("AAPL", "190.00")
    response = raw(
        api,
        "POST",
        f"/api/v1/groups/{group}/transactions",
        '{"action": "buy", "symbols": ["aapl"], "quantity": "0.5"}',
    )
    assert response.status_code == 202, response.text
    assert api.wait_job(response.json()["job_id"])["state"] == "succeeded"


# --- orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({**ORDER, "limit_price": "10"}, "limit_price"),
        ({**ORDER, "order_type": "market", "limit_price": 10}, "limit_price"),
        ({**ORDER, "order_type": "limit"}, "limit_price"),
        ({**ORDER, "order_type": "limit", "limit_price": None}, "limit_price"),
        ({**ORDER, "order_type": "stop"}, "order_type"),
        ({**ORDER, "symbols": []}, "symbols"),
        ({**ORDER, "symbols": ["ÄAPL"]}, "symbols"),
        ({**ORDER, "symbols": ["AA\x00PL"]}, "symbols"),
        ({**ORDER, "symbols": [f"S{i}" for i in range(21)]}, "symbols"),
        ({**ORDER, "symbols": "AAPL"}, "symbols"),
        ({**ORDER, "accounts": ["Ålice"]}, "accounts"),
        ({**ORDER, "action": "BUY"}, "action"),
        ({**ORDER, "dry_run": "maybe"}, "dry_run"),
        ({**ORDER, "extra": 1}, "extra"),
    ],
)
def test_bad_order_is_422(api, group, order, field):
    before = snapshot(api, group)
    body = refused(api.post(f"/api/v1/groups/{group}/transactions", json=order), 422)
    assert field in body["errors"]["json"], body
    assert snapshot(api, group) == before


@pytest.mark.parametrize(
    "key",
    ["k" * 129, "ключ", "key with space", "key\x01", "", "k/../../etc", "k*", "k\u00e9"],
)
def test_bad_idempotency_key_is_422(api, group, key):
    before = snapshot(api, group)
    header = key.encode("utf-8")  # sent as raw bytes: requests would refuse non-latin-1 text
    response = api.post(
        f"/api/v1/groups/{group}/transactions", json=ORDER, headers={"Idempotency-Key": header}
    )
    assert "Idempotency-Key" in refused(response, 422)["errors"]["headers"]
    assert snapshot(api, group) == before


def test_idempotency_key_at_the_limit_works_once(api, group):
    key = "k" * 128
    first = api.post(
        f"/api/v1/groups/{group}/transactions", json=ORDER, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 202, first.text
    before = snapshot(api, group)
    again = api.post(
        f"/api/v1/groups/{group}/transactions", json=ORDER, headers={"Idempotency-Key": key}
    )
    assert again.json()["job_id"] == first.json()["job_id"]
    assert snapshot(api, group)["jobs"] == before["jobs"]
    api.wait_job(first.json()["job_id"])


def test_huge_page_number_is_an_empty_page(api, group):
    """Regression: a page past 2**63 / page_size overflowed Redis's ZREVRANGE: a 500."""
    for page in (10**20, 2**63 - 1, 2**62):
        response = api.get(f"/api/v1/groups/{group}/jobs", params={"page": page, "page_size": 100})
        assert response.status_code == 200, response.text
        assert response.json() == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/market-data/ÄAPL",
        "/api/v1/market-data/AA%00PL",
        "/api/v1/market-data/" + "A" * 3000,
    ],
)
def test_bad_symbol_in_path_is_422(api, path):
    assert "symbol" in refused(api.get(path), 422)["errors"]["json"]
    assert "symbol" in refused(api.put(path, json={"price": "1"}), 422)["errors"]["json"]


# --- a group with queued jobs ---------------------------------------------------------------


def test_group_with_queued_jobs_cannot_be_deleted(api, redis_client):
    """No worker serves ``x-*`` groups: the job stays queued and the group stays."""
    name = api.create_group(prefix="x")
    response = api.post(f"/api/v1/groups/{name}/transactions", json=ORDER)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    before = api.get(f"/api/v1/groups/{name}").json()
    for _ in range(2):
        body = refused(api.delete(f"/api/v1/groups/{name}"), 409)
        assert "unfinished" in body["message"]
    assert api.get(f"/api/v1/groups/{name}").json() == before
    job = api.get(f"/api/v1/jobs/{job_id}")
    assert job.status_code == 200 and job.json()["state"] == "queued", job.text
    assert [j["id"] for j in api.get(f"/api/v1/groups/{name}/jobs").json()] == [job_id]
    assert redis_client.lrange(keys.group_pending(name), 0, -1) == [job_id]


# --- what the OpenAPI document promises about these refusals ---------------------------------


def test_refusals_are_documented(live_server):
    """Regression: 400, 413, 401, 404 and 503 answers were missing from /openapi.json."""
    spec = requests.get(f"{live_server.url}/openapi.json", timeout=10).json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(responses), (method, path)
            if "{group}" in path:
                assert "404" in responses, (method, path)
            for code, response in responses.items():
                if path == "/health":  # its 503 is the health report, saying what is down
                    continue
                if code.isdigit() and int(code) >= 400 and "$ref" not in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_decimal_fields_are_documented_as_sent(api, live_server):
    """Regression: bounds were strings ("maximum": "1000000", an invalid document) and
    exclusive bounds looked inclusive; a quote's price was a "number" but sent as a string."""
    spec = requests.get(f"{live_server.url}/openapi.json", timeout=10).json()
    schemas = spec["components"]["schemas"]
    quantity = schemas["TransactionCreate"]["properties"]["quantity"]["anyOf"]
    assert quantity[0] == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 1_000_000,
    }
    assert quantity[1]["type"] == "string"
    price = schemas["QuoteUpdate"]["properties"]["price"]["anyOf"][0]
    assert price["maximum"] == 100_000_000 and price["exclusiveMaximum"] is True
    api.set_quote("AAPL", "190.00")
    sent = api.get("/api/v1/market-data/AAPL").json()["price"]
    assert sent == "190.00"
    assert {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"} in schemas["Quote"]["properties"][
        "price"
    ]["anyOf"]
