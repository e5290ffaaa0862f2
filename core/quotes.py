"""Last quotes per symbol, kept in Redis, and how symbols and prices enter.

The paper brokerage fills at these prices; market-data ingest and the API write
them. Prices are decimal strings so nothing is rounded, with at most
``core.money.PRICE_PLACES`` decimal places.

A symbol is checked as sent (only ASCII whitespace around it is stripped) and
upper-cased only once it is known to be ASCII: Python upper-cases some
non-ASCII letters into ASCII ones (``"\u017fpy".upper() == "SPY"``, a long s), which must not
turn into a ticker.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import redis

from core import keys, money
from core.errors import InvalidRequest, NotFound
from core.models import from_iso, to_iso, utcnow

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,14}$")  # a symbol once normalised
SYMBOL_INPUT_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{0,14}")  # as sent, whitespace stripped
SYMBOL_WHITESPACE = string.whitespace  # ASCII only: no-break or ideographic spaces are refused
SYMBOL_RULE = "1-15 characters: a letter, then letters, digits, '.' or '-' (ASCII only)"
MAX_PRICE = Decimal("100000000")


# A quote set by hand (``PUT /api/v1/market-data/<symbol>``) has this source.
MANUAL_SOURCE = "manual"


@dataclass(frozen=True)
class Quote:
    """A symbol's last price, when it was true (``as_of``, UTC) and where it came from."""

    symbol: str
    price: Decimal
    as_of: datetime
    source: str = MANUAL_SOURCE

    def age(self, now: datetime | None = None) -> float:
        """Seconds since ``as_of``."""
        return ((now or utcnow()) - self.as_of).total_seconds()

    def to_message(self) -> str:
        """The JSON published on ``keys.quote_events()``."""
        return json.dumps(
            {
                "symbol": self.symbol,
                "price": money.format_price(self.price),
                "as_of": to_iso(self.as_of),
                "source": self.source,
            }
        )


def clean_symbol(symbol: object) -> str | None:
    """``symbol`` checked as sent, then upper-cased; ``None`` when it is not a ticker."""
    if not isinstance(symbol, str):
        return None
    text = symbol.strip(SYMBOL_WHITESPACE)
    if not SYMBOL_INPUT_PATTERN.fullmatch(text):
        return None
    return text.upper()  # ASCII only by now, so upper() maps a-z to A-Z and nothing else


def normalise_symbol(symbol: object) -> str:
    """Check ``symbol`` as sent and upper-case it (see :func:`clean_symbol`).

    Raises:
        InvalidRequest: it is not a ticker (errors on field ``symbol``).
    """
    text = clean_symbol(symbol)
    if text is None:
        raise InvalidRequest("invalid symbol", errors={"symbol": [f"must be {SYMBOL_RULE}"]})
    return text


def parse_price(value: object, field: str = "price") -> Decimal:
    """A positive, finite price below ``MAX_PRICE`` with at most 4 decimal places.

    Raises:
        InvalidRequest: naming ``field``.
    """
    try:
        price = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price <= 0 or price >= MAX_PRICE:
        raise InvalidRequest(
            f"invalid {field}", errors={field: [f"must be a positive number below {MAX_PRICE}"]}
        )
    return money.check_places(price, money.PRICE_PLACES, field)


class QuoteBook:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def set(
        self,
        symbol: str,
        price: Decimal,
        as_of: datetime | None = None,
        source: str = MANUAL_SOURCE,
    ) -> Quote:
        """Record the last quote and publish it on ``keys.quote_events()``.

        Raises:
            InvalidRequest: the symbol is not a ticker, or the price has more than
                4 decimal places (errors on ``symbol`` / ``price``).
        """
        money.check_places(price, money.PRICE_PLACES, "price")
        quote = Quote(
            symbol=normalise_symbol(symbol), price=price, as_of=as_of or utcnow(), source=source
        )
        self.set_many([quote])
        return quote

    def set_many(self, quotes: list[Quote]) -> None:
        """Record and publish already-checked quotes in one round trip."""
        with self.connection.pipeline() as pipe:
            for quote in quotes:
                pipe.hset(
                    keys.quote(quote.symbol),
                    mapping={
                        "price": money.format_price(quote.price),
                        "as_of": to_iso(quote.as_of),
                        "source": quote.source,
                    },
                )
                pipe.sadd(keys.quotes(), quote.symbol)
                pipe.publish(keys.quote_events(), quote.to_message())
            pipe.execute()

    def all(self) -> list[Quote]:
        """Every symbol's last quote, sorted by symbol."""
        symbols = sorted(self.connection.smembers(keys.quotes()))
        with self.connection.pipeline() as pipe:
            for symbol in symbols:
                pipe.hgetall(keys.quote(symbol))
            found = pipe.execute()
        return [_from_hash(s, data) for s, data in zip(symbols, found, strict=True) if data]

    def get(self, symbol: str) -> Quote:
        """Raises: NotFound: no quote for the symbol yet."""
        symbol = normalise_symbol(symbol)
        data = self.connection.hgetall(keys.quote(symbol))
        if not data:
            raise NotFound(f"no quote for {symbol}")
        return _from_hash(symbol, data)

    def find(self, symbol: str) -> Quote | None:
        try:
            return self.get(symbol)
        except NotFound:
            return None


def _from_hash(symbol: str, data: dict) -> Quote:
    return Quote(
        symbol=symbol,
        price=Decimal(data["price"]),
        as_of=from_iso(data["as_of"]),
        source=data.get("source") or MANUAL_SOURCE,
    )
