"""Short-lived memory of expensive answers that change slowly (list totals, filter vocabularies).

Each instance of the app keeps its own; a write through this instance clears it at once, and
writes through other instances show after `ttl` seconds at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")


class TimedCache(Generic[T]):
    def __init__(self, ttl: float, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, int, T]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._fresh(key, now)
            generation = self._generation
            if entry is not None:
                return entry[2]
        value = compute()  # outside the lock: a slow query must not hold other requests
        with self._lock:
            if self._generation == generation:  # nothing was written meanwhile
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (now + self.ttl, generation, value)
        return value

    def peek(self, key: Hashable) -> T | None:
        """The value kept for `key` if still fresh, else None, without computing it: for a caller on the
        event loop, where `get`'s query must not run."""
        with self._lock:
            entry = self._fresh(key, time.monotonic())
            return None if entry is None else entry[2]

    def _fresh(self, key: Hashable, now: float) -> tuple[float, int, T] | None:
        """The entry of `key` unless it expired or a write came after it (the lock held)."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry[0] > now and entry[1] == self._generation else None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


_CACHES: list[TimedCache[object]] = []


def register(cache: TimedCache[T]) -> TimedCache[T]:
    """Caches listed here are forgotten when a unit of work that changed records commits."""
    _CACHES.append(cache)  # type: ignore[arg-type]
    return cache


def forget_all() -> None:
    """Empty every registered cache (after a change made outside the services)."""
    for cache in _CACHES:
        cache.invalidate()


def mark_changed(session: Session) -> None:
    """Say that this unit of work changes records that the caches summarise."""
    session.info["records_changed"] = True


def may_use(session: Session) -> bool:
    """A unit of work that changed records sees them before others do: it must not read nor fill
    the shared caches."""
    return not session.info.get("records_changed", False)


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    # After the commit, not before: a reader in between would otherwise cache the old answer.
    if session.in_nested_transaction():
        return  # a SAVEPOINT released (SQLAlchemy reports it as a commit): nothing is committed yet
    if session.info.pop("records_changed", False):
        forget_all()


@event.listens_for(Session, "after_rollback")
def _keep_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():  # a SAVEPOINT rolled back leaves the transaction's changes
        session.info.pop("records_changed", None)
