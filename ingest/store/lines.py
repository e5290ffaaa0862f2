"""InfluxDB line protocol: ``measurement,tag=v field=v timestamp``.

Escaping follows the line-protocol reference: in measurements commas and
spaces, in tag keys, tag values and field keys also ``=``; string field values
are double-quoted with ``"`` and ``\\`` escaped. Integers end in ``i``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from ingest.providers.base import Bar

BARS = "bars"
QUOTES = "quotes"

_TAG_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})


def escape_tag(text: str) -> str:
    """A tag key, tag value or field key, escaped."""
    return text.translate(_TAG_ESCAPES)


def escape_measurement(text: str) -> str:
    return text.translate(_MEASUREMENT_ESCAPES)


def field_value(value: object) -> str:
    """A field value: ``Decimal``/``float`` as a float, ``int`` with ``i``, ``str`` quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def point(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, object],
    timestamp: int | None = None,
) -> str:
    """One line; tags sorted by key (InfluxDB's preferred order), empty tag values dropped."""
    head = escape_measurement(measurement)
    for key in sorted(tags):
        if tags[key] != "":
            head += f",{escape_tag(key)}={escape_tag(str(tags[key]))}"
    body = ",".join(f"{escape_tag(k)}={field_value(v)}" for k, v in fields.items())
    return f"{head} {body}" if timestamp is None else f"{head} {body} {timestamp}"


_BAR_HEADS: dict[tuple[str, str, str], str] = {}  # (interval, source, symbol) -> escaped


def _number(value: Decimal) -> str:
    text = str(value)
    return text if "E" not in text else format(value, "f")


def bar_line(bar: Bar) -> str:
    """A bar at second precision; the same bar always gives the same line (one point)."""
    key = (bar.interval, bar.source, bar.symbol)
    head = _BAR_HEADS.get(key)
    if head is None:
        if len(_BAR_HEADS) > 50_000:
            _BAR_HEADS.clear()
        head = _BAR_HEADS[key] = (
            f"{BARS},interval={escape_tag(bar.interval)},source={escape_tag(bar.source)},"
            f"symbol={escape_tag(bar.symbol)}"
        )
    return (
        f"{head} open={_number(bar.open)},high={_number(bar.high)},low={_number(bar.low)},"
        f"close={_number(bar.close)},volume={int(bar.volume)}i {int(bar.start.timestamp())}"
    )


def bar_lines(bars: Iterable[Bar]) -> list[str]:
    return [bar_line(bar) for bar in bars]
