"""One flask-smorest blueprint per resource."""

from __future__ import annotations

import flask_smorest
from flask import url_for

from api.errors import JsonParser
from tasks.operations import DISPATCH_DELAYED, Submitted


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, reading JSON bodies with :class:`api.errors.JsonParser`."""

    ARGUMENTS_PARSER = JsonParser()


def accepted(submitted: Submitted) -> dict:
    """The 202 body of a job that exists and will run (``JobAcceptedSchema``)."""
    job = submitted.job
    body = {
        "job_id": job.id,
        "status_url": url_for("jobs.JobItem", job_id=job.id, _external=False),
        "state": job.state.value,
        "dispatch": "sent" if submitted.dispatched else "delayed",
    }
    if not submitted.dispatched:
        body["message"] = DISPATCH_DELAYED
    return body
