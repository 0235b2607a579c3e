"""Exit statuses: every way the daemon stops has a name, a status and one line on stderr.

Owns `ExitStatus` (the documented statuses, from BSD ``sysexits.h`` where one fits) and
`classify`, the one mapping from a typed failure to its status and line prefix. The CLI prints
the line and exits; docs/operator.md lists them and which ones systemd must not restart
(``RestartPreventExitStatus=69 74 77 78`` in deploy/systemd).
"""

from __future__ import annotations

import enum

from hedgebot.model.errors import (
    AlreadyRunning,
    AuthenticationFailed,
    BadVenueData,
    ConfigError,
    StateUnusable,
    TaskDied,
    TransientVenueError,
    VenueError,
)


class ExitStatus(enum.IntEnum):
    """The documented exit statuses of ``hedgebot``."""

    OK = 0
    """Stopped as asked (SIGTERM, SIGINT, SIGHUP, ``--duration``)."""
    FAILED = 1
    """A client command (status, halt, resume, flatten-hedges) failed for another reason."""
    BAD_DATA = 65
    """A venue sent data hedgebot cannot use at start-up (EX_DATAERR)."""
    ALREADY_RUNNING = 69
    """Another hedgebot holds the state directory, or took the journal over (EX_UNAVAILABLE)."""
    INTERNAL = 70
    """A bug, or a long-lived task died (EX_SOFTWARE): restarted through the start-up gates."""
    CANT_CREATE = 73
    """``hedgebot init``: the file exists or cannot be created (EX_CANTCREAT)."""
    STATE_UNUSABLE = 74
    """Journal corrupt, from a newer release, read-only, or a write failed: disk full (EX_IOERR)."""
    VENUE_UNAVAILABLE = 75
    """A venue could not be reached at start-up (EX_TEMPFAIL): worth a restart later."""
    CREDENTIALS = 77
    """Credentials missing, refused or revoked (EX_NOPERM)."""
    CONFIG = 78
    """The configuration or environment is invalid (EX_CONFIG)."""
    INTERRUPTED = 130
    """Ctrl-C while a one-shot command ran."""


NOT_RESTARTED = (
    ExitStatus.ALREADY_RUNNING,
    ExitStatus.STATE_UNUSABLE,
    ExitStatus.CREDENTIALS,
    ExitStatus.CONFIG,
)
"""Statuses a service manager must not restart on: a restart would fail the same way."""


def classify(error: BaseException) -> tuple[ExitStatus, str]:
    """The exit status of a failure and the prefix of its one line."""
    if isinstance(error, ConfigError):
        return ExitStatus.CONFIG, "config error"
    if isinstance(error, AuthenticationFailed):
        return ExitStatus.CREDENTIALS, "credentials refused"
    if isinstance(error, AlreadyRunning):
        return ExitStatus.ALREADY_RUNNING, "already running"
    if isinstance(error, StateUnusable):
        return ExitStatus.STATE_UNUSABLE, "state unusable"
    if isinstance(error, BadVenueData):
        return ExitStatus.BAD_DATA, "bad venue data"
    if isinstance(error, TransientVenueError | VenueError):
        return ExitStatus.VENUE_UNAVAILABLE, "venue unavailable"
    if isinstance(error, TaskDied):
        return ExitStatus.INTERNAL, "task died"
    if isinstance(error, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED, "interrupted"
    return ExitStatus.INTERNAL, f"internal error ({type(error).__name__})"
