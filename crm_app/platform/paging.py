"""One page of a list: the shape every list service returns and every list API sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

PAGE_SIZES = (25, 50, 100)
MAX_PAGE_SIZE = 100
#: No list is that long: a page beyond it is refused by the API and clamped elsewhere, so that its
#: OFFSET, (page - 1) × page size, stays far inside PostgreSQL's integers.
MAX_PAGE = 1_000_000
#: A list counts its matches exactly up to this many (a walk of at most that many index entries: about
#: 4 ms on the benchmark machine, what counting every institution costs at 100,000). A longer list gives
#: PostgreSQL's estimate of its length instead, and says so (`PageOfLongList.total_exact`): never a full count of
#: a million rows per request.
EXACT_COUNT_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = 25

    def __post_init__(self) -> None:
        object.__setattr__(self, "page", min(MAX_PAGE, max(1, int(self.page))))
        object.__setattr__(self, "page_size", min(MAX_PAGE_SIZE, max(1, int(self.page_size))))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 25


@dataclass(frozen=True, slots=True)
class PageOfLongList(Page[T]):
    """A page of a list too long, at times, to count exactly (the institutions)."""

    #: False when `total` is an estimate: the list holds more than EXACT_COUNT_LIMIT rows (`total` is
    #: then never below EXACT_COUNT_LIMIT + 1: see `estimated_total`).
    total_exact: bool = True


@dataclass(frozen=True, slots=True)
class Total:
    """How many rows a list holds: counted, or estimated beyond EXACT_COUNT_LIMIT."""

    value: int
    exact: bool = True


def estimated_total(counted: int, estimate: Callable[[], int]) -> Total:
    """The total of a list whose capped count found `counted` rows (at most EXACT_COUNT_LIMIT + 1): exact
    when the count did not reach the cap; otherwise the planner's `estimate()` (asked only then), but
    never below what was counted."""
    if counted <= EXACT_COUNT_LIMIT:
        return Total(counted)
    return Total(max(counted, estimate()), exact=False)
