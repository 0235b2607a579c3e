"""hedgebot's own exception types. Adapters translate venue errors (ccxt's) into these once.

The executor and the shell decide what to do from the class alone:

* `TransientVenueError`: retry reads and cancels with backoff; never retry a create.
* `OrderRejected`: the venue said no for good (insufficient funds, invalid order).
* `OrderNotPlaced`: the venue refused a create for a reason not about the order (rate limit).
* `OrderOutcomeUnknown`: a create may or may not have reached the venue; look it up by client id.
* `AuthenticationFailed`: credentials are wrong or lack permission; trading stops.
* `BadVenueData`: a payload was malformed or absurd; it is dropped, logged and alerted.
"""


class HedgebotError(Exception):
    """Base class of every error hedgebot raises on purpose."""


class ConfigError(HedgebotError):
    """The configuration is invalid. The CLI exits with status 78 (EX_CONFIG)."""


class VenueError(HedgebotError):
    """Something went wrong talking to a venue."""


class TransientVenueError(VenueError):
    """Network trouble, rate limiting or an unavailable venue: safe to retry reads and cancels."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderRejected(VenueError):
    """The venue refused the order definitively."""


class OrderNotPlaced(VenueError):
    """The venue answered a create with a refusal that is not about the order itself (rate
    limited): it was definitely not placed, and may be decided again after the cooldown."""


class OrderOutcomeUnknown(VenueError):
    """A create did not get a definite answer: the order may exist. Never resend blindly."""


class AuthenticationFailed(VenueError):
    """Credentials are missing, wrong or lack a needed permission."""


class BadVenueData(VenueError):
    """A venue payload was malformed, missing fields, or held absurd values."""


class StateUnusable(HedgebotError):
    """The state directory or its journal cannot be used: corrupt, from a newer release,
    read-only, or a write failed (disk full). Nothing was modified; trading stops."""


class AlreadyRunning(HedgebotError):
    """Another hedgebot holds this state directory's instance lock, or took over the journal
    (a newer fencing epoch): this process must not trade."""


class TaskDied(HedgebotError):
    """A long-lived task (a stream, the alert sender) ended unexpectedly; trading stopped."""
