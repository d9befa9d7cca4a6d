"""Examples for fitting and measuring the reader: a question, the sentences it reads (with the
token rows the index stores for them) and the gold answers.

Sources: the SQuAD subset in ``../shared/datasets/squad_subset`` (a paragraph is the evidence),
and news questions asked through the real retriever over an index (``news_examples``). Parses
and vectors of sentences are cached under ``eval/out/cache`` by text, so that a second training
run reads instead of recomputing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.annotations import ANNOTATION_VERSION, annotate, load_nlp
from index.sentences import sentence_spans
from index.words import content_words
from service.reader.evidence import Question, Sentence, idf_from_counts

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SQUAD_DIR = DATASETS / "squad_subset"
CACHE_DIR = Path("eval/out/cache")


@dataclass
class Example:
    """One question with what the reader reads for it."""

    id: str
    question: Question
    sentences: list[Sentence]  # evidence, best first
    answers: list[str]  # acceptable answers; empty when the evidence does not answer
    group: str  # the article: folds never split one
    origin: str  # squad, seed, written, realtimeqa, rgb
    heldout: bool = False
    style: str = ""
    meta: dict = field(default_factory=dict)


def held_out(key: str) -> bool:
    """The split of eval/written/README.md: a third of articles and rephrasing groups."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 3 == 0


class TextCache:
    """Per-text results (token rows, vectors) computed once and kept on disk between runs."""

    def __init__(self, name: str, compute: Callable[[list[str]], list], directory: Path = CACHE_DIR):
        self.path = directory / f"{name}.pkl"
        self.compute = compute
        self.data: dict[str, object] = {}
        if self.path.is_file():
            with self.path.open("rb") as f:
                self.data = pickle.load(f)
        self.dirty = False

    def get(self, texts: Sequence[str]) -> list:
        missing = list(dict.fromkeys(t for t in texts if t not in self.data))
        if missing:
            for text, value in zip(missing, self.compute(missing), strict=True):
                self.data[text] = value
            self.dirty = True
        return [self.data[t] for t in texts]

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(self.data, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self.path)
            self.dirty = False


class Reading:
    """The two per-text computations the examples need, cached: token rows and vectors."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self._nlp = None
        self.rows = TextCache(f"rows-v{ANNOTATION_VERSION}", self._annotate)
        self.vectors = TextCache(f"vectors-{embedder.model_id}", lambda t: list(embedder.embed(t)))
        # A paragraph's sentence vectors pooled from one pass over it, as the index pools them
        # from a chunk's pass (index/pipeline.py).
        self.pooled = TextCache(f"pooled-{embedder.model_id}", self._pool)

    def _pool(self, paragraphs: list[str]) -> list[np.ndarray]:
        spans = [list(sentence_spans(p)) for p in paragraphs]
        return list(self.embedder.embed_spans(paragraphs, spans)[1])

    def _annotate(self, texts: list[str]) -> list[np.ndarray]:
        if self._nlp is None:
            self._nlp = load_nlp()
        return annotate(self._nlp, texts)

    def save(self) -> None:
        self.rows.save()
        self.vectors.save()
        self.pooled.save()


def _read_squad(split: str) -> list[dict]:
    with gzip.open(SQUAD_DIR / f"{split}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def squad_examples(split: str, reading: Reading, limit: int | None = None) -> list[Example]:
    """SQuAD questions with their paragraph's sentences as the evidence."""
    records = _read_squad(split)[:limit]
    contexts = list(dict.fromkeys(r["context"] for r in records))
    sentences = {c: [c[a:b] for a, b in sentence_spans(c)] for c in contexts}
    df = Counter(s for c in contexts for s in set(content_words(c)))
    idf = idf_from_counts(dict(df), len(contexts))
    texts = [s for c in contexts for s in sentences[c]]
    rows = dict(zip(texts, reading.rows.get(texts), strict=True))
    pooled = dict(zip(contexts, reading.pooled.get(contexts), strict=True))
    qvectors = reading.vectors.get([r["question"] for r in records])
    out = []
    for r, qvec in zip(records, qvectors, strict=True):
        question = Question.of(r["question"], np.asarray(qvec), idf)
        vectors = pooled[r["context"]]
        sents = [Sentence(i, s, rows[s], float(np.dot(vectors[i], qvec)))
                 for i, s in enumerate(sentences[r["context"]])]
        sents.sort(key=lambda s: -s.dense)
        answers = [] if r.get("is_impossible") else list(dict.fromkeys(a["text"] for a in r["answers"]))
        out.append(Example(r["id"], question, sents, answers, group=r["title"], origin="squad",
                           meta={"context": r["context"]}))
    return out


def gold_kinds(examples: Iterable[Example], label: Callable[[str, list[str]], bool | None]):
    """For each answerable example, the kind of the first candidate that equals a gold answer
    (None when no candidate does): the type model's training label."""
    from service.reader.spans import candidates

    for ex in examples:
        kind = None
        if ex.answers:
            for s in ex.sentences:
                for span in candidates(s.tokens, s.text):
                    if label(s.text[span.start : span.end], ex.answers):
                        kind = span.kind
                        break
                if kind is not None:
                    break
        yield ex, kind


def span_scores(model, examples: Sequence[Example], sentences: int, cache: TextCache | None = None):
    """The span model's scores of each example's first ``sentences`` evidence sentences (None
    for the rest), read together as the service reads them, and cached per such batch."""
    # The int8 model's scores move with the other sentences in its batch (its activations are
    # quantised per call), so the cache keeps whole batches: the question and the sentences
    # read together, in their order.
    batches = [(ex.question.text, [s.text for s in ex.sentences[:sentences]]) for ex in examples]
    keys = ["\x00".join([q, *texts]) for q, texts in batches]

    def compute(missing: list[str]) -> list[list]:
        out = []
        for done, key in enumerate(missing):
            if done and done % 1000 == 0:
                print(f"span model: {done}/{len(missing)} questions read", flush=True)
            q, *texts = key.split("\x00")
            out.append(model.score(q, texts) if texts else [])
        return out

    cache = cache or TextCache(f"span-batches-{model.meta['sha256'][:12]}-{sentences}", compute)
    cache.compute = compute
    scores = cache.get(keys)
    cache.save()
    return [list(read) + [None] * max(0, len(ex.sentences) - sentences)
            for ex, read in zip(examples, scores, strict=True)]
