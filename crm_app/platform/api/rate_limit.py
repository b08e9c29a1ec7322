"""The rate limit of the REST API as a dependency of its router (crm_app/bootstrap.py): only /api/...
requests are counted, never the pages, their websocket or the static files."""

from __future__ import annotations

import functools
import hashlib

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from crm_app.platform import rate_limit
from crm_app.platform.config import get_settings
from crm_app.platform.errors import RateLimited


def buckets_of(request: Request) -> list[str]:
    """What a request counts against: its client address, and its bearer token when it has one (the
    SHA-256 of the token, never the token itself: personal API tokens are stored under the same hash)."""
    buckets = [f"ip:{request.client.host if request.client else 'unknown'}"]
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        buckets.append(_token_bucket(credential.strip()))
    return buckets


@functools.lru_cache(maxsize=4096)
def _token_bucket(credential: str) -> str:
    """A client sends the same token with every request: its hash is computed once (the tokens are
    checked elsewhere; this only names what is counted)."""
    return "token:" + hashlib.sha256(credential.encode()).hexdigest()


async def limit_rate(request: Request) -> None:
    """429 with `Retry-After` once a client address or a token has made more than
    API_RATE_LIMIT_PER_MINUTE requests in the current minute (0: no limit, and no cost)."""
    limit = get_settings().api_rate_limit_per_minute
    if limit <= 0:
        return
    buckets = buckets_of(request)
    # Most requests are served from this process's lease (a lock and a dict: no thread, no I/O); the
    # others reserve a new one with a statement, off the event loop.
    verdict = rate_limit.count_from_lease(buckets)
    if verdict is None:
        verdict = await run_in_threadpool(rate_limit.count, buckets, limit=limit)
    if not verdict.allowed:
        raise RateLimited(verdict.retry_after)
