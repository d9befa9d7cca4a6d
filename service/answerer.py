"""From a question to a short, verbatim, cited answer, or an honest "not found".

Retrieval picks the evidence, a reader (``service/reader/``) ranks candidate answers with a
calibrated confidence, and the citation is verified against the article before anything is
returned. The answer is given when the reader thinks it more likely right than wrong; below
that the reply is null, with the reason and the nearest passages.
"""

from __future__ import annotations

import re
import time

import numpy as np

from index.embedding import Embedder
from service.citations import make_citation, verify
from service.conflicts import disagrees, same_answer
from service.questions import check_question
from service.reader.arithmetic import Computed, check, compute
from service.reader.base import Found, Reader, Reading
from service.reader.evidence import Question, Sentence
from service.retrieval import EVIDENCE_CHUNKS, HybridRetriever
from service.schemas import Alternative, Answer, Citation, Computation, Passage, Timings

# "Which of these people ...?", "She appeared in all these films except:": a quiz's options,
# which the question does not list: any span would be a guess.
_CHOICES = re.compile(
    r"\b(?:which|what|who) (?:one )?of (?:these|those|the following)\b"
    r"|\ball (?:of )?(?:these|the following)\b.*\bexcept\b"
    r"|\bexcept\s*:\s*$|\bwhich of the (?:above|below)\b", re.IGNORECASE)
# Sources disagree when another sentence makes the same claim with a different value: its text,
# answer cut out, is a near paraphrase of the chosen one's (cosine >= SAME_CLAIM; with MiniLM an
# RGB passage and its edited copy score 1.0, other pairs of RGB passages up to 0.92, different
# facts of the seed article at most 0.50), and the rival would have been answered on its own.
SAME_CLAIM = 0.9
MAX_ALTERNATIVES = 3


