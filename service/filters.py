"""Filters on what a question may be answered from: a publication window and a set of sources.

A filter becomes a boolean mask over the chunks of a ``Snapshot``, which retrieval honours
(``HybridRetriever.search(..., allowed=mask)``). Documents without a ``published`` date are
outside every date window, and documents without a ``source`` outside every source filter: a
filter asks for evidence that it is met.

Usage::

    filters = Filters.parse("2022-01-01", "2022-01-07", sources=["cnn.com"])
    allowed = filters.mask(snapshot)  # np.ndarray[bool], one per chunk
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from index.cleaning import source_from_url
from index.errors import InvalidFilterError
from index.store import Snapshot
from service.questions import NOT_BLANK

NO_DATE = 0  # ``published`` ordinal of a document without a (readable) date; real ones are >= 1


def normalize_source(value: str) -> str:
    """The comparable form of a source: "https://www.CNN.com/x", "www.cnn.com" -> "cnn.com".

    Names that are not hosts ("Associated Press"), and urls without a host ("https://"), are
    only lower-cased and trimmed: they match nothing rather than fail. Only a blank is empty.
    """
    text = " ".join(value.split()).lower()
    if "://" in text or ("." in text and " " not in text):
        return source_from_url(text) or text
    return text


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: object, name: str) -> dt.date:
    """An ISO date (``YYYY-MM-DD``); ``name`` is the parameter, for the error message."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    try:
        if not ISO_DATE.fullmatch(text):  # fromisoformat alone takes "2022-W01-1" and "20220101"
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidFilterError(
            f"{name} is not a date: {str(value)[:40]!r}. Use an ISO date, YYYY-MM-DD "
            "(e.g. 2022-01-31)."
        ) from None


def source_key(value: object) -> str:
    """The normalised form of a source filter; ``InvalidFilterError`` when it names nothing."""
    if not isinstance(value, str) or not re.search(NOT_BLANK, value):
        raise InvalidFilterError(
            f"Empty source {str(value)[:60]!r}: name a publisher, e.g. 'cnn.com'."
        )
    return normalize_source(value)


@dataclass(frozen=True)
class Filters:
    """Which articles may be used: published in ``[published_from, published_to]`` (inclusive,
    either end open when None) and, when ``sources`` is not empty, from one of those sources.

    A source matches a document's ``source`` case-insensitively, after normalisation ("www."
    and a url's path are dropped), and also matches its subdomains: "cnn.com" takes
    "edition.cnn.com". Invalid values raise ``InvalidFilterError``.
    """

    published_from: dt.date | None = None
    published_to: dt.date | None = None
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # Frozen: normalised values are set through object.__setattr__, once, here.
        for name in ("published_from", "published_to"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_date(value, name))
        if self.published_from and self.published_to and self.published_from > self.published_to:
            raise InvalidFilterError(
                f"The date window is empty: from {self.published_from} is after to "
                f"{self.published_to}."
            )
        if isinstance(self.sources, str):  # a lone string would otherwise become its letters
            object.__setattr__(self, "sources", (self.sources,))
        normalized: list[str] = []
        for raw in self.sources:
            source = source_key(raw)
            if source not in normalized:
                normalized.append(source)
        object.__setattr__(self, "sources", tuple(normalized))

    @classmethod
    def parse(
        cls, published_from: str | dt.date | None = None, published_to: str | dt.date | None = None,
        sources: Iterable[str] = (),
    ) -> Filters:
        """Filters from user input (strings from a CLI or a query string); empty dates are unset."""
        start, end = (
            None if isinstance(value, str) and not value.strip() else value
            for value in (published_from, published_to)
        )
        return cls(start, end, tuple(sources))  # type: ignore[arg-type]  # __post_init__ parses

    @property
    def active(self) -> bool:
        return bool(self.published_from or self.published_to or self.sources)

    def describe(self) -> str:
        """For messages: "published 2022-01-01..2022-01-07, source cnn.com"."""
        parts = []
        start, end = self.published_from, self.published_to
        if start and end:
            parts.append(f"published {start}..{end}")
        elif start:
            parts.append(f"published {start} or later")
        elif end:
            parts.append(f"published {end} or earlier")
        if self.sources:
            label = "source" if len(self.sources) == 1 else "sources"
            parts.append(f"{label} {', '.join(self.sources)}")
        return ", ".join(parts) or "none"

    def mask(self, snapshot: Snapshot) -> np.ndarray:
        """One bool per chunk of ``snapshot``: True where the chunk's document passes."""
        facts = ChunkFacts.of(snapshot)
        keep = np.ones(len(facts.published), dtype=bool)
        if self.published_from or self.published_to:
            keep &= facts.published != NO_DATE
            if self.published_from:
                keep &= facts.published >= self.published_from.toordinal()
            if self.published_to:
                keep &= facts.published <= self.published_to.toordinal()
        if self.sources:
            codes = [i for i, name in enumerate(facts.sources) if self.takes_source(name)]
            keep &= np.isin(facts.source, codes)
        return keep

    def takes_source(self, normalized: str) -> bool:
        return any(normalized == s or normalized.endswith("." + s) for s in self.sources)


@dataclass(frozen=True)
class ChunkFacts:
    """Per-chunk document facts of one snapshot, as arrays, so a filter is a few numpy passes.

    Built once per snapshot (a snapshot never changes) and dropped with it.
    """

    published: np.ndarray  # int32 date ordinal per chunk, NO_DATE when unknown
    source: np.ndarray  # int32 index into ``sources`` per chunk, -1 when unknown
    sources: tuple[str, ...]  # normalised source names

    @classmethod
    def of(cls, snapshot: Snapshot) -> ChunkFacts:
        key = id(snapshot)
        with _lock:
            cached = _cache.get(key)
        if cached is not None and cached[0]() is snapshot:
            return cached[1]
        facts = cls.build(snapshot)  # outside the lock: building twice is harmless, waiting is not
        with _lock:
            _cache[key] = (weakref.ref(snapshot), facts)
        weakref.finalize(snapshot, _forget, key)
        return facts

    @classmethod
    def build(cls, snapshot: Snapshot) -> ChunkFacts:
        names: dict[str, int] = {}
        per_doc: dict[str, tuple[int, int]] = {}
        for doc_id, doc in snapshot.documents.items():
            source = normalize_source(doc.source) if doc.source else ""
            code = names.setdefault(source, len(names)) if source else -1
            per_doc[doc_id] = (_ordinal(doc.published), code)
        rows = [per_doc.get(d, (NO_DATE, -1)) for d in snapshot.chunk_doc]
        table = np.array(rows, dtype=np.int32).reshape(-1, 2)
        return cls(table[:, 0].copy(), table[:, 1].copy(), tuple(names))


_cache: dict[int, tuple[weakref.ref[Snapshot], ChunkFacts]] = {}
_lock = threading.Lock()


def _forget(key: int) -> None:
    with _lock:
        _cache.pop(key, None)


def _ordinal(published: str | None) -> int:
    if not published:
        return NO_DATE
    try:
        return dt.date.fromisoformat(published[:10]).toordinal()
    except ValueError:
        return NO_DATE
