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
    assert fill.price == "10.5"
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
