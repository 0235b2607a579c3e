"""The book of the local Deribit exchange: listed symbols, accounts, API keys and seeded positions.

Owns `SimBook` (validated, frozen) and `load_book` (a TOML file), plus the built-in default book
used when none is given. Example::

    start = 2026-01-05T00:00:00Z      # optional: simulated start (default: the sim's start)
    step_seconds = 1.0                # optional: price grid of the synthetic market
    latency_ms = 50                   # optional: order activation latency of the matching engine
    symbols = ["BTC-PERPETUAL", "BTC-27MAR26", "BTC-27MAR26-70000-C"]

    [accounts.main]
    api_key = "sim-main"
    api_secret = "sim-main-secret"    # a local test key: never a real venue's
    collateral = { BTC = 10.0 }
    positions = [{ symbol = "BTC-27MAR26-70000-C", amount = 20.0, price = 0.02 }]

Keys in this file are the simulator's own test credentials; hedgebot's real secrets never live
in TOML (`hedgebot.config`). It must not start anything.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from hedgebot.model.errors import ConfigError
from hedgebot_localvenues.deribit.auth import ApiCredentials


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedPosition(_Model):
    """A starting position: signed amount in the instrument's unit, average price."""

    symbol: str
    amount: float
    price: float = Field(default=0.0, ge=0)


class SimAccount(_Model):
    """One account: its API key pair, collateral and positions."""

    api_key: str = Field(min_length=1)
    api_secret: SecretStr
    collateral: dict[str, float] = Field(default_factory=dict)
    positions: list[SeedPosition] = Field(default_factory=list)


class SimBook(_Model):
    """Everything the local exchange lists and holds at start."""

    symbols: list[str] = Field(min_length=1)
    accounts: dict[str, SimAccount] = Field(min_length=1)
    start: dt.datetime | None = None
    step_seconds: float | None = Field(default=None, gt=0)
    latency_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> SimBook:
        keys = [a.api_key for a in self.accounts.values()]
        if len(set(keys)) != len(keys):
            raise ValueError("two accounts share an api_key")
        for name, account in self.accounts.items():
            for position in account.positions:
                if position.symbol not in self.symbols:
                    raise ValueError(
                        f"accounts.{name}: position in {position.symbol!r}, which is not listed"
                    )
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start must carry a time zone (e.g. 2026-01-05T00:00:00Z)")
        return self

    @property
    def start_ms(self) -> int | None:
        """The simulated start in epoch milliseconds, if set."""
        return None if self.start is None else int(self.start.timestamp() * 1000)

    def credentials(self) -> list[ApiCredentials]:
        """The API key pairs, one per account."""
        return [
            ApiCredentials(account=name, api_key=a.api_key, api_secret=a.api_secret)
            for name, a in self.accounts.items()
        ]


DEFAULT_BOOK = SimBook(
    symbols=[
        "BTC-PERPETUAL",
        "BTC-27MAR26",
        "BTC-27MAR26-50000-P",
        "BTC-27MAR26-60000-C",
        "BTC-27MAR26-70000-C",
        "ETH-PERPETUAL",
        "ETH-27MAR26-3000-C",
        "BTC_USDC-PERPETUAL",
    ],
    accounts={
        "main": SimAccount(
            api_key="sim-main",
            api_secret=SecretStr("sim-main-secret"),
            collateral={"BTC": 10.0, "ETH": 100.0, "USDC": 100_000.0},
            positions=[
                SeedPosition(symbol="BTC-27MAR26-60000-C", amount=20.0, price=0.06),
                SeedPosition(symbol="ETH-27MAR26-3000-C", amount=100.0, price=0.08),
            ],
        ),
        "alt": SimAccount(
            api_key="sim-alt",
            api_secret=SecretStr("sim-alt-secret"),
            collateral={"BTC": 2.0},
        ),
    },
)
"""Listed when no book file is given: BTC and ETH options to hedge, perpetuals to hedge with."""


def load_book(path: Path) -> SimBook:
    """Read and validate a book file; one-line ConfigError on any problem."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: book file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return SimBook.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "book"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def last_friday(year: int, month: int) -> dt.date:
    """The last Friday of a month: Deribit's monthly and quarterly expiry day."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    last = first_next - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - 4) % 7)


def _expiry_after(now: dt.datetime, *, days: int, months: tuple[int, ...]) -> str:
    """Deribit code of the first last-Friday expiry in `months` at least `days` after `now`."""
    year, month = now.year, now.month
    while True:
        day = last_friday(year, month)
        if month in months and (day - now.date()).days >= days:
            return f"{day.day}{day.strftime('%b').upper()}{day.year % 100:02d}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def live_book(now: dt.datetime) -> SimBook:
    """The book `hedgebot exchange-sim` serves by default: it starts at `now` (wall time, so a
    daemon on a real clock values its options correctly) with expiries derived from it — a
    monthly option expiry about a month out and a quarterly future — and the `main` account
    holding options and a dated future to hedge."""
    start = now.replace(microsecond=0)
    monthly = _expiry_after(start, days=21, months=tuple(range(1, 13)))
    quarterly = _expiry_after(start, days=45, months=(3, 6, 9, 12))
    btc_call, btc_put = f"BTC-{monthly}-60000-C", f"BTC-{monthly}-60000-P"
    eth_call = f"ETH-{monthly}-3000-C"
    return SimBook(
        start=start,
        symbols=[
            "BTC-PERPETUAL",
            f"BTC-{quarterly}",
            btc_call,
            btc_put,
            "ETH-PERPETUAL",
            eth_call,
        ],
        accounts={
            "main": SimAccount(
                api_key="sim-main",
                api_secret=SecretStr("sim-main-secret"),
                collateral={"BTC": 10.0, "ETH": 100.0},
                positions=[
                    SeedPosition(symbol=btc_call, amount=-5.0),
                    SeedPosition(symbol=btc_put, amount=-5.0),
                    SeedPosition(symbol=f"BTC-{quarterly}", amount=100_000.0),
                    SeedPosition(symbol=eth_call, amount=50.0),
                ],
            ),
            "alt": SimAccount(
                api_key="sim-alt",
                api_secret=SecretStr("sim-alt-secret"),
                collateral={"BTC": 2.0},
            ),
        },
    )