class Answerer:
    """Answer questions over one retriever snapshot.

    Usage::

        answerer = Answerer(retriever, embedder, reader)
        answer = answerer.ask("How many US troops are in Iraq?")
    """

    def __init__(
        self, retriever: HybridRetriever, embedder: Embedder, reader: Reader,
        top_k: int = 5, max_question_chars: int = 1000,
    ) -> None:
        self.retriever = retriever
        self.embedder = embedder
        self.reader = reader
        self.top_k = top_k
        self.max_question_chars = max_question_chars

    def check_question(self, question: str) -> str:
        return check_question(question, self.max_question_chars)

    def ask(self, question: str, top_k: int | None = None, allowed: np.ndarray | None = None) -> Answer:
        t0 = time.perf_counter()
        q = self.check_question(question)
        k = top_k or self.top_k
        qvec = self.embedder.embed([q])[0]
        hits = self.retriever.search(qvec, q, max(k, EVIDENCE_CHUNKS), allowed)
        asked = Question.of(q, qvec, self.retriever.idf)
        sentences = self.retriever.evidence(asked, hits)
        t1 = time.perf_counter()
        passages = [self.passage(h.row, h.score) for h in hits[:k]]
        if not sentences:
            return self._decline(question, "other", passages, "The index holds no articles to search.", 0.0, t0, t1)
        reading = self.reader.read(asked, sentences)
        if _CHOICES.search(q):
            reason = "The question picks from choices it does not list; ask about one of them."
            return self._decline(question, reading.expected_type, passages, reason, 0.0, t0, t1)
        computed = compute(q, reading.candidates)
        if computed is not None and not _states_total(sentences, reading.best):
            return self._computed(question, reading, computed, sentences, passages, t0, t1)
        best = reading.best
        if best is None:
            return self._decline(question, reading.expected_type, passages,
                                 reading.reason or "No answer found in the closest sentences.", 0.0, t0, t1)
        if reading.confidence < reading.abstain_below:
            reason = (f"The closest evidence is too weak to answer from (confidence "
                      f"{reading.confidence:.2f}); best guess not given.")
            return self._decline(question, reading.expected_type, passages, reason,
                                 reading.confidence, t0, t1, reading.abstain_below)
        citation, text = self._cite(sentences[best.sentence], best)
        if citation is None:
            return self._decline(question, reading.expected_type, passages,
                                 "The supporting quote could not be verified against the article.",
                                 reading.confidence, t0, t1, reading.abstain_below)
        newest, history, alternatives = _over_time(
            Alternative(**citation.model_dump(), answer=text), self._rivals(sentences, reading, text))
        citation, text = Citation(**newest.model_dump(exclude={"answer"})), newest.answer
        t2 = time.perf_counter()
        return Answer(question=question, answer=text, answer_type=reading.expected_type,
                      confidence=round(reading.confidence, 3), citations=[citation],
                      conflict=bool(alternatives), alternatives=alternatives, history=history,
                      passages=passages, notice=reading.notice, timings=_timings(t0, t1, t2))

    def _computed(self, question: str, reading: Reading, computed: Computed,
                  sentences: list[Sentence], passages: list[Passage], t0: float, t1: float) -> Answer:
        """A sum or difference over two cited figures, each verified, the arithmetic rechecked."""
        confidence = min(f.confidence for f in computed.operands)
        if confidence < reading.abstain_below:
            reason = (f"The figures to compute from are too uncertain (confidence {confidence:.2f}); "
                      "no result given.")
            return self._decline(question, "number", passages, reason,
                                 confidence, t0, t1, reading.abstain_below)
        operands = []
        for found in computed.operands:
            citation, text = self._cite(sentences[found.sentence], found)
            if citation is None:
                return self._decline(question, "number", passages,
                                     "A figure could not be verified against its article.", confidence, t0, t1,
                                     reading.abstain_below)
            operands.append(Alternative(**citation.model_dump(), answer=text))
        if not check([o.answer for o in operands], computed.operation, computed.result):
            return self._decline(question, "number", passages, "The arithmetic did not check.", confidence, t0,
                                 t1, reading.abstain_below)
        citations = [Citation(**o.model_dump(exclude={"answer"})) for o in operands]
        return Answer(question=question, answer=computed.result, answer_type="number",
                      confidence=round(confidence, 3), citations=citations, passages=passages,
                      computation=Computation(operation=computed.operation, expression=computed.expression,
                                              operands=operands),
                      notice=reading.notice, timings=_timings(t0, t1))

    def _decline(self, question: str, answer_type: str, passages: list[Passage], reason: str,
                 confidence: float, t0: float, t1: float, below: float = 0.5) -> Answer:
        """No answer: the confidence shown stays under the threshold the reader declines below."""
        return Answer(question=question, answer=None, answer_type=answer_type,
                      confidence=round(min(confidence, below - 0.001), 3), reason=reason,
                      passages=passages, timings=_timings(t0, t1))

    def _cite(self, sentence: Sentence, found: Found):
        """The verified citation of ``found`` and the answer text, or (None, None)."""
        snap = self.retriever.snapshot
        doc = snap.documents[snap.sent_doc[sentence.row]]
        s_start, s_end = (int(x) for x in snap.sent_span[sentence.row])
        a, b = s_start + found.start, s_start + found.end
        text = doc.text[a:b]
        citation = make_citation(doc, s_start, s_end, a, b, found.score)
        return (citation, text) if verify(citation, doc, text) else (None, None)

    def _rivals(self, sentences: list[Sentence], reading: Reading, answer: str) -> list[Alternative]:
        """Answers that disagree with ``answer``: confident on their own, from another sentence
        that makes the same claim (``SAME_CLAIM``), verified."""
        best = reading.best
        rivals = [f for f in reading.candidates[1:]
                  if f.confidence >= reading.abstain_below and f.sentence != best.sentence
                  and f.kind == best.kind
                  and disagrees(answer, sentences[best.sentence].text, f.text, sentences[f.sentence].text)]
        if not rivals:
            return []
        texts = [_without(sentences[best.sentence].text, best)] + [
            _without(sentences[f.sentence].text, f) for f in rivals]
        vectors = self.embedder.embed(texts)
        out: list[Alternative] = []
        for f, vector in zip(rivals, vectors[1:], strict=True):
            if len(out) == MAX_ALTERNATIVES:
                break
            if float(vectors[0] @ vector) < SAME_CLAIM or any(same_answer(f.text, a.answer) for a in out):
                continue
            citation, text = self._cite(sentences[f.sentence], f)
            if citation is not None:
                out.append(Alternative(**citation.model_dump(), answer=text))
        return out

    def passage(self, row: int, score: float) -> Passage:
        snap = self.retriever.snapshot
        doc = snap.documents[snap.chunk_doc[row]]
        start, end = (int(x) for x in snap.chunk_span[row])
        return Passage(doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
                       text=doc.text[start:end], char_start=start, char_end=end, score=round(score, 5))


def _over_time(mine: Alternative, rivals: list[Alternative]):
    """(answer, history, conflicts) among values given for one claim. Dated articles that give
    another value are the story moving on: the newest value answers and the older ones are its
    history, newest first; a value of the same date, or undated, is a disagreement."""
    claims = [mine, *rivals]
    dated = [a for a in claims if a.published]
    if not mine.published or all(a.published == mine.published for a in dated):
        return mine, [], rivals
    newest = max(dated, key=lambda a: a.published)  # the first of equals: ``mine`` wins ties
    history = sorted((a for a in dated if a.published < newest.published),
                     key=lambda a: a.published, reverse=True)
    return newest, history, [a for a in claims if a is not newest and a not in history]


_TOTAL = re.compile(r"\b(?:total|combined|altogether|in all|all told|overall)\b", re.I)


def _states_total(sentences: list[Sentence], best: Found | None) -> bool:
    """The best answer's sentence already gives a total ("a total of 3,400 troops"): no sum."""
    return best is not None and bool(_TOTAL.search(sentences[best.sentence].text))


def _without(sentence: str, found: Found) -> str:
    """The sentence with the answer cut out: what it claims about the answer, whatever it is."""
    return f"{sentence[: found.start].rstrip()} {sentence[found.end :].lstrip()}".strip()


def _timings(t0: float, t1: float, t2: float | None = None) -> Timings:
    t2 = t2 or time.perf_counter()
    return Timings(retrieval_ms=round((t1 - t0) * 1000, 2), extraction_ms=round((t2 - t1) * 1000, 2),
                   total_ms=round((time.perf_counter() - t0) * 1000, 2))
