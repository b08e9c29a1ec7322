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

from rapidfuzz import fuzz, process

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


def contains_pattern(term: str) -> str:
    """A LIKE pattern (escape character `\\`) for text containing `term` taken literally."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def match_key(name: str | None) -> str:
    """The normalised name of the duplicate rule: no accents, no punctuation, no noise words."""
    words = _NOT_WORD.sub(" ", fold(name)).split()
    text = " ".join(words)
    for noise in _NOISE:
        text = re.sub(rf"(^| ){noise}( |$)", " ", text)
    return " ".join(text.split())


def _sorted_tokens(key: str) -> str:
    return " ".join(sorted(key.split()))


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
    stored_key: str | None = None  # the institution's `match_key` column, when read from the database
    stored_city_key: str | None = None  # its `city_key` column

    @property
    def key(self) -> str:
        return self.stored_key if self.stored_key is not None else match_key(self.name)

    @property
    def city_key(self) -> str:
        return self.stored_city_key if self.stored_city_key is not None else fold(self.city)


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
        # Per city, the keys and their candidates side by side: rapidfuzz scores the keys in C.
        self._city_keys: dict[str, list[str]] = defaultdict(list)
        self._city_candidates: dict[str, list[Candidate]] = defaultdict(list)
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
            city = candidate.city_key
            self._city_keys[city].append(_sorted_tokens(key))
            self._city_candidates[city].append(candidate)

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
            city = candidate.city_key
            # Scored in C with a cutoff, best first; identifiers are compared only for close names.
            # token_sort_ratio = ratio of the sorted tokens, sorted once per key rather than per pair.
            close = process.extract(_sorted_tokens(key), self._city_keys.get(city, []), scorer=fuzz.ratio,
                                    score_cutoff=FUZZY_THRESHOLD, limit=None)
            for _key, _score, position in close:
                found = self._city_candidates[city][position]
                if found.ref != candidate.ref and not _conflicting_identifiers(candidate, found):
                    return Match(found.ref, found.name, MatchRule.FUZZY_NAME_CITY)
        return None
