"""An ASGI wrapper that notes when each request arrived and when it was answered."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import Receive, Scope, Send


class Arrivals:
    """ASGI wrapper noting when each request arrived and what it was answered (and when)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log: list[tuple[float, str, str, int]] = []
        self.answered: dict[int, float] = {}  # log index -> when the answer started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        status = [0]
        answered = [arrived]

        async def note(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                answered[0] = time.monotonic()
            await send(message)

        await self.app(scope, receive, note)
        self.answered[len(self.log)] = answered[0]
        self.log.append((arrived, scope["method"], scope["path"], status[0]))

    def sent_during_the_pause(self, pause: float) -> list[tuple[str, str]]:
        """Requests that arrived within ``pause`` seconds after the one 429 was answered.

        The pause can start only once the 429 is answered: requests sent while the limited
        one was still being processed are not "during" it.
        """
        limited_at = [self.answered[i] for i, e in enumerate(self.log) if e[3] == 429]
        assert len(limited_at) == 1, f"expected one 429, saw {len(limited_at)}"
        start = limited_at[0] + 0.01
        return [(method, path) for t, method, path, _ in self.log if start < t < start + pause]
