"""Paper orders, market and limit, refuse a quote older than QUOTE_MAX_AGE (900 s by default)."""

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


def test_a_limit_order_refuses_a_stale_quote_too(api, redis_client):
    """Filled at a quote an hour old, a limit buy at 11 would say it paid 10 while the
    market may be at 12 now: whether the limit is crossed is not known."""
    group = api.create_group()
    api.add_paper_account(group, "p1")
    book = QuoteBook(redis_client)
    book.set("STLL", Decimal("10"), as_of=utcnow() - timedelta(hours=1))
    limit_buy = {"order_type": "limit", "limit_price": "11", "dry_run": False}
    job = api.order(group, action="buy", symbols=["STLL"], quantity=1, **limit_buy)
    (result,) = job["results"]
    assert result["status"] == "rejected" and "stale quote for STLL" in result["detail"]
    book.set("STLL", Decimal("10"))
    job = api.order(group, action="buy", symbols=["STLL"], quantity=1, **limit_buy)
    assert job["results"][0]["status"] == "filled"
