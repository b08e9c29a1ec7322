"""One page of a list: the shape every list service returns and every list API sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

PAGE_SIZES = (25, 50, 100)
MAX_PAGE_SIZE = 100
#: No list is that long: a page beyond it is refused by the API and clamped elsewhere, so that its
#: OFFSET, (page - 1) × page size, stays far inside PostgreSQL's integers.
MAX_PAGE = 1_000_000


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
