"""The synthetic and csv providers, and the registry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.settings import Settings
from ingest.providers import ProviderError, get_provider
from ingest.providers.base import Provider, align
from ingest.providers.csv import CsvProvider
from ingest.providers.synthetic import SyntheticProvider

END = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _settings(**changes) -> Settings:
    import dataclasses

    return dataclasses.replace(Settings.from_env(), **changes)


def test_registry_builds_providers_by_name(tmp_path):
    synthetic = get_provider("synthetic", _settings(market_seed=7))
    assert isinstance(synthetic, Provider) and synthetic.name == "synthetic"
    assert synthetic.seed == 7
    csv = get_provider("csv", _settings(market_csv_dir=tmp_path))
    assert isinstance(csv, Provider) and csv.directory == tmp_path
    with pytest.raises(ProviderError, match="unknown provider 'nope'"):
        get_provider("nope", _settings())


def test_synthetic_bars_are_seeded_aligned_and_consistent():
    provider = SyntheticProvider(seed=5)
    bars = provider.bars("SPY", "5m", END - timedelta(hours=1, minutes=2), END)
    assert len(bars) == 12 and bars[0].start == END - timedelta(hours=1)
    assert bars == SyntheticProvider(seed=5).bars("SPY", "5m", bars[0].start, END)
    assert bars != SyntheticProvider(seed=6).bars("SPY", "5m", bars[0].start, END)
    for bar in bars:
        assert bar.source == "synthetic" and bar.interval == "5m"
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0 and bar.close.as_tuple().exponent == -2
    assert all(a.close == b.open for a, b in itertools.pairwise(bars))  # a walk


def test_synthetic_quote_moves_and_is_tagged():
    quote = SyntheticProvider().quote("AAPL")
    assert quote.source == "synthetic" and quote.price > 0
    assert quote.age() < 5


def test_align_to_the_interval():
    moment = datetime(2026, 11, 30, 12, 7, 31, tzinfo=UTC)
    assert align(moment, "5m") == datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    assert align(moment, "1d") == datetime(2026, 11, 30, tzinfo=UTC)


def test_csv_reads_common_spellings_and_rolls_up(tmp_path):
    (tmp_path / "SPY.csv").write_text(
        "Date,Time,Open,High,Low,Close,Adj Close,Volume\n"
        "2026-11-30,12:00:00,10,11,9.5,10.5,10.4,100\n"
        "2026-11-30,12:01:00,10.5,12,10,11.5,11.4,200\n"
        "2026-11-30,12:05:00,11.5,11.6,11,11.2,11.1,50\n"
    )
    provider = CsvProvider(tmp_path)
    one = provider.bars("SPY", "1m", END, END + timedelta(hours=1))
    assert [b.close for b in one] == [Decimal("10.5"), Decimal("11.5"), Decimal("11.2")]
    five = provider.bars("SPY", "5m", END, END + timedelta(hours=1))
    assert len(five) == 2
    assert (five[0].open, five[0].high, five[0].low, five[0].close, five[0].volume) == (
        Decimal("10"), Decimal("12"), Decimal("9.5"), Decimal("11.5"), 300,
    )  # fmt: skip
    assert five[0].source == "csv"
    quote = provider.quote("SPY")
    assert quote.price == Decimal("11.2") and quote.source == "csv"


def test_csv_other_spellings_epoch_and_per_interval_file(tmp_path):
    (tmp_path / "aapl.1d.csv").write_text(
        "timestamp,o,h,l,c,vol\n1795996800000,1,2,0.5,1.5,10\n1796083200,1.5,2,1,1.8,20\n"
    )
    bars = CsvProvider(tmp_path).bars(
        "AAPL", "1d", END - timedelta(days=2), END + timedelta(days=2)
    )
    assert [b.start for b in bars] == [
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    ]


def test_csv_bad_row_names_file_and_line(tmp_path):
    path = tmp_path / "MSFT.csv"
    path.write_text("datetime,open,high,low,close,volume\n2026-11-30T12:00:00Z,1,2,0.5,1.5,10\n"
                    "2026-11-30T12:01:00Z,1,two,0.5,1.5,10\n")  # fmt: skip
    with pytest.raises(ProviderError, match=rf"{path}:3: bad row"):
        CsvProvider(tmp_path).bars("MSFT", "1m", END - timedelta(days=1), END + timedelta(days=1))
    path.write_text("when,open,high,low,close\n")
    with pytest.raises(ProviderError, match=rf"{path}:1: no time column"):
        CsvProvider(tmp_path).bars("MSFT", "1m", END, END)
    with pytest.raises(ProviderError, match="no CSV file for NOPE"):
        CsvProvider(tmp_path).quote("NOPE")
