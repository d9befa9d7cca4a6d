"""From a question to a short, verbatim, cited answer, or an honest "not found"."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np
from spacy.language import Language

from index.embedding import Embedder
from index.errors import InvalidQueryError
from service.answer_types import AnswerType, classify
from service.citations import make_citation, verify
from service.extraction import Candidate, clause_around, entity_candidates, free_text_answer
from service.retrieval import HybridRetriever, SentenceHit, content_words
from service.schemas import Answer, Passage, Timings

# Entity labels in a question that narrow it to something the articles must mention.
_CONSTRAINT_LABELS = {"PERSON", "NORP", "ORG", "GPE", "LOC", "FAC", "EVENT", "PRODUCT", "LAW"}
# Demonyms and short names news text uses interchangeably.
_ALIASES = {
    "american": ("us", "u.s.", "united states", "america", "washington"),
    "america": ("us", "u.s.", "united states", "american"),
    "us": ("u.s.", "united states", "america", "american", "washington"),
    "u.s.": ("us", "united states", "america", "american"),
    "united states": ("us", "u.s.", "america", "american"),
    "british": ("uk", "u.k.", "britain", "united kingdom"),
    "uk": ("britain", "british", "united kingdom"),
}
ABSTAIN_BELOW = 0.5
SENTENCES_CONSIDERED = 4


@dataclass(frozen=True)
class Choice:
    sentence: SentenceHit
    start: int  # answer offsets within the sentence
    end: int
    score: float
    context: float  # similarity of the answer's clause to the question
    fit: float


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Answerer:
    """Answer questions over one retriever snapshot with an embedder and a spaCy pipeline.

    Usage::

        answerer = Answerer(retriever, embedder, nlp)
        answer = answerer.ask("How many US troops are in Iraq?")
    """

    def __init__(
        self, retriever: HybridRetriever, embedder: Embedder, nlp: Language,
        top_k: int = 5, max_question_chars: int = 1000,
    ) -> None:
        self.retriever = retriever
        self.embedder = embedder
        self.nlp = nlp
        self.top_k = top_k
        self.max_question_chars = max_question_chars

    def check_question(self, question: str) -> str:
        q = " ".join(question.split())
        if not q:
            raise InvalidQueryError("The question is empty. Ask something, e.g. 'How many US troops are in Iraq?'")
        if len(q) > self.max_question_chars:
            raise InvalidQueryError(
                f"The question is {len(q)} characters long; the limit is {self.max_question_chars}."
            )
        return q

    def ask(self, question: str, top_k: int | None = None, allowed: np.ndarray | None = None) -> Answer:
        t0 = time.perf_counter()
        q = self.check_question(question)
        k = top_k or self.top_k
        qvec = self.embedder.embed([q])[0]
        hits = self.retriever.search(qvec, q, k, allowed)
        sentences = self.retriever.sentences(qvec, q, hits)[:SENTENCES_CONSIDERED]
        t1 = time.perf_counter()
        kind = classify(q)
        passages = [self.passage(h.row, h.score) for h in hits]
        base = dict(question=question, answer_type=kind.value, passages=passages)
        if not sentences:
            return Answer(**base, answer=None, confidence=0.0, reason="The index holds no articles to search.",
                          timings=_timings(t0, t1))
        choice = self._choose(q, qvec, kind, sentences)
        if choice is None:
            best = sentences[0]
            conf = _sigmoid(8 * (0.5 * best.dense + 0.5 * best.overlap - 0.75))
            return Answer(**base, answer=None, confidence=round(min(conf, 0.49), 3),
                          reason=f"No {kind.value} answer found in the closest sentences.",
                          timings=_timings(t0, t1))
        snap = self.retriever.snapshot
        sent = choice.sentence
        doc = snap.documents[snap.sent_doc[sent.row]]
        s_start, s_end = (int(x) for x in snap.sent_span[sent.row])
        answer_text = doc.text[s_start + choice.start : s_start + choice.end]
        raw = 0.35 * sent.dense + 0.3 * choice.context + 0.25 * sent.overlap + 0.1 * choice.fit
        confidence = _sigmoid(10 * (raw - 0.42))
        reason = None
        missing = self._missing_constraints(q, doc.text)
        if missing:
            confidence, reason = min(confidence, 0.2), f"The articles do not mention {', '.join(missing)}."
        elif confidence < ABSTAIN_BELOW:
            reason = "The closest evidence is too weak to answer from."
        citation = make_citation(doc, s_start, s_end, s_start + choice.start, s_start + choice.end, choice.score)
        if reason is None and not verify(citation, doc, answer_text):
            reason = "The supporting quote could not be verified against the article."
        t2 = time.perf_counter()
        if reason is not None:
            return Answer(**base, answer=None, confidence=round(confidence, 3), reason=reason,
                          timings=_timings(t0, t1, t2))
        return Answer(**base, answer=answer_text, confidence=round(confidence, 3), citations=[citation],
                      timings=_timings(t0, t1, t2))

    def _choose(
        self, question: str, qvec: np.ndarray, kind: AnswerType, sentences: list[SentenceHit]
    ) -> Choice | None:
        snap = self.retriever.snapshot
        texts = [snap.sentence_text(s.row) for s in sentences]
        if kind is AnswerType.OTHER:
            best = sentences[0]
            start, end = free_text_answer(texts[0], question)
            return Choice(best, start, end, best.score, best.dense, 0.6)
        q_lower = question.lower()
        qwords = set(content_words(question))
        found: list[tuple[SentenceHit, str, Candidate, tuple[int, int]]] = []
        for sent, text, doc in zip(sentences, texts, self.nlp.pipe(texts), strict=True):
            for cand in entity_candidates(doc, kind):
                if _in_question(cand.text, q_lower):
                    continue
                found.append((sent, text, cand, clause_around(text, cand.start, cand.end)))
        if not found:
            return None
        contexts = [text[a:b] for _, text, _, (a, b) in found]
        sims = self.embedder.embed(contexts) @ qvec
        best: Choice | None = None
        for (sent, text, cand, (a, b)), sim in zip(found, sims, strict=True):
            clause_words = set(content_words(text[a:b]))
            local = len(qwords & clause_words) / len(qwords) if qwords else 0.0
            score = 0.45 * sent.score + 0.3 * float(sim) + 0.15 * local + 0.1 * cand.fit
            if best is None or score > best.score:
                best = Choice(sent, cand.start, cand.end, score, float(sim), cand.fit)
        return best

    def _missing_constraints(self, question: str, doc_text: str) -> list[str]:
        """Names in the question that the cited article never mentions ("British" troops)."""
        text = doc_text.lower()
        missing = []
        for ent in self.nlp(question).ents:
            if ent.label_ not in _CONSTRAINT_LABELS:
                continue
            name = ent.text.lower().removeprefix("the ")
            variants = (name, *_ALIASES.get(name, ()))
            if not any(re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text) for v in variants):
                missing.append(f"'{ent.text}'")
        return missing

    def passage(self, row: int, score: float) -> Passage:
        snap = self.retriever.snapshot
        doc = snap.documents[snap.chunk_doc[row]]
        start, end = (int(x) for x in snap.chunk_span[row])
        return Passage(doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
                       text=doc.text[start:end], char_start=start, char_end=end, score=round(score, 5))


def _in_question(candidate: str, question_lower: str) -> bool:
    return candidate.lower() in question_lower


def _timings(t0: float, t1: float, t2: float | None = None) -> Timings:
    t2 = t2 or time.perf_counter()
    return Timings(retrieval_ms=round((t1 - t0) * 1000, 2), extraction_ms=round((t2 - t1) * 1000, 2),
                   total_ms=round((time.perf_counter() - t0) * 1000, 2))
