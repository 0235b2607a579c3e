"""Price paths of the local exchanges.

Owns `PricePath`: the index price of each underlying at a given wall-clock time. Either a seeded
geometric random walk (a standalone `hedgebot exchange-sim --venue ...`), or an external source
such as the local Deribit exchange's index times ``1 + basis`` (two local venues quoting the same
market with a known basis between them, the cross-venue case).

It must not know any venue's wire format.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

DEFAULT_SPOTS: Mapping[str, float] = {"BTC": 60_000.0, "ETH": 3_000.0}
"""Starting index of the random walk per base asset."""


class PricePath:
    """The index of each underlying, stepped on demand (deterministic for a seed)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        spots: Mapping[str, float] = DEFAULT_SPOTS,
        vol: float = 0.5,
        step_s: float = 1.0,
        source: Callable[[str], float | None] | None = None,
        basis: float = 0.0,
    ) -> None:
        self._rng = random.Random(seed)
        self._spots = dict(spots)
        self._vol = vol
        self._step_s = step_s
        self._source = source
        self.basis = basis
        """Fractional premium of this venue over the source (0.0005 = 5 bp above)."""
        self._last_step_ms: int | None = None

    def advance(self, now_ms: int) -> None:
        """Step the random walk up to `now_ms` (no-op with an external source)."""
        if self._source is not None:
            return
        if self._last_step_ms is None:
            self._last_step_ms = now_ms
            return
        steps = int((now_ms - self._last_step_ms) / (self._step_s * 1000))
        if steps <= 0:
            return
        self._last_step_ms += int(steps * self._step_s * 1000)
        sigma = self._vol * math.sqrt(self._step_s / (365.0 * 86400.0))
        for _ in range(min(steps, 1000)):
            for asset, spot in self._spots.items():
                shock = self._rng.gauss(0.0, 1.0)
                self._spots[asset] = spot * math.exp(sigma * shock - 0.5 * sigma * sigma)

    def index(self, asset: str) -> float | None:
        """This venue's index of `asset` (None when unknown)."""
        if self._source is not None:
            value = self._source(asset)
            return None if value is None else value * (1.0 + self.basis)
        spot = self._spots.get(asset)
        return None if spot is None else spot * (1.0 + self.basis)
