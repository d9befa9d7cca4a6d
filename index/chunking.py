"""Sentence-aware, token-bounded chunking with tiktoken.

A chunk is a run of whole sentences whose token count stays within ``max_tokens``; consecutive
chunks share trailing sentences worth up to ``overlap_tokens``. A sentence that alone exceeds
the budget is first cut into token windows (the only case where a cut falls inside a sentence),
so every sentence record also fits the embedding model's window.
"""

from __future__ import annotations

from dataclasses import dataclass

import tiktoken

from index.records import Chunk, Document, Sentence, SplitDocument
from index.sentences import sentence_spans, strip_span
from index.tokenizer import get_encoding


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = 192
    overlap_tokens: int = 48
    encoding: str = "cl100k_base"

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8. Currently, max_tokens is {self.max_tokens}.")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError(
                "overlap_tokens must be >= 0 and less than max_tokens. "
                f"Currently, overlap_tokens is {self.overlap_tokens} and max_tokens is {self.max_tokens}."
            )


class TokenChunker:
    """Split documents into sentences and chunks.

    Usage::

        chunker = TokenChunker(ChunkSettings(max_tokens=128, overlap_tokens=32))
        split = chunker.split(document)
        assert all(document.text[c.char_start:c.char_end] == c.text for c in split.chunks)
    """

    def __init__(self, settings: ChunkSettings | None = None) -> None:
        self.settings = settings or ChunkSettings()
        self._enc: tiktoken.Encoding | None = None

    @property
    def encoding(self) -> tiktoken.Encoding:
        if self._enc is None:
            self._enc = get_encoding(self.settings.encoding)
        return self._enc

    def split(self, document: Document) -> SplitDocument:
        sentences = self.sentences(document)
        return SplitDocument(document, sentences, self.chunks(document, sentences))

    def sentences(self, document: Document) -> list[Sentence]:
        text, out = document.text, []
        spans = list(sentence_spans(text))
        counts = [len(t) for t in self.encoding.encode_ordinary_batch([text[s:e] for s, e in spans])]
        for (start, end), n in zip(spans, counts, strict=True):
            pieces = [(start, end, n)] if n <= self.settings.max_tokens else self._cut(text, start, end)
            for s, e, k in pieces:
                out.append(Sentence(document.doc_id, len(out), s, e, text[s:e], k))
        return out

    def _cut(self, text: str, start: int, end: int, window: int | None = None) -> list[tuple[int, int, int]]:
        """Cut one overlong sentence into pieces of at most ``max_tokens`` tokens."""
        limit = self.settings.max_tokens
        window = window or limit
        tokens = self.encoding.encode_ordinary(text[start:end])
        decoded, offsets = self.encoding.decode_with_offsets(tokens)
        if decoded != text[start:end]:  # cannot map tokens back to characters: cut by characters
            step = max(1, (end - start) * window // len(tokens))
            bounds = list(range(start, end, step)) + [end]
        else:
            bounds = [start + offsets[i] for i in range(0, len(tokens), window)] + [end]
        pieces = []
        for s, e in zip(bounds, bounds[1:]):
            s, e = strip_span(text, s, e)
            if e <= s:
                continue
            n = len(self.encoding.encode_ordinary(text[s:e]))
            if n <= limit or e - s == 1:
                pieces.append((s, e, n))
            else:  # re-encoding a cut piece can merge differently: cut it finer
                pieces.extend(self._cut(text, s, e, max(1, window * 3 // 4)))
        return pieces

    def chunks(self, document: Document, sentences: list[Sentence]) -> list[Chunk]:
        budget, overlap = self.settings.max_tokens, self.settings.overlap_tokens
        chunks: list[Chunk] = []
        i = 0
        text = document.text
        # The whitespace between sentences ("\n\n" between paragraphs) costs tokens too.
        gaps = [0] + [
            len(self.encoding.encode_ordinary(text[a.char_end : b.char_start])) if b.char_start > a.char_end else 0
            for a, b in zip(sentences, sentences[1:])
        ]
        while i < len(sentences):
            j, used = i, 0
            while j < len(sentences) and used + (gaps[j] if j > i else 0) + sentences[j].n_tokens <= budget:
                used += (gaps[j] if j > i else 0) + sentences[j].n_tokens
                j += 1
            j = max(j, i + 1)  # a sentence piece never exceeds the budget, but stay safe
            start = sentences[i].char_start
            n_tokens = len(self.encoding.encode_ordinary(text[start : sentences[j - 1].char_end]))
            while n_tokens > budget and j - 1 > i:  # tokens can merge across a joint: count exactly
                j -= 1
                n_tokens = len(self.encoding.encode_ordinary(text[start : sentences[j - 1].char_end]))
            end = sentences[j - 1].char_end
            chunks.append(Chunk(document.doc_id, len(chunks), start, end, text[start:end], n_tokens, i, j))
            if j >= len(sentences):
                break
            # Start the next chunk on trailing sentences worth up to `overlap` tokens.
            k, back = j, 0
            while k - 1 > i and back + sentences[k - 1].n_tokens <= overlap:
                back += sentences[k - 1].n_tokens
                k -= 1
            i = k
        return chunks

