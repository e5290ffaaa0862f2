"""Per-account working directories for AutoRSA, and the lock that guards them.

AutoRSA keeps sessions in its working directory (``./creds/``, Webull's
``./did.bin``, screenshots; reference, section 5, item 8). Each account gets
its own directory ``<data_dir>/autorsa/<group>/<account>/`` so sessions survive
between runs and never leak between accounts. Two runs must never share one:
an exclusive ``flock`` on a lock file inside serialises them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from core.models import is_valid_name

LOCK_FILE = ".tradefleet.lock"
_POLL_SECONDS = 0.05


class StateLockTimeout(Exception):
    """Another run held the account's state directory for the whole wait."""


def state_dir(data_dir: Path | str, group: str, account: str) -> Path:
    """The private AutoRSA working directory of one account (not created).

    Raises:
        ValueError: ``group`` or ``account`` is not a valid name; checked here
            because they become path components.
    """
    for label, name in (("group", group), ("account", account)):
        if not is_valid_name(name):
            raise ValueError(f"invalid {label} name {name!r}")
    return Path(data_dir) / "autorsa" / group / account


def ensure_state_dir(data_dir: Path | str, group: str, account: str) -> Path:
    """Create (or fix) the account's directory with mode 0700, parents too.

    The ``autorsa`` root and the group directory are made 0700 as well: they
    list account names, and the sessions below them are as good as passwords.

    Returns:
        The directory path.
    """
    path = state_dir(data_dir, group, account)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for existing directories.
    for directory in (path.parent.parent, path.parent, path):
        os.chmod(directory, 0o700)
    return path


@contextlib.contextmanager
def locked_state_dir(
    data_dir: Path | str, group: str, account: str, *, timeout: float
) -> Iterator[Path]:
    """Hold the account's directory exclusively for the duration of the block.

    Args:
        data_dir: ``settings.data_dir``.
        group: the account's group.
        account: the account's name.
        timeout: how long to wait for a run already holding it, in seconds.

    Yields:
        The directory, created with mode 0700.

    Raises:
        StateLockTimeout: still held by another run after ``timeout``.
    """
    path = ensure_state_dir(data_dir, group, account)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise StateLockTimeout(
                        f"another AutoRSA run of this account held its state for {timeout:g}s"
                    ) from None
                time.sleep(_POLL_SECONDS)
        yield path
    finally:
        # Closing the descriptor releases the lock too.
        os.close(fd)


def wipe_state(data_dir: Path | str, group: str, account: str) -> bool:
    """Delete the account's AutoRSA directory (sessions, cookies, screenshots).

    Call it when the account is deleted. A run still in progress keeps its open
    files but loses the directory; the next run of a re-created account with
    the same name starts from scratch.

    Returns:
        Whether there was a directory to delete.
    """
    path = state_dir(data_dir, group, account)
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True


def wipe_group_state(data_dir: Path | str, group: str) -> bool:
    """Delete the AutoRSA directories of every account of ``group``.

    Returns:
        Whether there was a directory to delete.
    """
    if not is_valid_name(group):
        raise ValueError(f"invalid group name {group!r}")
    path = Path(data_dir) / "autorsa" / group
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True
