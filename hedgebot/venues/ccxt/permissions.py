"""What a venue says the configured API key may do: trade, and (dangerously) withdraw.

Owns `KeyPermissions` and `key_permissions`. Deribit reports the key's scope in the answer to
`public/auth` (``trade:read_write``, ``wallet:read_write`` …); Binance reports its API
restrictions (`enableWithdrawals`, `enableFutures`); OKX reports the key's ``perm``
(``read_only,trade,withdraw``) in its account configuration. For venues where hedgebot cannot
read the permissions yet, it says so (`verified=False`) rather than guess. Errors map through
`errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hedgebot.venues.ccxt.errors import translate_error


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPermissions:
    """What the key may do, as the venue reports it."""

    verified: bool
    can_trade: bool
    can_withdraw: bool
    detail: str


async def key_permissions(exchange: Any) -> KeyPermissions:
    """Ask the venue what the key of this (credentialed) ccxt instance may do."""
    try:
        return await _read_permissions(exchange)
    except Exception as exc:
        raise translate_error(exc) from None


async def _read_permissions(exchange: Any) -> KeyPermissions:
    if exchange.id == "deribit":
        answer = await exchange.public_get_auth(
            {
                "grant_type": "client_credentials",
                "client_id": exchange.apiKey,
                "client_secret": exchange.secret,
            }
        )
        scope = str(answer.get("result", {}).get("scope", ""))
        return KeyPermissions(
            verified=True,
            can_trade="trade:read_write" in scope,
            can_withdraw="wallet:read_write" in scope,
            detail=f"scope: {' '.join(s for s in scope.split() if ':' in s)}",
        )
    if exchange.id in ("binance", "binanceusdm", "binancecoinm"):
        answer = await exchange.sapi_get_account_apirestrictions()
        return KeyPermissions(
            verified=True,
            can_trade=bool(answer.get("enableFutures")),
            can_withdraw=bool(answer.get("enableWithdrawals")),
            detail="api restrictions: "
            + ", ".join(k for k, v in sorted(answer.items()) if v is True),
        )
    if exchange.id == "okx":
        accounts = await exchange.fetch_accounts()
        info = accounts[0].get("info", {}) if accounts else {}
        perms = [p for p in str(info.get("perm", "")).split(",") if p]
        return KeyPermissions(
            verified=bool(perms),
            can_trade="trade" in perms,
            can_withdraw="withdraw" in perms,
            detail=f"perm: {','.join(perms)}",
        )
    return KeyPermissions(
        verified=False,
        can_trade=True,
        can_withdraw=False,
        detail=f"{exchange.id}: key permissions are not read yet; check them on the venue",
    )
