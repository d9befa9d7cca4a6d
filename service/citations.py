"""Citations that can be checked: the quote is the document text at its offsets."""

from __future__ import annotations

from index.records import Document
from service.schemas import Citation


def make_citation(
    doc: Document, quote_start: int, quote_end: int, answer_start: int | None,
    answer_end: int | None, score: float,
) -> Citation:
    return Citation(
        doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
        quote=doc.text[quote_start:quote_end], char_start=quote_start, char_end=quote_end,
        answer_start=answer_start, answer_end=answer_end, score=round(score, 4),
    )


def verify(citation: Citation, doc: Document | None, answer: str | None) -> bool:
    """True when the quote is the document's text at its offsets and holds the answer there."""
    if doc is None or doc.doc_id != citation.doc_id:
        return False
    if not 0 <= citation.char_start < citation.char_end <= len(doc.text):
        return False
    if doc.text[citation.char_start : citation.char_end] != citation.quote:
        return False
    if answer is None:
        return citation.answer_start is None and citation.answer_end is None
    a, b = citation.answer_start, citation.answer_end
    return (
        a is not None and b is not None
        and citation.char_start <= a < b <= citation.char_end
        and doc.text[a:b] == answer
    )
