"""Numbers and symbols through the real app: nothing rounds silently, nothing is re-read.

JSON numbers are read as decimals (never through float), quantities and prices
have at most 6 and 4 decimal places, and no output uses exponent notation.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def group(api) -> str:
    name = api.create_group()
    api.add_paper_account(name, "alice", cash="10000")
    api.set_quote("AAPL", "190.00")
    return name


def _raw_post(api, path: str, body: str):
    return api.post(path, data=body, headers={"Content-Type": "application/json"})


def _ledger(api, group: str) -> list:
    return [
        {k: v for k, v in account.items() if k != "as_of"}
        for account in api.get(f"/api/v1/groups/{group}/positions").json()
    ]


def _order_body(quantity: str, **extra) -> str:
    fields = {"action": "buy", "symbols": ["AAPL"], "dry_run": False, **extra}
    return json.dumps(fields)[:-1] + ', "quantity": ' + quantity + "}"


def test_quantity_just_over_the_limit_is_422_not_read_as_a_float(api, group):
    before = _ledger(api, group)
    path = f"/api/v1/groups/{group}/transactions"
    response = _raw_post(api, path, _order_body("1000000.0000000000000000001"))
    assert response.status_code == 422, response.text
    assert "quantity" in response.json()["errors"]["json"]
    assert _ledger(api, group) == before


@pytest.mark.parametrize(
    "quantity", ["1E-31", "0.0000001", '"0.0000000000000000000000000000001"', '"1.0000001"']
)
def test_quantity_with_more_than_six_places_is_422_naming_the_rule(api, group, quantity):
    before = _ledger(api, group)
    response = _raw_post(api, f"/api/v1/groups/{group}/transactions", _order_body(quantity))
    assert response.status_code == 422, response.text
    assert "at most 6 decimal places" in " ".join(response.json()["errors"]["json"]["quantity"])
    assert _ledger(api, group) == before


def test_limit_price_with_more_than_four_places_is_422(api, group):
    body = _order_body("1", order_type="limit", limit_price="190.00001")
    response = _raw_post(api, f"/api/v1/groups/{group}/transactions", body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]["json"]
    assert errors["limit_price"] == ["must have at most 4 decimal places"]


@pytest.mark.parametrize("price", ["190.00001", '"190.00001"', "1E-5"])
def test_quote_price_with_more_than_four_places_is_422(api, price):
    api.set_quote("PLACES", "5")
    response = api.put(
        "/api/v1/market-data/PLACES",
        data='{"price": ' + price + "}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"]["json"]["price"] == ["must have at most 4 decimal places"]
    assert api.get("/api/v1/market-data/PLACES").json()["price"] == "5.00"


def test_trailing_zeros_do_not_count_as_places(api, group):
    body = _order_body('"0.50000000"', dry_run=True)
    response = _raw_post(api, f"/api/v1/groups/{group}/transactions", body)
    assert response.status_code == 202, response.text
    job = api.wait_job(response.json()["job_id"])
    assert job["results"][0]["quantity"] == "0.5"


def test_no_output_uses_exponent_notation(api):
    group = api.create_group()
    api.add_paper_account(group, "bob", cash="1000")
    put = api.put(
        "/api/v1/market-data/EXPO",
        data='{"price": 1E+1}',
        headers={"Content-Type": "application/json"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["price"] == "10.00"
    path = f"/api/v1/groups/{group}/transactions"
    buy = _raw_post(api, path, '{"action": "buy", "symbols": ["EXPO"], "dry_run": false, '
                               '"quantity": 1E+1}')  # fmt: skip
    assert buy.status_code == 202, buy.text
    tiny = _raw_post(api, path, '{"action": "buy", "symbols": ["EXPO"], "dry_run": true, '
                                '"quantity": 0.000001}')  # fmt: skip
    assert tiny.status_code == 202, tiny.text

    job = api.wait_job(buy.json()["job_id"])
    result = job["results"][0]
    assert result["status"] == "filled", result
    assert (result["quantity"], result["price"]) == ("10", "10.00")
    assert result["detail"] == "buy 10 EXPO filled at 10.00"
    assert job["order"]["quantity"] == "10"
    dry = api.wait_job(tiny.json()["job_id"])
    assert dry["results"][0]["quantity"] == "0.000001"
    assert dry["results"][0]["detail"] == "dry run: would buy 0.000001 EXPO at 10.00"

    (account,) = api.get(f"/api/v1/groups/{group}/positions").json()
    assert account["cash"] == "900.00"
    assert account["positions"] == [
        {"symbol": "EXPO", "quantity": "10", "price": "10.00", "value": "100.00"}
    ]
    texts = [json.dumps(job), json.dumps(dry), json.dumps(account), json.dumps(put.json())]
    assert not [t for t in texts if "E+" in t or "E-" in t or "e-" in t]


def test_compat_amount_with_more_than_six_places_is_422(api, group):
    response = api.post("/transaction", params={"group_name": group, "amount": "0.0000001"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"]["query"]["amount"] == ["must have at most 6 decimal places"]


def test_openapi_documents_the_places(live_server):
    import requests

    spec = requests.get(f"{live_server.url}/openapi.json", timeout=10).json()
    schemas = spec["components"]["schemas"]
    quantity = schemas["TransactionCreate"]["properties"]["quantity"]
    assert "at most 6 decimal places" in quantity["description"]
    price = schemas["QuoteUpdate"]["properties"]["price"]
    assert "at most 4 decimal places" in price["description"]
    assert "multipleOf" not in json.dumps(spec)  # float multiples would misfire in validators


# --- symbols ----------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["\u017fpy", "\ufb00", "\u0131bm", "\u00a0SPY"])
def test_non_ascii_symbol_is_422_not_upper_cased_into_a_ticker(api, group, symbol):
    before = _ledger(api, group)
    order = {"action": "buy", "symbols": [symbol], "quantity": 1, "dry_run": False}
    response = api.post(f"/api/v1/groups/{group}/transactions", json=order)
    assert response.status_code == 422, response.text
    assert "symbols" in response.json()["errors"]["json"]

    compat = api.post("/transaction", params={"group_name": group, "ticker": symbol})
    assert compat.status_code == 422, compat.text
    assert "ticker" in compat.json()["errors"]["query"]
    assert _ledger(api, group) == before


def test_non_ascii_symbol_in_market_data_path_is_422(api):
    api.set_quote("SPY", "500")
    put = api.put("/api/v1/market-data/\u017fpy", json={"price": "1"})
    assert put.status_code == 422, put.text
    assert "symbol" in put.json()["errors"]["json"]
    assert api.get("/api/v1/market-data/\u017fpy").status_code == 422
    assert api.get("/api/v1/market-data/SPY").json()["price"] == "500.00"


def test_ascii_symbols_are_still_upper_cased(api, group):
    order = {"action": "buy", "symbols": [" aapl\t"], "quantity": 1}
    response = api.post(f"/api/v1/groups/{group}/transactions", json=order)
    assert response.status_code == 202, response.text
    assert api.wait_job(response.json()["job_id"])["order"]["symbols"] == ["AAPL"]
    compat = api.post("/transaction", params={"group_name": group, "ticker": "aapl"})
    assert compat.status_code == 202, compat.text
