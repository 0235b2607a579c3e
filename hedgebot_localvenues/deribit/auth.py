"""Deribit authentication: API keys, signatures and the access tokens the exchange hands out.

Owns `ApiCredentials` (one account's key and secret) and `Authenticator`, which checks
``public/auth`` grants (``client_credentials``, ``client_signature``, ``refresh_token``), the
``deri-hmac-sha256`` Authorization header ccxt signs every private REST call with, and
``Bearer`` tokens. Token lifetimes run on a monotonic wall clock: they are connection plumbing,
not trading time.

It must not log or return a secret; failures raise `RpcError` with Deribit's codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from hedgebot_localvenues.deribit.rpc import (
    INVALID_CREDENTIALS,
    UNAUTHORIZED,
    RpcError,
    invalid_param,
)

SCOPE = "account:read_write trade:read_write wallet:read_write block_trade:read_write connection"
HMAC_SCHEME = "deri-hmac-sha256"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCredentials:
    """The API key pair of one account of the local exchange."""

    account: str
    api_key: str
    api_secret: SecretStr


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """An issued access token and what it is worth."""

    account: str
    access_token: str
    refresh_token: str
    expires_in: int

    def as_json(self) -> dict[str, object]:
        """The ``result`` of ``public/auth``."""
        return {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": SCOPE,
            "token_type": "bearer",
        }


class Authenticator:
    """Checks credentials and issues, refreshes and validates tokens."""

    def __init__(
        self,
        credentials: Iterable[ApiCredentials],
        *,
        token_ttl_s: int = 900,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_key = {c.api_key: c for c in credentials}
        self._ttl_s = token_ttl_s
        self._monotonic = monotonic
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}

    def accounts(self) -> tuple[str, ...]:
        """Every account that has an API key."""
        return tuple(c.account for c in self._by_key.values())

    def client_credentials(self, client_id: str, client_secret: str) -> Grant:
        """``grant_type=client_credentials``: the key and the plain secret."""
        creds = self._credentials(client_id)
        expected = creds.api_secret.get_secret_value()
        if not hmac.compare_digest(expected.encode(), client_secret.encode()):
            raise RpcError(INVALID_CREDENTIALS)
        return self._issue(creds.account)

    def client_signature(
        self, client_id: str, *, timestamp: str, nonce: str, data: str, signature: str
    ) -> Grant:
        """``grant_type=client_signature``: HMAC-SHA256 of ``timestamp\\nnonce\\ndata``."""
        creds = self._credentials(client_id)
        if not timestamp.isdigit():
            raise invalid_param("timestamp", "must be epoch milliseconds")
        payload = f"{timestamp}\n{nonce}\n{data}"
        if not _signature_matches(creds.api_secret, payload, signature):
            raise RpcError(INVALID_CREDENTIALS)
        return self._issue(creds.account)

    def refresh(self, refresh_token: str) -> Grant:
        """``grant_type=refresh_token``: a new token pair for a still-known refresh token."""
        account = self._refresh.pop(refresh_token, None)
        if account is None:
            raise RpcError(INVALID_CREDENTIALS)
        return self._issue(account)

    def bearer(self, token: str) -> str:
        """The account of a valid access token; `RpcError` 13009 if unknown or expired."""
        entry = self._access.get(token)
        if entry is None or entry[1] <= self._monotonic():
            self._access.pop(token, None)
            raise RpcError(UNAUTHORIZED)
        return entry[0]

    def authorization(self, header: str, *, method: str, uri: str, body: str) -> str:
        """The account of an HTTP ``Authorization`` header (``deri-hmac-sha256`` or Bearer)."""
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return self.bearer(rest.strip())
        if scheme.lower() != HMAC_SCHEME:
            raise RpcError(UNAUTHORIZED)
        fields = _header_fields(rest)
        try:
            creds = self._credentials(fields["id"])
            payload = f"{fields['ts']}\n{fields['nonce']}\n{method.upper()}\n{uri}\n{body}\n"
            signature = fields["sig"]
        except KeyError:
            raise RpcError(UNAUTHORIZED) from None
        if not _signature_matches(creds.api_secret, payload, signature):
            raise RpcError(UNAUTHORIZED)
        return creds.account

    def revoke(self, api_key: str) -> None:
        """Delete an API key, as a user does on the website: its signatures and tokens stop
        working at once (13004 invalid_credentials, 13009 unauthorized)."""
        creds = self._by_key.pop(api_key, None)
        if creds is None:
            return
        self._access = {t: e for t, e in self._access.items() if e[0] != creds.account}
        self._refresh = {t: a for t, a in self._refresh.items() if a != creds.account}

    def logout(self, token: str) -> None:
        """Invalidate one access token."""
        self._access.pop(token, None)

    def _credentials(self, client_id: str) -> ApiCredentials:
        creds = self._by_key.get(client_id)
        if creds is None:
            raise RpcError(INVALID_CREDENTIALS)
        return creds

    def _issue(self, account: str) -> Grant:
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self._access[access] = (account, self._monotonic() + self._ttl_s)
        self._refresh[refresh] = account
        return Grant(
            account=account, access_token=access, refresh_token=refresh, expires_in=self._ttl_s
        )


def _signature_matches(secret: SecretStr, payload: str, signature: str) -> bool:
    expected = hmac.new(
        secret.get_secret_value().encode(), payload.encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def _header_fields(rest: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    return fields
