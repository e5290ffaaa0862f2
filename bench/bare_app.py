"""Baseline apps for ``bench/core.py``: a bare Flask endpoint and the API, in one gunicorn.

``combined()`` is the WSGI app gunicorn serves for the core bench: the real
``api:create_app()`` at ``/`` and, under ``/bare``, a Flask app with nothing but the publish
step of a POST:

* ``POST /bare/groups/<group>/transactions`` reads the JSON body, makes a job id and
  publishes what the API publishes for a new job (``tasks.enqueue.submit``): the task
  ``tasks.names.ADVANCE_GROUP`` with ``args=[group, job_id]`` to
  ``tasks.routing.group_queue(group)``, on a Celery app configured from ``tasks/config.py``
  (same broker, serializer, transport options and events as the API's). It answers 202
  ``{"job_id": ..., "dispatch": "sent"}``. No auth, no validation, no job record: what is
  left is HTTP, Flask and the broker publish. Names and queue come from ``tasks.names`` and
  ``tasks.routing``, so the baseline follows the protocol of the tree it runs in.
* ``POST /bare/ping`` answers 202 ``null`` without publishing: the ceiling of the HTTP server
  and the load generator together.
* ``GET /bare/whoami`` says which tradefleet code the server imported (the bench checks that
  it is the tree under test).

Both apps run in the same gunicorn processes with the same worker class, workers and
threads, so the ratio API ÷ bare isolates what the API does beyond publishing.
"""

from __future__ import annotations

import uuid

from celery import Celery
from flask import Flask, jsonify, request

from tasks import names, routing


def make_celery() -> Celery:
    """A Celery client configured exactly like the API's (``tasks.config``), not set current."""
    app = Celery("bench-bare", set_as_current=False)
    app.config_from_object("tasks.config")
    return app


def create_bare_app() -> Flask:
    celery = make_celery()
    app = Flask("bench-bare")

    @app.post("/groups/<group>/transactions")
    def transactions(group: str):
        request.get_json(silent=True)
        job_id = uuid.uuid4().hex
        celery.send_task(
            names.ADVANCE_GROUP, args=[group, job_id], queue=routing.group_queue(group)
        )
        return jsonify(job_id=job_id, dispatch="sent"), 202

    @app.post("/ping")
    def ping():
        return jsonify(), 202

    @app.get("/whoami")
    def whoami():
        import core

        return jsonify(core=core.__file__)

    return app


def combined():
    """The API at ``/`` and the bare app at ``/bare``: ``gunicorn 'bench.bare_app:combined()'``."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from api import create_app

    return DispatcherMiddleware(create_app(), {"/bare": create_bare_app()})
