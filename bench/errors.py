"""What can go wrong in a bench run, as the exit status tells it."""

from __future__ import annotations


class BenchError(Exception):
    """A measurement could not be made (bad status, failed job, timeout): exit status 1."""


class StartupError(Exception):
    """The system under test did not start: exit status 2; the message says where its logs are."""
