"""The scenario model of the fault campaign: which faults hit, when, and how hard.

Owns `FaultKind`, `Fault`, `Scenario` and `generate`, which draws scenarios deterministically
from a campaign seed (same seed, same scenarios, in the same order). Values are plain and
JSON-round-trippable (`Scenario.to_json` / `Scenario.from_json`): a worker process gets its
scenario as JSON. It must not start anything.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """The failures a scenario can throw at the daemon."""

    WS_DROP = "ws_drop"
    ERROR_FRAME = "error_frame"
    RATE_LIMIT = "rate_limit"
    DELAY = "delay"
    LOST_HANG = "lost_hang"
    LOST_CLOSE = "lost_close"
    DUP_FILLS = "dup_fills"
    REORDER = "reorder"
    PARTIAL = "partial"
    REJECT = "reject"
    STALE_FEED = "stale_feed"
    PRICE_GAP = "price_gap"
    KILL_RESTART = "kill_restart"
    NOTIFY_TIMING = "notify_timing"
    """Order, trade, position-change and account-summary notifications each late by its own
    delay, so they arrive in any order relative to each other and to REST reads."""
    READ_SPACING = "read_spacing"
    """The requests of one account read spaced apart (rate-limit spacing): fills land between
    the positions and the account summaries."""
    LOST_CANCEL = "lost_cancel"
    """Orders rest, and the confirmation of their cancel never arrives (optionally with the
    private streams stalled by two error frames)."""
    KILL_AT_CREATE = "kill_at_create"
    """kill -9 within 5 ms of the exchange executing a create, then restart."""


IN_PROCESS_ONLY = frozenset({FaultKind.DUP_FILLS, FaultKind.REORDER})
"""Kinds injected between the daemon's broker and its state: they need the daemon in-process."""

NEEDS_IN_PROCESS = IN_PROCESS_ONLY | {FaultKind.REJECT}
"""Kinds that cannot share a scenario with a kill: event chaos, and rejects (whose halt the
operator lifts through the in-process runtime)."""

KILL_KINDS = frozenset({FaultKind.KILL_RESTART, FaultKind.KILL_AT_CREATE})

