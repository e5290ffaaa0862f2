"""The Celery application: ``celery -A tasks worker|beat|flower|queues``."""

from celery import Celery

app = Celery(
    "tradefleet",
    include=["tasks.jobs", "tasks.maintenance", "tasks.consumers"],
)
app.config_from_object("tasks.config")
