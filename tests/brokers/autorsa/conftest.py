"""Fixtures for the AutoRSA adapter tests: settings whose AutoRSA is the stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.settings import Settings
from tests.brokers.autorsa.support import FAKE_BIN


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings whose AutoRSA is the stand-in and whose data dir is ``tmp_path``."""

    def make(**env: str) -> Settings:
        values = {
            "REDIS_URL": "redis://localhost:1/0",
            "TRADEFLEET_SECRET_KEY": Fernet.generate_key().decode(),
            "TRADEFLEET_DATA_DIR": str(tmp_path / "data"),
            "AUTORSA_BIN": str(FAKE_BIN),
            "AUTORSA_TIMEOUT": "10",
            "AUTORSA_TIMEOUTS": "",
        }
        values.update(env)
        return Settings.from_env(values)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()