ALL_KINDS: tuple[FaultKind, ...] = tuple(FaultKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault and its drawn parameters (their meaning: `tests.e2e.chaos.faults`)."""

    kind: FaultKind
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One run: a book, faults, and when they start and stop."""

    index: int
    seed: int
    faults: tuple[Fault, ...]
    trigger_orders: int
    """Faults start once the exchange has seen this many creates (0: after `trigger_delay_s`)."""
    trigger_delay_s: float
    window_s: float
    """How long the faults stay armed before everything is reset."""
    book_scale: float
    """Seeded positions of the book times this (negative flips the side of every position)."""

    @property
    def name(self) -> str:
        """``#index:kind+kind``."""
        return f"#{self.index}:" + "+".join(f.kind.value for f in self.faults)

    @property
    def primary(self) -> FaultKind:
        """The kind the scenario is counted under."""
        return self.faults[0].kind

    @property
    def kinds(self) -> frozenset[FaultKind]:
        """Every kind in the scenario."""
        return frozenset(f.kind for f in self.faults)

    @property
    def in_process(self) -> bool:
        """True when the daemon runs in the scenario's process (no kill/restart)."""
        return not self.kinds & KILL_KINDS

    def fault(self, kind: FaultKind) -> Fault | None:
        """The scenario's fault of one kind, if any."""
        return next((f for f in self.faults if f.kind is kind), None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "index": self.index,
            "seed": self.seed,
            "faults": [{"kind": f.kind.value, "params": dict(f.params)} for f in self.faults],
            "trigger_orders": self.trigger_orders,
            "trigger_delay_s": self.trigger_delay_s,
            "window_s": self.window_s,
            "book_scale": self.book_scale,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Scenario:
        """The scenario `to_json` wrote."""
        return Scenario(
            index=int(data["index"]),
            seed=int(data["seed"]),
            faults=tuple(
                Fault(kind=FaultKind(f["kind"]), params=dict(f["params"])) for f in data["faults"]
            ),
            trigger_orders=int(data["trigger_orders"]),
            trigger_delay_s=float(data["trigger_delay_s"]),
            window_s=float(data["window_s"]),
            book_scale=float(data["book_scale"]),
        )


def _params(kind: FaultKind, rng: random.Random) -> dict[str, Any]:
    """Drawn parameters of one fault kind."""
    draws: dict[FaultKind, Any] = {
        FaultKind.WS_DROP: lambda: {"drops": rng.randint(1, 3)},
        FaultKind.ERROR_FRAME: lambda: {"code": rng.choice([11094, 10028, 13009])},
        FaultKind.RATE_LIMIT: lambda: {
            "count": rng.randint(1, 6),
            "order_entry_only": rng.random() < 0.5,
        },
        FaultKind.DELAY: lambda: {"ms": rng.choice([150, 400, 800, 1500, 2500])},
        FaultKind.LOST_HANG: lambda: {"count": rng.randint(1, 2)},
        FaultKind.LOST_CLOSE: lambda: {"count": rng.randint(1, 2)},
        FaultKind.DUP_FILLS: lambda: {
            "copies": rng.randint(1, 3),
            "late_ms": rng.choice([0, 50, 300, 1500]),
        },
        FaultKind.REORDER: lambda: {
            "hold_ms": rng.choice([100, 400, 1200]),
            "stale_snapshots": rng.random() < 0.7,
        },
        FaultKind.PARTIAL: lambda: {
            # Thin enough to split orders into partial fills, deep enough that the account can
            # be back in band within the recovery deadline (4k USD at 1 bps takes minutes).
            "top_depth_usd": rng.choice([15_000.0, 40_000.0, 80_000.0]),
            "slippage_bps": rng.choice([None, 3.0, 5.0]),
        },
        FaultKind.REJECT: lambda: {"count": rng.randint(1, 4), "code": 10009},
        FaultKind.STALE_FEED: lambda: {"seconds": rng.uniform(2.0, 6.0)},
        FaultKind.PRICE_GAP: lambda: {"hours": rng.choice([1.0, 3.0, 8.0, 24.0])},
        FaultKind.KILL_RESTART: lambda: {
            "kills": rng.randint(1, 2),
            "at": rng.choice(["create", "create", "lost_create", "random"]),
            "down_s": rng.choice([0.0, 0.5, 2.0]),
        },
        FaultKind.NOTIFY_TIMING: lambda: {
            family: rng.choice([0, 60, 300, 1200])
            for family in ("user.orders", "user.trades", "user.changes", "user.portfolio")
        },
        FaultKind.READ_SPACING: lambda: {
            "private/get_positions": rng.choice([0, 30]),
            "private/get_account_summaries": rng.choice([50, 150, 400]),
            "private/get_account_summary": rng.choice([50, 150, 400]),
        },
        FaultKind.LOST_CANCEL: lambda: {
            "count": rng.randint(1, 2),
            "error_frames": rng.choice([0, 2]),
        },
        FaultKind.KILL_AT_CREATE: lambda: {"kills": rng.randint(1, 2), "down_s": 0.0},
    }
    return dict(draws[kind]())


def _second_kind(first: FaultKind, kinds: Sequence[FaultKind], rng: random.Random) -> FaultKind:
    """A different kind that can share a scenario with `first`."""
    options = [k for k in kinds if k is not first]
    if first in KILL_KINDS:
        options = [k for k in options if k not in NEEDS_IN_PROCESS | KILL_KINDS]
    if first in NEEDS_IN_PROCESS:
        options = [k for k in options if k not in KILL_KINDS]
    return rng.choice(options) if options else first


def draw(index: int, campaign_seed: int, kinds: Sequence[FaultKind]) -> Scenario:
    """Scenario number `index` of a campaign: its primary kind cycles through `kinds`, the rest
    is drawn from a generator seeded by (campaign seed, index)."""
    rng = random.Random(f"{campaign_seed}:{index}")
    first = kinds[index % len(kinds)]
    chosen = [first]
    if len(kinds) > 1 and rng.random() < 0.3:
        second = _second_kind(first, kinds, rng)
        if second is not first:
            chosen.append(second)
    by_orders = rng.random() < 0.6
    return Scenario(
        index=index,
        seed=rng.randrange(1, 2**31),
        faults=tuple(Fault(kind=k, params=_params(k, rng)) for k in chosen),
        trigger_orders=rng.randint(1, 3) if by_orders else 0,
        trigger_delay_s=round(rng.uniform(0.5, 5.0), 2),
        window_s=round(rng.uniform(1.0, 5.0), 2),
        book_scale=round(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.3), 2),
    )


def generate(
    count: int, campaign_seed: int, kinds: Sequence[FaultKind] = ALL_KINDS
) -> list[Scenario]:
    """`count` scenarios of a campaign, every kind in turn as the primary one."""
    if not kinds:
        raise ValueError("at least one fault kind is needed")
    return [draw(i, campaign_seed, kinds) for i in range(count)]
