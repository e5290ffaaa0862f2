"""AutoRSA adapter: runs the ``auto_rsa_bot`` CLI once per account.

Modules: ``command`` (argv), ``runner`` (subprocess, environment, time
limit), ``process`` (stopping its process group), ``output`` (the capped output
buffer), ``prompt_watch`` (answering its prompts: 2FA codes), ``state`` (per-account working directory and lock), ``lines`` and
``parser`` (trade output), ``holdings`` (holdings output), ``diagnosis``
(failure reasons), ``scrub`` (secret removal), ``broker`` (the adapter).
"""

from __future__ import annotations

from brokers.autorsa.broker import ActivationResult, AutoRSABroker
from brokers.autorsa.state import wipe_group_state, wipe_state

__all__ = ["ActivationResult", "AutoRSABroker", "wipe_group_state", "wipe_state"]
