"""Fencing rules: which client ids are ours, which belong to another hedgebot installation,
and whether a process may still send.

Owns the client id format (``hb<installation>n<sequence>``: a per-journal installation id of
hex digits and a sequence number) as far as recognising it goes, and the epoch rule: a process
may send only while its fencing epoch is the journal's newest. Pure and synchronous.
"""

from __future__ import annotations

import re

CLIENT_ID = re.compile(r"^hb(?P<installation>[0-9a-f]{6})n(?P<sequence>\d+)$")


def client_prefix(installation: str) -> str:
    """The prefix of every client id of one installation."""
    return f"hb{installation}n"


def installation_of(client_id: str) -> str | None:
    """The installation id a hedgebot client id carries, or None if it is not hedgebot's."""
    match = CLIENT_ID.match(client_id or "")
    return match.group("installation") if match else None


def foreign_hedger(client_id: str, *, own_installation: str) -> str | None:
    """The other installation's id when `client_id` is a hedgebot id that is not ours."""
    other = installation_of(client_id)
    if other is None or other == own_installation:
        return None
    return other


def may_send(*, own_epoch: int, journal_epoch: int) -> bool:
    """A process may send only while no newer process has taken the journal over."""
    return own_epoch >= journal_epoch
