"""Settings, read once from the environment.

This is the only module that touches ``os.environ``. Everything below the API
and the Celery app receives a :class:`Settings` (or values taken from it) as an
argument, so tests build their own with :meth:`Settings.from_env`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from core.errors import ConfigurationError

# Written by `make up` (scripts/up.py) while it runs: its Redis URL, secret key and so on.
# A process started without them (an operator's `celery -A tasks ...` or `flask --app api
# ...` in the checkout) reads the ones it lacks from here.
UP_ENV_PATH = Path("var/up.env")

# A leg's Celery hard time limit is its budget plus this; both stay below the visibility
# timeout, so a live leg is never delivered twice.
LEG_TIME_LIMIT_MARGIN = 5

TELEGRAM_API_URL = "https://api.telegram.org"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Every knob of tradefleet. Field docs name the environment variable."""

    redis_url: str  # REDIS_URL (required): registry, locks, quotes, ledgers
    secret_keys: tuple[str, ...]  # TRADEFLEET_SECRET_KEY (required): Fernet key(s), newest first
    broker_url: str  # CELERY_BROKER_URL, defaults to REDIS_URL; amqp:// works too
    result_backend: str  # CELERY_RESULT_BACKEND, defaults to REDIS_URL
    data_dir: Path = Path("var/data")  # TRADEFLEET_DATA_DIR: per-account AutoRSA state
    visibility_timeout: int = 7200  # TRADEFLEET_VISIBILITY_TIMEOUT (s), > longest leg
    # TRADEFLEET_LEG_TIME_LIMIT (s): a brokerage leg's whole budget; default half the
    # visibility timeout, and never within LEG_TIME_LIMIT_MARGIN of it
    leg_time_limit: float = 3600.0
    # TRADEFLEET_UNSAFE_LEGS_PAST_VISIBILITY: fault tests only; lets legs outlive the
    # visibility timeout, as a stalled worker would, to prove redelivery stays harmless
    unsafe_legs_past_visibility: bool = False
    worker_groups: tuple[str, ...] = ()  # TRADEFLEET_WORKER_GROUPS: shard; empty = all groups
    worker_brokerages: tuple[str, ...] = ()  # TRADEFLEET_WORKER_BROKERAGES: empty = all
    paper_starting_cash: str = "100000"  # TRADEFLEET_PAPER_STARTING_CASH
    paper_delay: float = 0.0  # TRADEFLEET_PAPER_DELAY (s): slows paper legs, for fault tests
    autorsa_bin: str = "auto_rsa_bot"  # AUTORSA_BIN
    autorsa_timeout: float = 300.0  # AUTORSA_TIMEOUT (s), default per brokerage run
    autorsa_timeouts: Mapping[str, float] = field(default_factory=dict)  # AUTORSA_TIMEOUTS
    # AUTORSA_CODE_TIMEOUT (s): how long a run waits for a 2FA code or app approval in all
    autorsa_code_timeout: float = 120.0
    autorsa_code_timeouts: Mapping[str, float] = field(default_factory=dict)  # ..._TIMEOUTS
    brokerage_rate_limits: Mapping[str, str] = field(default_factory=dict)  # BROKERAGE_RATE_LIMITS
    brokerage_concurrency: Mapping[str, int] = field(default_factory=dict)  # BROKERAGE_CONCURRENCY
    holdings_refresh_seconds: float = 21600.0  # HOLDINGS_REFRESH_SECONDS; 0 turns it off
    job_retention_days: float = 90.0  # JOB_RETENTION_DAYS: a deleted group's jobs stay this long
    schedule_grace_seconds: float = 300.0  # SCHEDULE_GRACE_SECONDS: a run this late is missed
    beat_lock_seconds: int = 60  # BEAT_LOCK_SECONDS: a dead beat's lock frees after this
    influx_url: str = ""  # INFLUX_URL
    influx_token: str = ""  # INFLUX_TOKEN
    influx_org: str = ""  # INFLUX_ORG
    influx_bucket: str = "tradefleet"  # INFLUX_BUCKET (or the 1.x database)
    influx_version: str = ""  # INFLUX_VERSION: 1 or 2; empty = ask /ping
    market_provider: str = "synthetic"  # MARKET_PROVIDER: synthetic, csv or schwab
    market_csv_dir: Path = Path("var/csv")  # MARKET_CSV_DIR: <SYMBOL>.csv per symbol (csv)
    market_seed: int = 0  # MARKET_SEED: the synthetic provider's random-walk seed
    watchlist_symbols: tuple[str, ...] = ("SPY", "QQQ", "IWM")  # WATCHLIST_SYMBOLS default
    watchlist_intervals: tuple[str, ...] = ("1m",)  # WATCHLIST_INTERVALS default
    market_pull_seconds: float = 60.0  # MARKET_PULL_SECONDS: bar pulls; 0 turns them off
    quote_refresh_seconds: float = 5.0  # QUOTE_REFRESH_SECONDS: quote refresh; 0 = off
    metrics_seconds: float = 15.0  # METRICS_SECONDS: operations metrics to InfluxDB; 0 = off
    quote_max_age: float = 900.0  # QUOTE_MAX_AGE (s): older quotes refused for paper orders
    schwab_app_key: str = ""  # SCHWAB_APP_KEY
    schwab_app_secret: str = ""  # SCHWAB_APP_SECRET
    schwab_callback_url: str = ""  # SCHWAB_CALLBACK_URL
    schwab_base_url: str = "https://api.schwabapi.com"  # SCHWAB_BASE_URL (tests: a local fake)
    schwab_rate_limit: str = "100/m"  # SCHWAB_RATE_LIMIT: Schwab calls, shared by every worker
    schwab_refresh_seconds: float = 60.0  # SCHWAB_REFRESH_SECONDS: the refresher's beat period
    # TELEGRAM_API_URL: Telegram's Bot API (tests: a local fake); messages go to
    # <url>/bot<token>/sendMessage
    telegram_api_url: str = TELEGRAM_API_URL
    flower_basic_auth: str = ""  # FLOWER_BASIC_AUTH user:password[,user:password]
    log_level: str = "INFO"  # LOG_LEVEL
    log_json: bool = False  # TRADEFLEET_LOG_JSON: one JSON object per log line
    # TRADEFLEET_STRATEGY_MODULES: importable modules of user strategies, comma-separated;
    # loaded at start by strategies.load_strategy_modules (a broken one stops the start)
    strategy_modules: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: the process environment, completed by
        ``./var/up.env`` while `make up` runs: see :func:`with_up_env`).

        Raises:
            ConfigurationError: a required value is missing or one is malformed;
                the message names the variable and what is wrong.
        """
        env = with_up_env(os.environ) if environ is None else environ
        redis_url = _required(env, "REDIS_URL", "e.g. redis://localhost:6379/0")
        secret_keys = _fernet_keys(
            _required(env, "TRADEFLEET_SECRET_KEY", "generate one with `make secret-key`")
        )
        visibility_timeout = _number(env, "TRADEFLEET_VISIBILITY_TIMEOUT", 7200, int, minimum=10)
        leg_time_limit = _number(
            env, "TRADEFLEET_LEG_TIME_LIMIT", visibility_timeout / 2, float, minimum=1
        )
        unsafe = _flag(env, "TRADEFLEET_UNSAFE_LEGS_PAST_VISIBILITY", False)
        if leg_time_limit + LEG_TIME_LIMIT_MARGIN > visibility_timeout and not unsafe:
            raise ConfigurationError(
                f"TRADEFLEET_LEG_TIME_LIMIT ({leg_time_limit:g}s) must be at least "
                f"{LEG_TIME_LIMIT_MARGIN}s below TRADEFLEET_VISIBILITY_TIMEOUT "
                f"({visibility_timeout}s): a leg that outlives it is delivered again"
            )
        return cls(
            redis_url=redis_url,
            secret_keys=secret_keys,
            broker_url=env.get("CELERY_BROKER_URL") or redis_url,
            result_backend=env.get("CELERY_RESULT_BACKEND") or redis_url,
            data_dir=Path(env.get("TRADEFLEET_DATA_DIR") or "var/data"),
            visibility_timeout=visibility_timeout,
            leg_time_limit=leg_time_limit,
            unsafe_legs_past_visibility=unsafe,
            worker_groups=_names(env.get("TRADEFLEET_WORKER_GROUPS", "")),
            worker_brokerages=_names(env.get("TRADEFLEET_WORKER_BROKERAGES", "").lower()),
            paper_starting_cash=_decimal_text(env, "TRADEFLEET_PAPER_STARTING_CASH", "100000"),
            paper_delay=_number(env, "TRADEFLEET_PAPER_DELAY", 0.0, float, minimum=0),
            autorsa_bin=env.get("AUTORSA_BIN") or "auto_rsa_bot",
            autorsa_timeout=_number(env, "AUTORSA_TIMEOUT", 300.0, float, minimum=1),
            autorsa_timeouts={
                k: _parse_float("AUTORSA_TIMEOUTS", k, v)
                for k, v in _pairs(env, "AUTORSA_TIMEOUTS").items()
            },
            autorsa_code_timeout=_number(env, "AUTORSA_CODE_TIMEOUT", 120.0, float, minimum=1),
            autorsa_code_timeouts={
                k: _parse_float("AUTORSA_CODE_TIMEOUTS", k, v)
                for k, v in _pairs(env, "AUTORSA_CODE_TIMEOUTS").items()
            },
            brokerage_rate_limits=_rates(env),
            brokerage_concurrency={
                k: int(_parse_float("BROKERAGE_CONCURRENCY", k, v))
                for k, v in _pairs(env, "BROKERAGE_CONCURRENCY").items()
            },
            holdings_refresh_seconds=_number(
                env, "HOLDINGS_REFRESH_SECONDS", 21600.0, float, minimum=0
            ),
            job_retention_days=_number(env, "JOB_RETENTION_DAYS", 90.0, float, minimum=0.001),
            schedule_grace_seconds=_number(env, "SCHEDULE_GRACE_SECONDS", 300.0, float, minimum=1),
            # Above beat_max_loop_interval (5 s): a live beat renews its lock each tick.
            beat_lock_seconds=int(_number(env, "BEAT_LOCK_SECONDS", 60, int, minimum=10)),
            influx_url=env.get("INFLUX_URL", ""),
            influx_token=env.get("INFLUX_TOKEN", ""),
            influx_org=env.get("INFLUX_ORG", ""),
            influx_bucket=env.get("INFLUX_BUCKET") or "tradefleet",
            influx_version=_choice(env, "INFLUX_VERSION", ("", "1", "2")),
            market_provider=(env.get("MARKET_PROVIDER") or "synthetic").strip().lower(),
            market_csv_dir=Path(env.get("MARKET_CSV_DIR") or "var/csv"),
            market_seed=int(_number(env, "MARKET_SEED", 0, int, minimum=0)),
            watchlist_symbols=_names(env.get("WATCHLIST_SYMBOLS", "SPY,QQQ,IWM").upper()),
            watchlist_intervals=_names(env.get("WATCHLIST_INTERVALS", "1m")),
            market_pull_seconds=_number(env, "MARKET_PULL_SECONDS", 60.0, float, minimum=0),
            quote_refresh_seconds=_number(env, "QUOTE_REFRESH_SECONDS", 5.0, float, minimum=0),
            metrics_seconds=_number(env, "METRICS_SECONDS", 15.0, float, minimum=0),
            quote_max_age=_number(env, "QUOTE_MAX_AGE", 900.0, float, minimum=1),
            schwab_app_key=env.get("SCHWAB_APP_KEY", ""),
            schwab_app_secret=env.get("SCHWAB_APP_SECRET", ""),
            schwab_callback_url=env.get("SCHWAB_CALLBACK_URL", ""),
            schwab_base_url=(env.get("SCHWAB_BASE_URL") or "https://api.schwabapi.com").rstrip("/"),
            schwab_rate_limit=_rate(env, "SCHWAB_RATE_LIMIT", "100/m"),
            schwab_refresh_seconds=_number(env, "SCHWAB_REFRESH_SECONDS", 60.0, float, minimum=1),
            telegram_api_url=(env.get("TELEGRAM_API_URL") or TELEGRAM_API_URL).rstrip("/"),
            flower_basic_auth=env.get("FLOWER_BASIC_AUTH", ""),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            log_json=_flag(env, "TRADEFLEET_LOG_JSON", False),
            strategy_modules=_names(env.get("TRADEFLEET_STRATEGY_MODULES", "")),
        )

    def autorsa_timeout_for(self, brokerage: str) -> float:
        """The time limit of one AutoRSA run for ``brokerage``, in seconds."""
        return self.autorsa_timeouts.get(brokerage, self.autorsa_timeout)

    def autorsa_code_timeout_for(self, brokerage: str) -> float:
        """How long one AutoRSA run for ``brokerage`` may wait for codes, in seconds."""
        return self.autorsa_code_timeouts.get(brokerage, self.autorsa_code_timeout)


@functools.cache
def get_settings() -> Settings:
    """The process's settings; exits with one clear line when they are unusable."""
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise SystemExit(f"tradefleet: {exc.message}") from None


