"""Test helper: a real aiohttp webhook receiver on 127.0.0.1 that apprise's `json://` posts to.

Records every JSON body it receives, can answer the first N posts with an error status (a flaky
channel), and lets a test await "n messages arrived" instead of sleeping. Also provides a port
on which nothing listens (a dead channel).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import web


class WebhookReceiver:
    """Collects JSON posts; `fail_first` posts are answered 503 and not recorded as accepted."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.posts = 0
        self._fail_first = fail_first
        self._changed = asyncio.Condition()
        self.port = 0

    def url(self, path: str = "hook/secret-token-123") -> str:
        """The apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._changed:
            self.posts += 1
            failing = self.posts <= self._fail_first
            if not failing:
                self.accepted.append(body)
            self._changed.notify_all()
        return web.Response(status=503 if failing else 200, text="ok")

    async def wait_for(self, *, accepted: int = 0, posts: int = 0, timeout_s: float = 5.0) -> None:
        """Return once at least `accepted` bodies were kept and `posts` posts arrived."""

        def done() -> bool:
            return len(self.accepted) >= accepted and self.posts >= posts

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout_s)

    def titles(self) -> list[str]:
        return [str(body["title"]) for body in self.accepted]


@asynccontextmanager
async def running_receiver(receiver: WebhookReceiver) -> AsyncIterator[WebhookReceiver]:
    """Serve `receiver` on an ephemeral 127.0.0.1 port for the duration of the block."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = int(runner.addresses[0][1])
    try:
        yield receiver
    finally:
        await runner.cleanup()


@contextmanager
def dead_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound but not listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
