"""Test-only: make a worker's publishes of chosen tasks fail, or die right after them.

Loaded into a worker with ``celery -A tasks worker -I tests.fakes.publish_faults``;
it wraps ``tasks.celery.app.send_task`` in that worker (and its forked pool children)
only. ``TF_TEST_PUBLISH_FAULTS`` lists ``<task name>=<fail|crash|die>:<count>`` items,
comma-separated: ``fail`` raises kombu's ``OperationalError`` as an unreachable broker
does; ``crash`` kills the process at once (``os._exit``) instead of publishing, as a
crash just before the publish would; ``die`` publishes and then kills the process, as a
crash between the publish and the next write would. The first ``count`` publishes of that task
across all the worker's processes are affected (counted in the fleet's Redis).
"""

from __future__ import annotations

import os

import redis
from kombu.exceptions import OperationalError

from tasks.celery import app

_FAULTS = {}
for item in filter(None, os.environ.get("TF_TEST_PUBLISH_FAULTS", "").split(",")):
    name, _, spec = item.partition("=")
    mode, _, count = spec.partition(":")
    _FAULTS[name.strip()] = (mode.strip(), int(count or 1))

_original_send_task = app.send_task


def _nth(name: str) -> int:
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    return connection.incr(f"tf-test:publish-faults:{name}")


def _send_task(name, *args, **kwargs):
    fault = _FAULTS.get(name)
    if fault is None or _nth(name) > fault[1]:
        return _original_send_task(name, *args, **kwargs)
    mode, _count = fault
    if mode == "fail":
        raise OperationalError(f"injected publish failure of {name}")
    if mode == "crash":
        os._exit(70)
    result = _original_send_task(name, *args, **kwargs)
    os._exit(70)  # "die": crash right after the publish, before anything else is written
    return result


app.send_task = _send_task
