"""Orders and results show their numbers by core.money's rules: never in exponent notation."""

from decimal import Decimal

from core.models import LegResult, OrderAction, OrderRequest, OrderType, ResultStatus


def test_order_to_dict_never_uses_exponent_notation():
    order = OrderRequest(
        action=OrderAction.BUY,
        symbols=("AAPL",),
        quantity=Decimal("1E-6"),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1E+2"),
    )
    data = order.to_dict()
    assert data["quantity"] == "0.000001"
    assert data["limit_price"] == "100.00"
    assert OrderRequest.from_dict(data) == order


def test_order_result_shows_quantity_and_price_plainly():
    order = OrderRequest(action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("1.50E-7"))
    result = LegResult.for_order(
        "a1", "paper", order, "AAPL", ResultStatus.DRY_RUN, "x", price=Decimal("1E+1")
    )
    assert (result.quantity, result.price) == ("0.00000015", "10.00")
