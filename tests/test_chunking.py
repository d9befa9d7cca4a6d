from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import ChunkSettings, TokenChunker
from index.records import Document

TRICKY = (
    "Title line\twith a tab\n\n\n"
    "Café owners in Zürich said “prices rose 5%” this year. Gen. Smith disagreed!\n"
    "\t  Indented line — with an em dash… and emoji 🎉 here.  \n\n"
    "日本語の文です。 Another sentence? Yes.\n"
)


def _check_invariants(doc: Document, chunker: TokenChunker) -> None:
    split = chunker.split(doc)
    budget = chunker.settings.max_tokens
    for s in split.sentences:
        assert doc.text[s.char_start : s.char_end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.n_tokens <= budget
    for c in split.chunks:
        assert doc.text[c.char_start : c.char_end] == c.text
        assert c.n_tokens <= budget
        # Chunks are runs of whole sentences.
        assert c.char_start == split.sentences[c.sent_start].char_start
        assert c.char_end == split.sentences[c.sent_end - 1].char_end
    # Every sentence is covered by some chunk, in order.
    covered = {i for c in split.chunks for i in range(c.sent_start, c.sent_end)}
    assert covered == set(range(len(split.sentences)))


def test_seed_article_offsets_and_budget(seed_doc):
    chunker = TokenChunker(ChunkSettings(max_tokens=64, overlap_tokens=16))
    _check_invariants(seed_doc, chunker)
    split = chunker.split(seed_doc)
    assert len(split.chunks) > 3
    quote = "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition against ISIS."
    assert quote in [s.text for s in split.sentences]


def test_unicode_tabs_blank_lines():
    doc = Document("d", TRICKY, "t")
    _check_invariants(doc, TokenChunker(ChunkSettings(max_tokens=16, overlap_tokens=4)))
    texts = [s.text for s in TokenChunker().sentences(doc)]
    assert "Title line\twith a tab" in texts
    assert "Gen. Smith disagreed!" in texts  # the abbreviation does not end a sentence


def test_no_sentence_is_cut_when_it_fits():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    doc = Document("d", text, "t")
    chunker = TokenChunker(ChunkSettings(max_tokens=40, overlap_tokens=10))
    split = chunker.split(doc)
    assert all(c.text.endswith(".") and c.text[0] == "S" for c in split.chunks)
    # Overlap: consecutive chunks share a sentence.
    assert any(b.sent_start < a.sent_end for a, b in zip(split.chunks, split.chunks[1:]))


def test_overlong_single_line_is_cut_within_budget():
    doc = Document("d", "x" * 50_000, "t")
    chunker = TokenChunker(ChunkSettings(max_tokens=100, overlap_tokens=0))
    _check_invariants(doc, chunker)
    assert "".join(s.text for s in chunker.sentences(doc)) == doc.text


def test_settings_validated():
    with pytest.raises(ValueError, match="overlap_tokens must be"):
        ChunkSettings(max_tokens=32, overlap_tokens=32)
    with pytest.raises(ValueError, match="max_tokens must be"):
        ChunkSettings(max_tokens=2)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=600))
def test_offsets_hold_for_any_text(text):
    _check_invariants(Document("d", text, "t"), TokenChunker(ChunkSettings(max_tokens=12, overlap_tokens=3)))


def test_whitespace_between_sentences_counts_toward_the_budget():
    # Short lines far apart: the blank lines between them cost tokens inside the chunk.
    text = "\n \n \n \n".join(f"Line {i}." for i in range(40))
    chunker = TokenChunker(ChunkSettings(max_tokens=12, overlap_tokens=0))
    split = chunker.split(Document("d", text, "t"))
    assert max(c.n_tokens for c in split.chunks) <= 12
    assert all(c.sent_end - c.sent_start >= 1 for c in split.chunks)
    _check_invariants(Document("d", text, "t"), chunker)
