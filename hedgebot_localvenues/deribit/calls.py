"""One JSON-RPC call as the method handlers see it, and the handler tables' types.

Owns `Call` (method, typed params, the authenticated account, the websocket session if any)
and `Handler`. It must not know about aiohttp.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hedgebot_localvenues.deribit.rpc import UNAUTHORIZED, Params, RpcError
from hedgebot_localvenues.deribit.state import VenueState


class Session(Protocol):
    """A websocket connection, as subscription handlers need it."""

    account: str | None
    """The account this connection authenticated as."""

    def subscribe(self, channels: list[str], *, private: bool) -> list[str]:
        """Subscribe; returns the channels accepted."""
        ...

    def unsubscribe(self, channels: list[str]) -> list[str]:
        """Unsubscribe; returns the channels that were subscribed."""
        ...

    def set_heartbeat(self, interval_s: float | None) -> None:
        """Start (or with None stop) heartbeat test requests."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One call: ``scope/name``, its parameters and who made it."""

    method: str
    params: Params
    account: str | None
    session: Session | None = None
    access_token: str | None = None

    def require_account(self) -> str:
        """The authenticated account; Deribit's 13009 unauthorized otherwise."""
        if self.account is None:
            raise RpcError(UNAUTHORIZED)
        return self.account


Handler = Callable[[VenueState, Call], Awaitable[Any]]
