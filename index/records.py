"""Typed records of the indexing side. Every span carries offsets into its document's text.

The invariant, tested everywhere: ``document.text[span.char_start:span.char_end] == span.text``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

# Ids travel in URLs and file names: keep them to a safe, path-free alphabet.
DOC_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def is_valid_doc_id(doc_id: str) -> bool:
    return bool(DOC_ID_PATTERN.fullmatch(doc_id)) and ".." not in doc_id


def slugify(value: str, max_len: int = 80) -> str:
    """Lower-case ASCII slug usable as a doc_id ("Iraq, US talks" -> "iraq-us-talks")."""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:max_len].strip("-") or "doc"


@dataclass(frozen=True, slots=True)
class Document:
    """One article. ``text`` is exactly what offsets point into."""

    doc_id: str
    text: str
    title: str
    url: str | None = None
    published: str | None = None  # ISO 8601 date (YYYY-MM-DD) when known
    source: str | None = None  # publisher, e.g. "cnn.com"
    origin: str | None = None  # where it was read from (file path, "api", ...)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is indexed or shown changes."""
        h = hashlib.sha256()
        for part in (self.text, self.title, self.url or "", self.published or "", self.source or ""):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Sentence:
    doc_id: str
    ordinal: int  # position within the document
    char_start: int
    char_end: int
    text: str
    n_tokens: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences ``[sent_start, sent_end)`` within a token budget."""

    doc_id: str
    ordinal: int
    char_start: int
    char_end: int
    text: str
    n_tokens: int
    sent_start: int
    sent_end: int


@dataclass(slots=True)
class SplitDocument:
    """A document with its sentences and chunks, ready to embed."""

    document: Document
    sentences: list[Sentence] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
