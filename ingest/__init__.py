"""Market data: providers (``ingest.providers``), the InfluxDB store (``ingest.store``),
pulls and backfills into it (``ingest.pulls``) and operations metrics (``ingest.metrics``).

The Redis quote cache is ``core.quotes.QuoteBook``: the paper brokerage fills from it.
"""
