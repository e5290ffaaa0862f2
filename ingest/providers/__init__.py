"""Market-data providers behind one interface (``ingest.providers.base``)."""

from ingest.providers.base import (
    INTERVALS,
    Bar,
    Provider,
    ProviderError,
    ProviderUnavailable,
    get_provider,
)

__all__ = ["INTERVALS", "Bar", "Provider", "ProviderError", "ProviderUnavailable", "get_provider"]
