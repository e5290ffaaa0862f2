import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigurationError
from core.settings import Settings

KEY = Fernet.generate_key().decode()
BASE = {"REDIS_URL": "redis://localhost:6379/0", "TRADEFLEET_SECRET_KEY": KEY}


def test_settings_defaults_follow_redis_url():
    settings = Settings.from_env(BASE)
    assert settings.broker_url == settings.result_backend == "redis://localhost:6379/0"
    assert settings.secret_keys == (KEY,)
    assert settings.autorsa_timeout_for("chase") == 300.0


def test_settings_amqp_broker_and_per_brokerage_timeouts():
    settings = Settings.from_env(
        {
            **BASE,
            "CELERY_BROKER_URL": "amqp://guest:guest@localhost:5672//",
            "AUTORSA_TIMEOUTS": "chase=600, tradier=30",
            "TRADEFLEET_WORKER_GROUPS": "fam-*, club",
        }
    )
    assert settings.broker_url.startswith("amqp://")
    assert settings.autorsa_timeout_for("chase") == 600.0
    assert settings.autorsa_timeout_for("tradier") == 30.0
    assert settings.worker_groups == ("fam-*", "club")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRADEFLEET_SECRET_KEY": KEY}, "REDIS_URL is not set"),
        ({"REDIS_URL": "redis://x"}, "TRADEFLEET_SECRET_KEY is not set"),
        ({**BASE, "TRADEFLEET_SECRET_KEY": "short"}, "not a Fernet key"),
        ({**BASE, "AUTORSA_TIMEOUT": "soon"}, "AUTORSA_TIMEOUT must be a number"),
        ({**BASE, "BEAT_LOCK_SECONDS": "5"}, "BEAT_LOCK_SECONDS must be at least 10"),
        ({**BASE, "AUTORSA_TIMEOUTS": "chase"}, "AUTORSA_TIMEOUTS must look like"),
        ({**BASE, "TRADEFLEET_LOG_JSON": "perhaps"}, "TRADEFLEET_LOG_JSON must be true or false"),
        ({**BASE, "TRADEFLEET_VISIBILITY_TIMEOUT": "1"}, "at least 10"),
        (
            {**BASE, "TRADEFLEET_VISIBILITY_TIMEOUT": "600", "TRADEFLEET_LEG_TIME_LIMIT": "596"},
            r"TRADEFLEET_LEG_TIME_LIMIT \(596s\) must be at least 5s below "
            r"TRADEFLEET_VISIBILITY_TIMEOUT \(600s\)",
        ),
    ],
)
def test_settings_errors_name_the_variable(env, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_settings_leg_time_limit_defaults_to_half_the_visibility_timeout():
    assert Settings.from_env(BASE).leg_time_limit == 3600
    settings = Settings.from_env({**BASE, "TRADEFLEET_VISIBILITY_TIMEOUT": "60"})
    assert settings.leg_time_limit == 30
    fits = {**BASE, "TRADEFLEET_VISIBILITY_TIMEOUT": "600", "TRADEFLEET_LEG_TIME_LIMIT": "595"}
    assert Settings.from_env(fits).leg_time_limit == 595


def test_settings_unsafe_flag_lets_legs_outlive_the_visibility_timeout():
    env = {
        **BASE,
        "TRADEFLEET_VISIBILITY_TIMEOUT": "10",
        "TRADEFLEET_LEG_TIME_LIMIT": "120",
        "TRADEFLEET_UNSAFE_LEGS_PAST_VISIBILITY": "1",
    }
    settings = Settings.from_env(env)
    assert settings.leg_time_limit == 120 and settings.unsafe_legs_past_visibility


def test_get_settings_exits_with_one_line(monkeypatch):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "from core.settings import get_settings; get_settings()"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "tradefleet: REDIS_URL is not set (e.g. redis://localhost:6379/0)"
    )
