"""A fast, deterministic reader for tests of everything around the reader (``SOURCED_READER=fake``
with ``SOURCED_EMBEDDER=hash``): no model files, no inference, the same answer every time.

It answers with the first entity of the kind the question word suggests ("how many": a number,
"who": a person, "when": a date, "where": a place; any entity otherwise) in the sentence that
shares most words with the question (the closest by vector on ties), confident when that
sentence shares any word with it; each other sentence's first such entity is a rival at that
sentence's confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from index.words import word_key
from service.conflicts import value_tokens
from service.reader.base import Found, Reading, answer_type
from service.reader.evidence import Question, Sentence
from service.reader.spans import KINDS, PHRASE_KINDS, candidates


_WANTED = {"how many": {"CARDINAL", "NUM", "QUANTITY"}, "how much": {"MONEY", "CARDINAL", "NUM", "PERCENT"},
           "who": {"PERSON", "ORG", "NORP"}, "when": {"DATE", "TIME"}, "where": {"GPE", "LOC", "FAC"}}


class FakeReader:
    name = "fake"

    def read(self, question: Question, sentences: Sequence[Sentence]) -> Reading:
        shared = [len({int(k) for k in s.tokens["key"]} & question.keys.keys()) for s in sentences]
        order = sorted(range(len(sentences)), key=lambda i: (-shared[i], -sentences[i].dense))
        found: list[Found] = []
        seen: set[tuple[str, ...]] = set()
        for rank, i in enumerate(order):
            s = sentences[i]
            confidence = 0.9 if shared[i] else 0.2
            first = True  # a sentence's first entity at its confidence, the others at half
            wanted = _WANTED.get(question.wh)
            for span in candidates(s.tokens, s.text):
                kind = KINDS[span.kind]
                if kind in PHRASE_KINDS and kind != "NUM" or (wanted and kind not in wanted):
                    continue
                text = s.text[span.start : span.end]
                if value_tokens(text) in seen or set(text.lower().split()) <= set(question.words):
                    continue
                seen.add(value_tokens(text))
                found.append(Found(i, span.start, span.end, text, KINDS[span.kind],
                                   float(-rank), confidence if first else confidence * 0.5))
                first = False
        if not found:
            return Reading(reason="No answer found in the closest sentences.")
        # A name the question gives that no evidence sentence holds ("British" troops): unsure.
        held = {int(k) for s in sentences for k in s.tokens["key"]}
        named = [w for w in question.text.split()[1:] if w[:1].isupper() and not w.isupper()]
        if any(word_key(w) and word_key(w) not in held for w in named):
            found = [replace(f, confidence=0.2) for f in found]
        return Reading(found, found[0].confidence, answer_type(found[0].kind))
