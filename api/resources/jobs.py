from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from flask_smorest import Page

from api import deps
from api.resources import Blueprint, accepted
from api.schemas.jobs import (
    CaptchaQuerySchema,
    CodeAcceptedSchema,
    CodeSchema,
    JobSchema,
    RetryAcceptedSchema,
    RetrySchema,
)
from core.models import ResultStatus

blp = Blueprint(
    "jobs", __name__, url_prefix="/api/v1", description="Jobs and their per-account results"
)


@blp.route("/jobs/<string:job_id>")
class JobItem(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="No such job")
    def get(self, job_id):
        """A job with every account's outcome, and the accounts waiting for a 2FA code."""
        job = deps.jobs().fetch(job_id)
        job.waiting = deps.code_relay().waiting(job_id)
        return job


@blp.route("/jobs/<string:job_id>/codes")
class JobCodes(MethodView):
    @blp.arguments(CodeSchema)
    @blp.response(202, CodeAcceptedSchema)
    @blp.alt_response(404, description="No such job")
    @blp.alt_response(409, description="The account is not waiting for a code now")
    @blp.alt_response(422, description="Not one line of at most 16 printable characters")
    def post(self, data, job_id):
        """Give a waiting login its 2FA code (or a captcha's text).

        Only an account the job lists under `waiting` with `kind` `code` takes one,
        once per prompt; the code goes to its AutoRSA process through Redis and is
        deleted there when read. It is never logged or stored. What the brokerage
        makes of it shows in the job's results as usual.
        """
        job = deps.jobs().fetch(job_id, with_results=False)
        deps.code_relay().deliver(job_id, data["account"], data["code"], group=job.group)
        return {"account": data["account"], "delivered": True}


@blp.route("/jobs/<string:job_id>/captcha")
class JobCaptcha(MethodView):
    @blp.arguments(CaptchaQuerySchema, location="query", unknown=ma.RAISE)
    @blp.alt_response(200, description="The captcha image (PNG)")
    @blp.alt_response(404, description="No such job, or no captcha waiting for an answer")
    def get(self, query, job_id):
        """The captcha image a BBAE or DSPAC login asks about; gone once it is answered."""
        deps.jobs().fetch(job_id, with_results=False)
        image = deps.code_relay().captcha(job_id, query["account"])
        return Response(image, mimetype="image/png", headers={"Cache-Control": "no-store"})


@blp.route("/jobs/<string:job_id>/cancel")
class JobCancel(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="No such job")
    @blp.alt_response(409, description="The job has started (legs cannot be recalled) or ended")
    def post(self, job_id):
        """Cancel a job that is still queued: it becomes `cancelled` and never runs, even if
        a worker already holds its message. A running job cannot be cancelled: its legs may
        have reached a brokerage."""
        return deps.operations().cancel_job(job_id)


@blp.route("/jobs/<string:job_id>/retry")
class JobRetry(MethodView):
    @blp.arguments(RetrySchema)
    @blp.response(202, RetryAcceptedSchema)
    @blp.alt_response(404, description="No such job")
    @blp.alt_response(409, description="Not a finished order, already retried, or nothing to retry")
    def post(self, data, job_id):
        """Re-run only the orders of a finished job that did not succeed.

        By default `failed` results (nothing was placed) are retried. `unknown`
        results may already have been placed: retry them only after checking the
        brokerage, with `"checked_brokerage": true`. A job is retried once; retry
        the new jobs if needed.
        """
        retries = deps.operations().retry_job(
            job_id,
            tuple(ResultStatus(s) for s in data["statuses"]),
            checked_brokerage=data["checked_brokerage"],
        )
        return {"jobs": [accepted(r) for r in retries]}


class _GroupJobs:
    """A group's job list that flask-smorest's ``Page`` can count and slice lazily."""

    def __init__(self, group: str) -> None:
        self.group = group

    def __len__(self) -> int:
        return deps.jobs().count_group(self.group)

    def __getitem__(self, window: slice):
        first = window.start or 0
        if first >= len(self):  # a page past the end is empty (and may not fit Redis's int64)
            return []
        return deps.jobs().list_group(self.group, first, window.stop or 0)


@blp.route("/groups/<string:group>/jobs")
class GroupJobs(MethodView):
    @blp.response(200, JobSchema(many=True))
    @blp.alt_response(404, description="No such group")
    @blp.paginate(Page)
    def get(self, group):
        """The group's jobs, newest first (paginated: `page`, `page_size`; see `X-Pagination`)."""
        deps.groups().get(group)
        return _GroupJobs(group)
