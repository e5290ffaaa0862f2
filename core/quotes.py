"""Last quotes per symbol, kept in Redis.

The paper brokerage fills at these prices; market-data ingest and the API write
them. Prices are decimal strings so nothing is rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import redis

from core import keys
from core.errors import InvalidRequest, NotFound
from core.models import from_iso, to_iso, utcnow

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,14}$")
SYMBOL_RULE = "1-15 characters: an uppercase letter, then uppercase letters, digits, '.' or '-'"
MAX_PRICE = Decimal("100000000")


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: Decimal
    as_of: datetime


def normalise_symbol(symbol: object) -> str:
    """Upper-case ``symbol`` and check it.

    Raises:
        InvalidRequest: it is not a ticker (errors on field ``symbol``).
    """
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    if not SYMBOL_PATTERN.fullmatch(text):
        raise InvalidRequest("invalid symbol", errors={"symbol": [f"must be {SYMBOL_RULE}"]})
    return text


def parse_price(value: object, field: str = "price") -> Decimal:
    """A positive, finite price below ``MAX_PRICE``.

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
    return price


class QuoteBook:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def set(self, symbol: str, price: Decimal, as_of: datetime | None = None) -> Quote:
        quote = Quote(symbol=normalise_symbol(symbol), price=price, as_of=as_of or utcnow())
        with self.connection.pipeline() as pipe:
            pipe.hset(
                keys.quote(quote.symbol),
                mapping={"price": str(quote.price), "as_of": to_iso(quote.as_of)},
            )
            pipe.sadd(keys.quotes(), quote.symbol)
            pipe.execute()
        return quote

    def get(self, symbol: str) -> Quote:
        """Raises: NotFound: no quote for the symbol yet."""
        symbol = normalise_symbol(symbol)
        data = self.connection.hgetall(keys.quote(symbol))
        if not data:
            raise NotFound(f"no quote for {symbol}")
        return Quote(symbol=symbol, price=Decimal(data["price"]), as_of=from_iso(data["as_of"]))

    def find(self, symbol: str) -> Quote | None:
        try:
            return self.get(symbol)
        except NotFound:
            return None
