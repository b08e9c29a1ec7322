"""Text keys and the duplicate rules of DOMAIN.md ("Duplicates"), shared by create, API and import.

Rules, first hit wins: accounting number; FINESS; SIRET; normalised name plus the same postal
code; fuzzy name (similarity ≥ 0.85) in the same city. Name rules never match two records whose
FINESS, SIRET or accounting numbers are both present and different.

Two readings where DOMAIN.md is silent, so that importing a file twice creates nothing new whatever
its rows hold: a name made only of noise words ("CHU", "Clinique") keeps them as its key rather than
having none; and two records with the same key and neither a postal code nor a city on either side
match (the rule of the same postal code, both being absent), since nothing tells them apart.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from crm_app.platform.i18n import N_
from crm_app.platform.text import fold

FUZZY_THRESHOLD = 85.0
_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Longest first: "centre hospitalier universitaire" before "centre hospitalier" before "ch".
_NOISE = (
    "centre hospitalier universitaire",
    "centre hospitalier regional",
    "centre hospitalier",
    "hopital",
    "hopitaux",
    "clinique",
    "chu",
    "chr",
    "ch",
)
_NOISE_PATTERNS = tuple((noise, re.compile(rf"(^| ){noise}( |$)")) for noise in _NOISE)


def match_key(name: str | None) -> str:
    """The normalised name of the duplicate rule: no accents, no punctuation, no noise words (unless
    the name is nothing else: "CHU" stays "chu"). Empty only for a name without a letter or digit."""
    words = _NOT_WORD.sub(" ", fold(name)).split()
    text = whole = " ".join(words)
    for noise, pattern in _NOISE_PATTERNS:
        if noise in text:  # else the pattern cannot match
            text = pattern.sub(" ", text)
    return " ".join(text.split()) or whole


def _sorted_tokens(key: str) -> str:
    return " ".join(sorted(key.split()))


class MatchRule(StrEnum):
    ACCOUNTING_NUMBER = "accounting_number"
    FINESS = "finess"
    SIRET = "siret"
    NAME_POSTAL_CODE = "name_postal_code"
    NAME_NO_PLACE = "name_no_place"
    FUZZY_NAME_CITY = "fuzzy_name_city"


RULE_LABELS: dict[MatchRule, str] = {
    MatchRule.ACCOUNTING_NUMBER: N_("Same accounting number"),
    MatchRule.FINESS: N_("Same FINESS"),
    MatchRule.SIRET: N_("Same SIRET"),
    MatchRule.NAME_POSTAL_CODE: N_("Same name and postal code"),
    MatchRule.NAME_NO_PLACE: N_("Same name, and neither has a postal code or a city"),
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

    @property
    def placeless(self) -> bool:
        """Neither a postal code nor a city: only the NAME_NO_PLACE rule can match it by name."""
        return not self.postal_code and not self.city_key


@dataclass(frozen=True, slots=True)
class Match:
    ref: uuid.UUID | int
    name: str
    rule: MatchRule


def _conflicting_identifiers(a: Candidate, b: Candidate) -> bool:
    return bool(
        (a.finess and b.finess and a.finess != b.finess)
        or (a.siret and b.siret and a.siret != b.siret)
        or (a.accounting_number and b.accounting_number and a.accounting_number != b.accounting_number)
    )


@dataclass(slots=True)
class _Bucket:
    keys: list[str]
    candidates: list[Candidate]
    ranks: list[int]


def _reachable_lengths(length: int) -> range:
    """The lengths of the keys that can score FUZZY_THRESHOLD against a key of `length` characters:
    `fuzz.ratio` is 2 × common / (sum of the lengths), and common ≤ the shorter length (with a margin
    of one character each side against rounding)."""
    share = FUZZY_THRESHOLD / 100
    return range(max(1, math.floor(length * share / (2 - share)) - 1), math.ceil(length * (2 - share) / share) + 2)


_NUMBER = re.compile(r"\d+")


def _numbers(key: str) -> tuple[int, ...]:
    """The numbers in a name, in any order: "Clinique du Parc 12" and "Clinique du Parc 13" are two
    clinics however close the rest of their names (a fuzzy score reads "12" and "13" as one letter
    apart), while "Centre 2" and "Centre 02" are one."""
    return tuple(sorted(int(number) for number in _NUMBER.findall(key)))


class DuplicateIndex:
    """The rules over a set of known institutions, in memory, for one create or a whole import."""

    def __init__(self, known: Iterable[Candidate] = ()) -> None:
        self._by_accounting: dict[str, Candidate] = {}
        self._by_finess: dict[str, Candidate] = {}
        self._by_siret: dict[str, Candidate] = {}
        self._by_name_postal: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
        self._by_name_no_place: dict[str, list[Candidate]] = defaultdict(list)
        # Per city and numbers in the name, then per length of the sorted key, the keys, their candidates
        # and their rank in the city (the order they were added in): rapidfuzz scores the keys in C, and
        # only keys that can match are scored at all: the same numbers ("Clinique du Parc 12" is never
        # compared with the 4,999 other clinics "du Parc" of a generated file: a file of such rows in one
        # city took a time quadratic in its rows), a length that can reach the threshold.
        self._city: dict[tuple[str, tuple[int, ...]], dict[int, _Bucket]] = defaultdict(dict)
        self._city_sizes: dict[str, int] = defaultdict(int)
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
        if key and candidate.placeless:
            self._by_name_no_place[key].append(candidate)
        if key and candidate.city:
            city = candidate.city_key
            sorted_key = _sorted_tokens(key)
            buckets = self._city[(city, _numbers(key))]
            bucket = buckets.get(len(sorted_key))
            if bucket is None:
                bucket = buckets[len(sorted_key)] = _Bucket([], [], [])
            bucket.keys.append(sorted_key)
            bucket.candidates.append(candidate)
            bucket.ranks.append(self._city_sizes[city])
            self._city_sizes[city] += 1

    def _close_names(self, key: str, city: str) -> list[Candidate]:
        """The candidates of the city with the same numbers in their name whose sorted key scores at least
        FUZZY_THRESHOLD, best first (ties: the first added first), as one `process.extract` over all those
        keys would list them."""
        buckets = self._city.get((city, _numbers(key)))
        if not buckets:
            return []
        query = _sorted_tokens(key)
        found: list[tuple[float, int, Candidate]] = []
        for length in _reachable_lengths(len(query)):
            bucket = buckets.get(length)
            if bucket is None:
                continue
            for _key, score, position in process.extract(
                query, bucket.keys, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD, limit=None
            ):
                found.append((-score, bucket.ranks[position], bucket.candidates[position]))
        found.sort(key=lambda item: (item[0], item[1]))
        return [candidate for _score, _rank, candidate in found]

    def match(self, candidate: Candidate) -> Match | None:
        """The first rule that matches, or None."""
        for rule, table, value in (
            (MatchRule.ACCOUNTING_NUMBER, self._by_accounting, candidate.accounting_number),
            (MatchRule.FINESS, self._by_finess, candidate.finess),
            (MatchRule.SIRET, self._by_siret, candidate.siret),
        ):
            if value and (found := table.get(value)) is not None and found.ref != candidate.ref:
                return Match(found.ref, found.name, rule)
        key = candidate.key
        if not key:
            return None
        if candidate.postal_code:
            for found in self._by_name_postal.get((key, candidate.postal_code), ()):
                if found.ref != candidate.ref and not _conflicting_identifiers(candidate, found):
                    return Match(found.ref, found.name, MatchRule.NAME_POSTAL_CODE)
        elif candidate.placeless:
            for found in self._by_name_no_place.get(key, ()):
                if found.ref != candidate.ref and not _conflicting_identifiers(candidate, found):
                    return Match(found.ref, found.name, MatchRule.NAME_NO_PLACE)
        if candidate.city:
            # Identifiers are compared only for close names (with the same numbers).
            for found in self._close_names(key, candidate.city_key):
                if found.ref != candidate.ref and not _conflicting_identifiers(candidate, found):
                    return Match(found.ref, found.name, MatchRule.FUZZY_NAME_CITY)
        return None