def with_up_env(environ: Mapping[str, str], path: Path = UP_ENV_PATH) -> Mapping[str, str]:
    """``environ`` plus the ``NAME=value`` lines of ``path`` (``./var/up.env``) it leaves unset.

    Variables that are set always win; without the file ``environ`` is returned as it is.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return environ
    merged = dict(environ)
    for line in lines:
        name, sep, value = line.strip().partition("=")
        if sep and name and not name.startswith("#") and not merged.get(name):
            merged[name] = value
    return merged


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set ({hint})")
    return value


def _fernet_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigurationError(
                "TRADEFLEET_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with `make secret-key`"
            ) from None
    return keys


def _number(env: Mapping[str, str], name: str, default, kind, *, minimum: float):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum or value != value:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _decimal_text(env: Mapping[str, str], name: str, default: str) -> str:
    value = _number(env, name, None, float, minimum=0)
    return default if value is None else env[name].strip()


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip()
    if raw not in allowed:
        shown = " or ".join(repr(a) for a in allowed if a)
        raise ConfigurationError(f"{name} must be {shown} (or unset), got {raw!r}")
    return raw


def _names(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """Parse ``a=1,b=2`` into a dict; the keys are brokerage names."""
    pairs = {}
    for item in _names(env.get(name, "")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigurationError(f"{name} must look like 'chase=600,tradier=60', got {item!r}")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _rates(env: Mapping[str, str]) -> dict[str, str]:
    from core.throttle import parse_rate

    rates = _pairs(env, "BROKERAGE_RATE_LIMITS")
    for brokerage, rate in rates.items():
        try:
            parse_rate(rate)
        except ConfigurationError as exc:
            raise ConfigurationError(f"BROKERAGE_RATE_LIMITS: {brokerage}: {exc.message}") from None
    return rates


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    from core.throttle import parse_rate

    rate = env.get(name, "").strip() or default
    try:
        parse_rate(rate)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc.message}") from None
    return rate


def _parse_float(name: str, key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(
            f"{name}: {key} must be a number of seconds, got {value!r}"
        ) from None
    if not number > 0:
        raise ConfigurationError(f"{name}: {key} must be positive, got {value!r}")
    return number
