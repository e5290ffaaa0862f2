"""Celery configuration, filled from ``core.settings`` (``config_from_object('tasks.config')``)."""

from core.settings import get_settings
from tasks import beat, routing

_settings = get_settings()

broker_url = _settings.broker_url
result_backend = _settings.result_backend
broker_connection_retry_on_startup = True

# Orders touch real money: no job silently lost (late ack, requeue on a lost
# worker, one message reserved per process), none silently duplicated (legs
# claim their execution in Redis before running).
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# When the broker connection drops, running tasks finish (should their messages come back,
# they find the group mutex or the leg's claim) rather than being killed mid-order; this is
# Celery 5's default, pinned here because Celery 6 changes it.
worker_cancel_long_running_tasks_on_connection_loss = False
# Redis broker: a message not acknowledged within this time is redelivered: longer than
# any task (a leg, or a group task draining a backlog).
# RabbitMQ (amqp://) ignores it: an unacknowledged message comes back as soon as its
# consumer's connection closes (worker killed or cut off), never because time passed. Its
# limit is the server's `consumer_timeout` (default 30 min): a delivery unacknowledged for
# longer makes RabbitMQ close the worker's channel and requeue every message on it. Set it
# above TRADEFLEET_VISIBILITY_TIMEOUT in rabbitmq.conf (`consumer_timeout = 7200000`, ms).
# kombu looks for messages past their visibility timeout every 10 s, but by default scans
# only every 10th time: a killed worker's messages would wait up to 100 s beyond it.
broker_transport_options = {
    "visibility_timeout": _settings.visibility_timeout,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
result_backend_transport_options = {"visibility_timeout": _settings.visibility_timeout}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600
task_default_queue = routing.DEFAULT_QUEUE
task_create_missing_queues = True
worker_direct = True  # each worker's own queue carries its heartbeat task

# Events for Flower and `celery events`: workers report tasks received, started and
# finished. No `task-sent` event: it is a second publish on every submission, and
# Flower learns of a task from its `task-received` event.
worker_send_task_events = True
task_send_sent_event = False

worker_hijack_root_logger = False
worker_redirect_stdouts = False

beat_scheduler = "tasks.scheduler:Scheduler"
redbeat_redis_url = _settings.redis_url
# Said outright so RedBeat does not fall back to broker_transport_options (deprecated);
# tasks.scheduler retries a lost Redis itself.
redbeat_redis_options: dict = {}
redbeat_key_prefix = "tf:redbeat"
# A second beat waits on this lock: when the beat holding it dies without releasing it,
# the other takes over at most this long after the last renewal.
redbeat_lock_timeout = _settings.beat_lock_seconds
beat_max_loop_interval = 5
beat_schedule = beat.schedule(_settings)
