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

    def sent_during_the_pause(self, pause: float, in_flight: float = 0.1) -> list[tuple[str, str]]:
        """Requests that arrived in the ``pause`` seconds after the one 429 was answered, less
        the first ``in_flight`` seconds.

        The pause can start only once the client has read the 429: requests it had already let
        go are on their way and arrive a few milliseconds later (up to 20 ms seen on a loaded
        machine), so they are not "during" it. A client that did not pause sends every 50-60 ms
        here, so the rest of the window still catches it.
        """
        limited_at = [self.answered[i] for i, e in enumerate(self.log) if e[3] == 429]
        assert len(limited_at) == 1, f"expected one 429, saw {len(limited_at)}"
        start, end = limited_at[0] + in_flight, limited_at[0] + pause
        return [(method, path) for t, method, path, _ in self.log if start < t < end]
