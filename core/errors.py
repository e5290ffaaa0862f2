"""Errors raised by tradefleet's domain code.

Each class says what the caller should do about it. The API maps them to HTTP
statuses in one place (``api/errors.py``); workers record the ones that
describe an order's outcome and let the rest raise so Celery records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TradefleetError(Exception):
    """Base class. ``message`` is safe to show a user: it never holds a secret."""

    def __init__(self, message: str, *, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, Any] = dict(errors or {})


class NotFound(TradefleetError):
    """The named group, account, job or key does not exist: check the name."""


class AlreadyExists(TradefleetError):
    """Something with that name exists already: pick another name or delete it first."""


class Conflict(TradefleetError):
    """The request is valid but clashes with the current state (e.g. jobs still pending)."""


class InvalidRequest(TradefleetError):
    """The input is malformed; ``errors`` maps each field to what is wrong with it."""


class RiskRuleViolation(InvalidRequest):
    """The order is well-formed but a group's risk rule forbids it."""


class StoreUnavailable(TradefleetError):
    """Redis cannot be reached. Usually temporary: retry once it is back."""


class ServiceUnavailable(TradefleetError):
    """An optional service (InfluxDB, a market-data provider) is off or unreachable: the
    message says which and how to turn it on; retry once it is back."""


class VaultError(TradefleetError):
    """Credentials cannot be decrypted (wrong ``TRADEFLEET_SECRET_KEY``?): needs an operator."""


class ConfigurationError(TradefleetError):
    """A setting is missing or malformed: the process cannot start until it is fixed."""
