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
# A message not acknowledged within this time is redelivered: longer than any leg.
broker_transport_options = {"visibility_timeout": _settings.visibility_timeout}
result_backend_transport_options = {"visibility_timeout": _settings.visibility_timeout}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600
task_default_queue = routing.DEFAULT_QUEUE
task_create_missing_queues = True
worker_direct = True  # each worker's own queue carries its heartbeat task

# Events for Flower and `celery events`.
worker_send_task_events = True
task_send_sent_event = True

worker_hijack_root_logger = False
worker_redirect_stdouts = False

beat_scheduler = "redbeat.RedBeatScheduler"
redbeat_redis_url = _settings.redis_url
redbeat_key_prefix = "tf:redbeat"
redbeat_lock_timeout = 60
beat_max_loop_interval = 5
beat_schedule = beat.schedule(_settings)
