"""Paper market orders refuse a quote older than QUOTE_MAX_AGE (900 s by default)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.models import utcnow
from core.quotes import QuoteBook

pytestmark = pytest.mark.integration


def test_paper_market_order_refuses_a_stale_quote_and_fills_at_a_fresh_one(api, redis_client):
    group = api.create_group()
    api.add_paper_account(group, "p1")
    book = QuoteBook(redis_client)
    book.set("STLQ", Decimal("50.00"), as_of=utcnow() - timedelta(hours=1), source="synthetic")
    job = api.order(group, action="buy", symbols=["STLQ"], quantity=1, dry_run=False)
    (result,) = job["results"]
    assert result["status"] == "rejected"
    assert "stale quote for STLQ" in result["detail"]
    assert "from synthetic" in result["detail"] and "QUOTE_MAX_AGE (900s)" in result["detail"]

    book.set("STLQ", Decimal("51.25"), source="synthetic")
    job = api.order(group, action="buy", symbols=["STLQ"], quantity=1, dry_run=False)
    (result,) = job["results"]
    assert result["status"] == "filled" and Decimal(result["price"]) == Decimal("51.25")


def test_limit_orders_are_not_refused_for_age(api, redis_client):
    group = api.create_group()
    api.add_paper_account(group, "p1")
    QuoteBook(redis_client).set("STLL", Decimal("10"), as_of=utcnow() - timedelta(hours=1))
    job = api.order(
        group, action="buy", symbols=["STLL"], quantity=1, dry_run=False,
        order_type="limit", limit_price="11",
    )  # fmt: skip
    assert job["results"][0]["status"] == "filled"
