"""The header's global search: the registry of what it searches, and the search itself.

Each area declares the kinds of records it lets the header find as `SEARCH_SOURCES` (institutions and
contacts, quotes, invoices and credit notes...), and `crm_app.bootstrap` registers them, in the order
their groups show. A source's `find` answers the few best records of its kind for a folded term, limited
in SQL to the records the actor could open (the record's own read scope) and read off indexes:

    def find_quotes(session, actor, term, limit):
        rows = fetch_all(session, sa.select(q.id, q.number, i.name).where(visible_condition(actor),
                                            q.number.ilike(contains_pattern(term), escape="\\\\")).limit(limit))
        return [Found(row.id, row.number, row.name) for row in rows]
    SEARCH_SOURCES = (SearchSource("quote", N_("Quotes"), "request_quote", find_quotes, link="/quotes/{id}",
                                   see_all="/quotes?q={q}", action="record.view"),)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlmodel import Session

from crm_app.platform.permissions import Actor, Scope, scope_for
from crm_app.platform.text import fold

MIN_LENGTH = 2  # fewer characters find too much to be of use
PER_SOURCE = 5  # results shown per kind


@dataclass(frozen=True, slots=True)
class Found:
    """One record a source found: its id and what the result shows of it; `status` is a message id
    (`N_`, `NP_`), translated where shown."""

    id: uuid.UUID
    title: str
    subtitle: str = ""
    status: str | None = None


#: `find(session, actor, term, limit)` → at most `limit` records, best first, that the actor may open;
#: `term` is folded (`crm_app.platform.text.fold`) and at least `MIN_LENGTH` long.
Finder = Callable[[Session, Actor, str, int], Sequence[Found]]


@dataclass(frozen=True)
class SearchSource:
    """One kind of record the header finds, as an area declares it (`SEARCH_SOURCES`).

    `label` is the group's heading (a message id, translated where shown), `icon` a Material icon name,
    `link` the record's page (`{id}` its id), `see_all` the list filtered by the text (`{q}` the text as
    typed) when the list has a text filter, `action` the right to see the kind at all."""

    kind: str
    label: str
    icon: str
    find: Finder
    link: str
    see_all: str | None = None
    action: str = "record.view"


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: str
    id: uuid.UUID
    title: str
    subtitle: str
    status: str | None
    link: str


@dataclass(frozen=True, slots=True)
class SearchGroup:
    """The results of one kind: its heading, its first hits, and the filtered list when it has more."""

    kind: str
    label: str
    icon: str
    hits: list[SearchHit]
    see_all: str | None


_SOURCES: dict[str, SearchSource] = {}


def register_sources(*sources: SearchSource) -> None:
    """Add (or replace) the source of each kind; groups show in the order of their first registration."""
    for source in sources:
        _SOURCES[source.kind] = source


def source_kinds() -> list[str]:
    return list(_SOURCES)


def search_everything(session: Session, actor: Actor, q: str, *, limit: int = PER_SOURCE) -> list[SearchGroup]:
    """The first `limit` matches of each kind the actor may see, grouped by kind (kinds without any left
    out). A group links to its filtered list when it has more than it shows."""
    term = fold(q)
    if len(term) < MIN_LENGTH:
        return []
    groups = []
    for source in _SOURCES.values():
        if scope_for(actor, source.action) is Scope.NONE:
            continue
        found = list(source.find(session, actor, term, limit + 1))
        if not found:
            continue
        hits = [
            SearchHit(source.kind, row.id, row.title, row.subtitle, row.status, source.link.format(id=row.id))
            for row in found[:limit]
        ]
        more = len(found) > limit
        see_all = source.see_all.format(q=quote(q.strip(), safe="")) if more and source.see_all else None
        groups.append(SearchGroup(source.kind, source.label, source.icon, hits, see_all))
    return groups
