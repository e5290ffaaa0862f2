"""The Celery application: ``celery -A tasks worker|beat|flower|queues``."""

from celery import Celery, signals

from core import logs
from core.settings import get_settings
from strategies.loader import load_user_strategies

app = Celery(
    "tradefleet",
    include=[
        "tasks.jobs",
        "tasks.maintenance",
        "tasks.consumers",
        "tasks.tokens",
        "tasks.market",
        "tasks.schedules",
        "tasks.backtests",
        "tasks.signals",
        "tasks.notify",
    ],
)
app.config_from_object("tasks.config")


@signals.worker_init.connect
def _load_user_strategies(**_kwargs) -> None:
    load_user_strategies(get_settings())


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _use_our_log_format(logger, **_kwargs) -> None:
    logs.configure(get_settings(), logger)
