"""Line protocol as the store writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ingest.providers.base import Bar
from ingest.store.lines import bar_line, point


def test_bar_line_is_plain_decimal_with_integer_volume():
    start = datetime(2026, 11, 30, tzinfo=UTC)
    bar = Bar("BRK.B", "1d", start, Decimal("1E+2"), Decimal("100.50"), Decimal("99"),
              Decimal("0.0000001"), 12, "csv")  # fmt: skip
    assert bar_line(bar) == (
        "bars,interval=1d,source=csv,symbol=BRK.B open=100,high=100.50,low=99,"
        f"close=0.0000001,volume=12i {int(start.timestamp())}"
    )


def test_point_escapes_tags_and_quotes_strings():
    line = point("m x", {"b": "two words", "a": "x,y=z", "empty": ""}, {"s": 'say "hi"', "n": 2}, 5)
    assert line == r'm\ x,a=x\,y\=z,b=two\ words s="say \"hi\"",n=2i 5'
