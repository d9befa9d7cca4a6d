"""Limits on what one client may send: body size (413) and request rate (429).

Both are plain ASGI middleware, so they act before a body is parsed or a route runs.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import HTTP_CODES, error_response

# Probes and scrapers call these on a schedule; they must never be turned away.
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than the {max_bytes / 1e6:g} MB limit.")


class BodySizeLimit:
    """Refuse bodies over ``max_bytes``: by Content-Length up front, else while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await _refuse(scope, receive, send, too_large)
            return
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, too_large)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
    await error_response(scope, 413, str(exc.detail), HTTP_CODES[413])(scope, receive, send)


class TokenBuckets:
    """One token bucket per key: ``per_minute`` requests a minute, in bursts of up to as many.

    Remembers the ``max_keys`` most recently seen keys; a forgotten one starts with a full bucket.
    """

    def __init__(
        self, per_minute: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        tokens, then = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, and 127.x written as IPv6 (::ffff:127.0.0.1); a name is not."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


class RateLimit:
    """429 with ``Retry-After`` once a client IP is over ``per_minute`` (0 turns it off).

    Loopback clients are not limited unless ``limit_loopback``: a program on the same machine
    is the server's own user. Runs on the event loop only, so the buckets need no lock. Behind a
    reverse proxy on the same machine every client looks like loopback: let the server set the
    client from X-Forwarded-For (uvicorn ``--forwarded-allow-ips``), or set
    SOURCED_RATE_LIMIT_LOOPBACK.
    """

    def __init__(self, app: ASGIApp, per_minute: int, limit_loopback: bool = False) -> None:
        self.app = app
        self.per_minute = per_minute
        self.limit_loopback = limit_loopback
        self.buckets = TokenBuckets(per_minute) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else "unknown"
        if not self.limit_loopback and is_loopback(host):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(host)
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        detail = (
            f"Too many requests: the limit is {self.per_minute} a minute per client. "
            f"Retry in {seconds} s."
        )
        headers = {"Retry-After": str(seconds)}
        await error_response(scope, 429, detail, "rate_limited", headers)(scope, receive, send)
