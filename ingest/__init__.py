"""Market-data ingest (providers, the InfluxDB store): not built yet.

Quotes are set through ``PUT /api/v1/market-data/<symbol>`` (``core.quotes``) until
ingest exists; see the README's "What is not finished".
"""
