"""One account's AutoRSA prompts, relayed to the person through :class:`core.codes.CodeRelay`.

The runner (:mod:`brokers.autorsa.runner`) notices a prompt and asks an
:class:`AccountRelay` to show it; the relay scrubs the prompt, offers the
captcha image BBAE and DSPAC save as ``./captcha.png``, and hands back the code
the person posts. Redis trouble never breaks a run: the prompt is then not
relayed, and the runner closes stdin so the login fails fast, as it did before.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis

from brokers.autorsa.lines import Prompt
from core.codes import CodeRelay, CodeWait

log = logging.getLogger(__name__)

CAPTCHA_FILE = "captcha.png"
_MAX_CAPTCHA_BYTES = 1 << 20


class AccountRelay:
    """The :class:`~brokers.autorsa.runner.PromptRelay` of one account's run in one job.

    Args:
        codes: the Redis side.
        job: the job's id, or a callable finding it when the first prompt appears
            (``None``: the job cannot be told, so the prompt is not relayed).
        group: the account's group.
        account: the account's name.
        brokerage: its brokerage.
        scrub: the account's scrubber, applied to every prompt shown.
    """

    def __init__(
        self,
        codes: CodeRelay,
        job: str | Callable[[], str | None],
        *,
        group: str,
        account: str,
        brokerage: str,
        scrub: Callable[[str], str],
    ) -> None:
        self.codes = codes
        self._job = job
        self.group = group
        self.account = account
        self.brokerage = brokerage
        self.scrub = scrub
        self._job_id: str | None = job if isinstance(job, str) else None
        self._shown = False  # something of this run is in Redis to clear

    def job_id(self) -> str | None:
        if self._job_id is None and callable(self._job):
            try:
                self._job_id = self._job()
            except redis.RedisError:
                log.warning("the job of %s/%s could not be read", self.group, self.account)
        return self._job_id

    def announce(self, prompt: Prompt, deadline: float, home: Path) -> bool:
        job_id = self.job_id()
        if job_id is None:
            return False
        png = _captcha(home) if prompt.captcha else b""
        wait = CodeWait(
            account=self.account,
            brokerage=self.brokerage,
            kind=prompt.kind,
            prompt=self.scrub(prompt.text),
            deadline=datetime.fromtimestamp(deadline, UTC),
            captcha=bool(png),
        )
        self._shown = True
        try:
            self.codes.announce(job_id, self.group, wait, png)
        except redis.RedisError:
            log.warning("job %s: the prompt of %s could not be relayed", job_id, self.account)
            return False
        return True

    def take_code(self, timeout: float) -> str | None:
        job_id = self.job_id()
        if job_id is None:
            return None
        try:
            return self.codes.take(job_id, self.account, timeout)
        except redis.RedisError:
            log.warning("job %s: no code could be read for %s", job_id, self.account)
            return None

    def clear(self, home: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (home / CAPTCHA_FILE).unlink()
        job_id = self._job_id
        if job_id is None or not self._shown:
            return
        self._shown = False
        try:
            self.codes.clear(job_id, self.group, self.account)
        except redis.RedisError:  # the entry expires after its deadline anyway
            log.warning(
                "job %s: the waiting state of %s could not be cleared", job_id, self.account
            )


def _captcha(home: Path) -> bytes:
    """The captcha image AutoRSA saved in the account's state dir, or ``b""``."""
    path = home / CAPTCHA_FILE
    try:
        if path.stat().st_size > _MAX_CAPTCHA_BYTES:
            return b""
        return path.read_bytes()
    except OSError:
        return b""
