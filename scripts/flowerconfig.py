"""Flower's configuration file: ``celery -A tasks flower --conf=scripts/flowerconfig.py``.

Flower 2.x exempts ``/metrics`` from authentication even with ``--basic-auth``
(its docs, "Authentication": "/healthcheck and /metrics are exempt"; mher/flower
issue #1342) and has no option to change that. Its Prometheus metrics name every
task, worker and queue, and docker-compose publishes Flower's port, so this file
guards ``/metrics`` exactly as Flower guards its own pages: tornado's
``@authenticated`` over ``BaseHandler.get_current_user``, which answers 401 without
the basic-auth credentials. A Prometheus scraper sends them with ``basic_auth:`` in
its scrape config.

Flower executes this file (tornado's ``parse_config_file``) before it serves
anything. The Procfile, docker-compose.yml and the tests pass ``--conf``
explicitly, so a missing file stops Flower instead of leaving ``/metrics`` open.
``/healthcheck`` stays open: it answers only ``OK`` (the compose healthcheck uses it).
"""

from flower.views.monitor import Metrics as _Metrics
from tornado.web import authenticated as _authenticated

if not getattr(_Metrics.get, "_tradefleet_guarded", False):
    _Metrics.get = _authenticated(_Metrics.get)
    _Metrics.get._tradefleet_guarded = True
