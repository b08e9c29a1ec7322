"""Text keys and the duplicate rules of DOMAIN.md ("Duplicates"), shared by create, API and import.

Rules, first hit wins: accounting number; FINESS; SIRET; normalised name plus the same postal
code; fuzzy name (similarity ≥ 0.85) in the same city. Name rules never match two records whose
FINESS, SIRET or accounting numbers are both present and different.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from ..i18n import N_

FUZZY_THRESHOLD = 85.0
_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Longest first: "centre hospitalier universitaire" before "centre hospitalier" before "ch".
_NOISE = ("centre hospitalier universitaire", "centre hospitalier regional", "centre hospitalier",
          "hopital", "hopitaux", "clinique", "chu", "chr", "ch")


def fold(text: str | None) -> str:
    """Lower case without accents, spaces collapsed: how the search and the sort keys see text."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().replace("œ", "oe").replace("æ", "ae").split())


def match_key(name: str | None) -> str:
    """The normalised name of the duplicate rule: no accents, no punctuation, no noise words."""
    words = _NOT_WORD.sub(" ", fold(name)).split()
    text = " ".join(words)
    for noise in _NOISE:
        text = re.sub(rf"(^| ){noise}( |$)", " ", text)
    return " ".join(text.split())


class MatchRule(StrEnum):
    ACCOUNTING_NUMBER = "accounting_number"
    FINESS = "finess"
    SIRET = "siret"
    NAME_POSTAL_CODE = "name_postal_code"
    FUZZY_NAME_CITY = "fuzzy_name_city"


RULE_LABELS: dict[MatchRule, str] = {
    MatchRule.ACCOUNTING_NUMBER: N_("Same accounting number"),
    MatchRule.FINESS: N_("Same FINESS"),
    MatchRule.SIRET: N_("Same SIRET"),
    MatchRule.NAME_POSTAL_CODE: N_("Same name and postal code"),
    MatchRule.FUZZY_NAME_CITY: N_("Similar name in the same city"),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the rules look at: an institution in the database or a row of a file."""

    ref: uuid.UUID | int  # a database id, or a row number for rows of a file
    name: str
    postal_code: str | None = None
    city: str | None = None
    finess: str | None = None
    siret: str | None = None
    accounting_number: str | None = None

    @property
    def key(self) -> str:
        return match_key(self.name)


@dataclass(frozen=True, slots=True)
class Match:
    ref: uuid.UUID | int
    name: str
    rule: MatchRule


def _conflicting_identifiers(a: Candidate, b: Candidate) -> bool:
    pairs = ((a.finess, b.finess), (a.siret, b.siret), (a.accounting_number, b.accounting_number))
    return any(x and y and x != y for x, y in pairs)


class DuplicateIndex:
    """The rules over a set of known institutions, in memory, for one create or a whole import."""

    def __init__(self, known: Iterable[Candidate] = ()) -> None:
        self._by_accounting: dict[str, Candidate] = {}
        self._by_finess: dict[str, Candidate] = {}
        self._by_siret: dict[str, Candidate] = {}
        self._by_name_postal: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
        self._by_city: dict[str, list[tuple[str, Candidate]]] = defaultdict(list)
        for candidate in known:
            self.add(candidate)

    def add(self, candidate: Candidate) -> None:
        if candidate.accounting_number:
            self._by_accounting.setdefault(candidate.accounting_number, candidate)
        if candidate.finess:
            self._by_finess.setdefault(candidate.finess, candidate)
        if candidate.siret:
            self._by_siret.setdefault(candidate.siret, candidate)
        key = candidate.key
        if key and candidate.postal_code:
            self._by_name_postal[(key, candidate.postal_code)].append(candidate)
        if key and candidate.city:
            self._by_city[fold(candidate.city)].append((key, candidate))

    def match(self, candidate: Candidate) -> Match | None:
        """The first rule that matches, or None."""
        for rule, table, value in ((MatchRule.ACCOUNTING_NUMBER, self._by_accounting, candidate.accounting_number),
                                   (MatchRule.FINESS, self._by_finess, candidate.finess),
                                   (MatchRule.SIRET, self._by_siret, candidate.siret)):
            if value and (found := table.get(value)) is not None and found.ref != candidate.ref:
                return Match(found.ref, found.name, rule)
        key = candidate.key
        if not key:
            return None
        if candidate.postal_code:
            for found in self._by_name_postal.get((key, candidate.postal_code), ()):
                if found.ref != candidate.ref and not _conflicting_identifiers(candidate, found):
                    return Match(found.ref, found.name, MatchRule.NAME_POSTAL_CODE)
        if candidate.city:
            best: tuple[float, Candidate] | None = None
            for other_key, found in self._by_city.get(fold(candidate.city), ()):
                # Score first (cheap, with a cutoff): identifiers are compared only for close names.
                score = fuzz.token_sort_ratio(key, other_key, score_cutoff=FUZZY_THRESHOLD)
                if not score or (best is not None and score <= best[0]):
                    continue
                if found.ref == candidate.ref or _conflicting_identifiers(candidate, found):
                    continue
                best = (score, found)
            if best is not None:
                return Match(best[1].ref, best[1].name, MatchRule.FUZZY_NAME_CITY)
        return None
