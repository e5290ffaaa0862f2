"""The credential vault: brokerage credentials encrypted at rest with Fernet.

Plaintext exists only in memory, in the API request that stores it and in the
brokerage leg that uses it. ``TRADEFLEET_SECRET_KEY`` may list several keys,
newest first, so keys can be rotated (MultiFernet decrypts with any, encrypts
with the first).
"""

from __future__ import annotations

import json

import redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from redis.client import Pipeline

from core import keys
from core.errors import NotFound, VaultError
from core.jobs import Write


class Vault:
    def __init__(self, connection: redis.Redis, secret_keys: tuple[str, ...]) -> None:
        self.connection = connection
        self._fernet = MultiFernet([Fernet(k.encode()) for k in secret_keys])

    def store(
        self,
        group: str,
        account: str,
        credentials: dict[str, str],
        pipeline: Pipeline | None = None,
    ) -> None:
        """Encrypt and save ``credentials`` for an account, replacing any before."""
        token = self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())
        (pipeline or self.connection).set(keys.credentials(group, account), token.decode())

    def write(self, group: str, account: str, credentials: dict[str, str]) -> Write:
        """The encrypted credentials as a write to make along with a new job."""
        token = self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())
        return Write("SET", keys.credentials(group, account), token.decode())

    def load_many(
        self, group: str, accounts: list[str]
    ) -> dict[str, dict[str, str] | NotFound | VaultError]:
        """Decrypt several accounts' credentials with one read; a problem is its error."""
        with self.connection.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.get(keys.credentials(group, account))
            tokens = pipe.execute()
        return {
            account: self._decrypt(group, account, token)
            for account, token in zip(accounts, tokens, strict=True)
        }

    def _decrypt(
        self, group: str, account: str, token: str | None
    ) -> dict[str, str] | NotFound | VaultError:
        if token is None:
            return NotFound(f"no credentials stored for account {group}/{account}")
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            return VaultError(
                f"credentials of {group}/{account} cannot be decrypted: "
                "TRADEFLEET_SECRET_KEY differs from the key they were stored with"
            )

    def load(self, group: str, account: str) -> dict[str, str]:
        """Decrypt an account's credentials.

        Raises:
            NotFound: none are stored (the account was deleted).
            VaultError: they cannot be decrypted with the configured keys.
        """
        loaded = self._decrypt(
            group, account, self.connection.get(keys.credentials(group, account))
        )
        if isinstance(loaded, Exception):
            raise loaded
        return loaded

    def seal(self, plaintext: str) -> str:
        """Encrypt one secret that belongs to no account (e.g. an OAuth token)."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def unseal(self, token: str, what: str) -> str:
        """Decrypt what :meth:`seal` made; ``what`` names it in the error.

        Raises:
            VaultError: it cannot be decrypted with the configured keys.
        """
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError(
                f"{what} cannot be decrypted: "
                "TRADEFLEET_SECRET_KEY differs from the key it was stored with"
            ) from None

    def wipe(self, group: str, account: str, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.connection).delete(keys.credentials(group, account))
