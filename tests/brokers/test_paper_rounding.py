"""The paper ledger's cash and position arithmetic (core.money rules) against a real Redis."""

import uuid
from decimal import Decimal

import pytest

from brokers.paper import OrderRefused, PaperLedger
from core.models import OrderAction

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(redis_client):
    return PaperLedger(redis_client)


def _open(ledger, cash: str) -> tuple[str, str]:
    group, name = f"u-{uuid.uuid4().hex[:8]}", "acct"
    ledger.open(group, name, Decimal(cash))
    return group, name


def _fill(ledger, account, job_id, action, quantity, price):
    return ledger.fill(
        *account,
        job_id=job_id,
        action=action,
        symbol="X",
        quantity=Decimal(quantity),
        price=Decimal(price),
    )


def test_smallest_buy_costs_a_cent_and_smallest_sell_credits_nothing(ledger):
    account = _open(ledger, "1")
    fill = _fill(ledger, account, "j1", OrderAction.BUY, "0.000001", "0.0001")
    assert (fill.quantity, fill.price) == ("0.000001", "0.0001")
    assert ledger.cash(*account) == Decimal("0.99")  # 0.0000000001 rounded up to the cent
    assert ledger.positions(*account) == {"X": Decimal("0.000001")}

    _fill(ledger, account, "j2", OrderAction.SELL, "0.000001", "0.0001")
    assert ledger.cash(*account) == Decimal("0.99")  # proceeds round down: nothing credited
    assert ledger.positions(*account) == {}


def test_cost_rounds_up_and_proceeds_round_down(ledger):
    account = _open(ledger, "100")
    _fill(ledger, account, "j1", OrderAction.BUY, "3", "3.3333")  # 9.9999
    assert ledger.cash(*account) == Decimal("90.00")
    _fill(ledger, account, "j2", OrderAction.SELL, "3", "3.3333")
    assert ledger.cash(*account) == Decimal("99.99")  # a round trip never makes money


def test_cash_check_uses_the_rounded_up_cost(ledger):
    account = _open(ledger, "9.99")
    with pytest.raises(OrderRefused, match=r"10\.00 needed, 9\.99 available"):
        _fill(ledger, account, "j1", OrderAction.BUY, "1", "9.9901")
    assert ledger.cash(*account) == Decimal("9.99")


def test_positions_stay_exact_to_six_places(ledger):
    account = _open(ledger, "1000")
    for i in range(10):
        _fill(ledger, account, f"b{i}", OrderAction.BUY, "0.100001", "1")
    assert ledger.positions(*account) == {"X": Decimal("1.00001")}
    _fill(ledger, account, "s", OrderAction.SELL, "1.00001", "1")
    assert ledger.positions(*account) == {}


def test_stored_numbers_never_use_exponent_notation(ledger, redis_client):
    from core import keys

    account = _open(ledger, "1000")
    _fill(ledger, account, "j1", OrderAction.BUY, "0.0000010", "1E+1")
    assert redis_client.hget(keys.paper_positions(*account), "X") == "0.000001"
    assert redis_client.hget(keys.paper_account(*account), "cash") == "999.99"
    fill = ledger.fills(*account)[0]
    assert (fill.quantity, fill.price) == ("0.000001", "10.00")


def test_starting_cash_is_kept_to_the_cent_rounding_down(ledger):
    account = _open(ledger, "100.999")
    assert ledger.cash(*account) == Decimal("100.99")


@pytest.mark.parametrize(
    ("quantity", "price", "rule"),
    [
        ("1E-31", "10", "at most 6 decimal places"),
        ("1", "10.00001", "at most 4 decimal places"),
    ],
)
def test_ledger_refuses_quantities_and_prices_finer_than_the_rules(ledger, quantity, price, rule):
    account = _open(ledger, "1000")
    with pytest.raises(OrderRefused, match=rule):
        _fill(ledger, account, "j1", OrderAction.BUY, quantity, price)
    assert ledger.cash(*account) == Decimal("1000")
    assert ledger.fills(*account) == []
