"""Exchange calendars (the ``exchange_calendars`` package): when a market is open.

One place answers the calendar questions that risk rules (``trading_hours``) and scheduled
orders (``market_days_only``, ``at: "open+1m"``) ask, so both read the same sessions,
holidays and early closes. A calendar is loaded once per process, on first use (about a
second: it builds its sessions table).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta

US_EQUITIES = "XNYS"  # NYSE: the US equity session, holidays and half days

# ``open``, ``close``, ``open+1m``, ``close-15m``: a moment of the next session.
SESSION_EDGE = re.compile(r"^(open|close)(?:([+-])(\d{1,4})m)?$")
MAX_OFFSET_MINUTES = 24 * 60


@functools.cache
def calendar(name: str = US_EQUITIES):
    """The exchange calendar ``name`` (``XNYS``, ``XTKS``...).

    Raises:
        ValueError: no calendar of that name.
    """
    import exchange_calendars

    try:
        return exchange_calendars.get_calendar(name)
    except exchange_calendars.errors.InvalidCalendarName:
        raise ValueError(f"unknown exchange calendar {name!r}") from None


def is_open(name: str, moment: datetime) -> bool:
    """Whether the market of calendar ``name`` is open at ``moment`` (aware)."""
    import pandas as pd

    return bool(calendar(name).is_open_on_minute(pd.Timestamp(moment).floor("min")))


def is_session(day: date, name: str = US_EQUITIES) -> bool:
    """Whether the exchange trades on ``day`` (not a weekend, not a holiday)."""
    import pandas as pd

    return bool(calendar(name).is_session(pd.Timestamp(day)))


def is_session_at(moment: datetime, name: str = US_EQUITIES) -> bool:
    """Whether ``moment`` falls on a trading day of the exchange, the day read in the
    exchange's own zone (01:00 UTC on a Tuesday is Monday evening in New York)."""
    return is_session(moment.astimezone(calendar(name).tz).date(), name)


def parse_session_edge(text: str) -> tuple[str, timedelta] | None:
    """``"open+1m"`` as ``("open", 1 minute)``; None when ``text`` is not of that form.

    Raises:
        ValueError: the offset is larger than a day.
    """
    match = SESSION_EDGE.match(text.strip())
    if match is None:
        return None
    edge, sign, minutes = match.group(1), match.group(2), int(match.group(3) or 0)
    if minutes > MAX_OFFSET_MINUTES:
        raise ValueError(f"the offset must be at most {MAX_OFFSET_MINUTES}m")
    return edge, timedelta(minutes=-minutes if sign == "-" else minutes)


def next_session_edge(
    edge: str, offset: timedelta, after: datetime, name: str = US_EQUITIES
) -> datetime:
    """The first session's open or close (``edge``) plus ``offset`` that falls after
    ``after``: today's if it is still ahead, else the next trading day's. Early closes
    count (``close`` on a half day is 13:00 New York)."""
    import pandas as pd

    exchange = calendar(name)
    session = exchange.date_to_session(pd.Timestamp(after.date()), direction="next")
    while True:
        base = exchange.session_open(session) if edge == "open" else exchange.session_close(session)
        moment = base.to_pydatetime() + offset
        if moment > after:
            return moment
        session = exchange.next_session(session)
