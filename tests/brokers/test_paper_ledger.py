"""The paper ledger against a real Redis: atomic fills, refusals, no double fill."""

import threading
import uuid
from decimal import Decimal

import pytest

from brokers.paper import OrderRefused, PaperLedger
from core.models import OrderAction

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(redis_client):
    return PaperLedger(redis_client)


@pytest.fixture
def account(ledger):
    group, name = f"u-{uuid.uuid4().hex[:8]}", "acct"
    ledger.open(group, name, Decimal("1000"))
    return group, name


def test_fill_moves_cash_and_positions(ledger, account):
    fill = ledger.fill(*account, job_id="j1", action=OrderAction.BUY, symbol="X",
                       quantity=Decimal("3"), price=Decimal("10.5"))  # fmt: skip
    assert fill.price == "10.50"
    assert ledger.cash(*account) == Decimal("968.5")
    assert ledger.positions(*account) == {"X": Decimal("3")}
    ledger.fill(*account, job_id="j2", action=OrderAction.SELL, symbol="X",
                quantity=Decimal("3"), price=Decimal("11"))  # fmt: skip
    assert ledger.cash(*account) == Decimal("1001.5")
    assert ledger.positions(*account) == {}
    assert [f.side for f in ledger.fills(*account)] == ["buy", "sell"]


def test_refusals_change_nothing(ledger, account):
    with pytest.raises(OrderRefused, match="insufficient cash"):
        ledger.fill(*account, job_id="j1", action=OrderAction.BUY, symbol="X",
                    quantity=Decimal("101"), price=Decimal("10"))  # fmt: skip
    with pytest.raises(OrderRefused, match="insufficient shares"):
        ledger.fill(*account, job_id="j2", action=OrderAction.SELL, symbol="X",
                    quantity=Decimal("1"), price=Decimal("10"))  # fmt: skip
    assert ledger.cash(*account) == Decimal("1000")
    assert ledger.fills(*account) == []


def test_same_job_and_symbol_never_fills_twice_even_concurrently(ledger, account):
    def buy():
        ledger.fill(*account, job_id="same", action=OrderAction.BUY, symbol="X",
                    quantity=Decimal("1"), price=Decimal("10"))  # fmt: skip

    threads = [threading.Thread(target=buy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ledger.fills(*account)) == 1
    assert ledger.cash(*account) == Decimal("990")


def test_open_keeps_an_existing_ledger(ledger, account):
    ledger.open(*account, Decimal("5"))
    assert ledger.cash(*account) == Decimal("1000")


def test_fill_many_applies_a_batch_in_order_in_one_step(redis_client):
    from brokers.paper_ledger import OrderLine
    from core.models import OrderAction

    ledger = PaperLedger(redis_client)
    group = f"batch-{uuid.uuid4().hex[:6]}"
    ledger.open(group, "a", Decimal("25"))
    ledger.open(group, "b", Decimal("5"))
    lines = [
        OrderLine("a", "AAPL", OrderAction.BUY, Decimal("1"), Decimal("10")),
        OrderLine("a", "MSFT", OrderAction.BUY, Decimal("1"), Decimal("10")),
        OrderLine("a", "TSLA", OrderAction.BUY, Decimal("1"), Decimal("10")),  # 5 left: refused
        OrderLine("b", "AAPL", OrderAction.SELL, Decimal("1"), Decimal("10")),  # holds none
        OrderLine("c", "AAPL", OrderAction.BUY, Decimal("1"), Decimal("10")),  # never opened
    ]
    outcomes = ledger.fill_many(group, "job-1", lines)
    assert [type(o).__name__ for o in outcomes] == [
        "Fill",
        "Fill",
        "OrderRefused",
        "OrderRefused",
        "OrderRefused",
    ]
    assert str(outcomes[2]) == "insufficient cash: 10.00 needed, 5.00 available"
    assert str(outcomes[3]) == "insufficient shares: selling 1 AAPL, holding 0"
    assert "not open" in str(outcomes[4])
    assert ledger.cash(group, "a") == Decimal("5.00")
    assert ledger.positions(group, "a") == {"AAPL": Decimal("1"), "MSFT": Decimal("1")}
    # The same (job, symbol) again is not applied twice: the recorded fill comes back.
    again = ledger.fill_many(group, "job-1", lines[:1])
    assert again[0] == outcomes[0]
    assert ledger.cash(group, "a") == Decimal("5.00")
    assert len(ledger.fills(group, "a")) == 2


def test_fill_many_check_only_changes_nothing(redis_client):
    from brokers.paper_ledger import OrderLine
    from core.models import OrderAction

    ledger = PaperLedger(redis_client)
    group = f"batch-{uuid.uuid4().hex[:6]}"
    ledger.open(group, "a", Decimal("100"))
    line = OrderLine("a", "AAPL", OrderAction.BUY, Decimal("0.000001"), Decimal("1234.5678"))
    outcome = ledger.fill_many(group, "job-2", [line], check_only=True)[0]
    assert outcome.quantity == "0.000001" and outcome.price == "1234.5678"
    assert ledger.cash(group, "a") == Decimal("100.00")
    assert ledger.fills(group, "a") == [] and ledger.positions(group, "a") == {}
