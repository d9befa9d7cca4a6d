"""Sentence spans with offsets into the document text.

Lines are paragraphs in news text (headlines carry no final stop), so every line break is a
boundary; within a line spaCy's rule-based sentencizer splits, its tokenizer exceptions keeping
"U.S.", "Gen." and "Jan." intact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from index.nlp import Language, spacy

_LINE = re.compile(r"[^\n]+")
# The sentencizer leaves an opening quote or bracket at the end of the sentence before it.
_OPENERS = "“‘\"'([{«"


@lru_cache(maxsize=1)
def _sentencizer() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(char_start, char_end)`` of each sentence, stripped of surrounding whitespace."""
    lines = [(m.start(), m.group()) for m in _LINE.finditer(text) if not m.group().isspace()]
    docs = _sentencizer().pipe(line for _, line in lines)
    for (offset, line), doc in zip(lines, docs, strict=True):
        bounds = [sent.start_char for sent in doc.sents][1:]
        # Move opening quotes/brackets stranded at a sentence end onto the next sentence.
        fixed = []
        for b in bounds:
            j = b
            while j > 0 and line[j - 1].isspace():
                j -= 1
            while j > 0 and line[j - 1] in _OPENERS and (j < 2 or line[j - 2].isspace()):
                j -= 1
            fixed.append(j if j > 0 else b)
        edges = [0, *fixed, len(line)]
        for a, b in zip(edges, edges[1:]):
            s, e = strip_span(line, a, b)
            if e > s:
                yield offset + s, offset + e
