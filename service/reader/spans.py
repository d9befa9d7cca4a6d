"""Candidate answers of one sentence, read from its stored token rows (index/annotations.py).

Every candidate is a verbatim span of the sentence. The kinds are what the rows say a span is:
an entity (with spaCy's label), a number the tagger missed, a noun phrase, a prepositional
phrase, a clause, a verb with its object, a modifier. Which kind a question asks for, and which
span of it answers, is for the fitted models to say (``types.py``, ``ranker.py``); this module
only enumerates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.annotations import (CAPITALISED, DEP_ID, DEPS, ENT_BEGIN, ENTS, LIKE_NUM, NP_BEGIN,
                               NP_INSIDE, POS_ID, PUNCT)

PHRASE_KINDS = ("NUM", "NP", "PP", "CLAUSE", "VP", "MOD")
KINDS = ENTS[1:] + PHRASE_KINDS  # spaCy's entity labels, then untagged phrases
KIND_ID = {k: i for i, k in enumerate(KINDS)}
MAX_TOKENS = 15  # a longer phrase is a passage, not an answer
MAX_CLAUSE_TOKENS = 24  # "after a drone attack killed three US military personnel at a base ..."

# Words that are part of a quantity's meaning: "more than 165" is not "165".
QUALIFIERS = (
    ("more", "than"), ("less", "than"), ("fewer", "than"), ("at", "least"), ("at", "most"),
    ("up", "to"), ("as", "many", "as"), ("as", "much", "as"), ("as", "few", "as"),
    ("close", "to"), ("well", "over"), ("just", "over"), ("just", "under"), ("upwards", "of"),
    ("an", "estimated"), ("some",), ("about",), ("around",), ("nearly",), ("almost",),
    ("roughly",), ("approximately",), ("over",), ("under",), ("only",), ("just",),
)
_QUANTITIES = frozenset(ENTS.index(e) for e in ("CARDINAL", "MONEY", "PERCENT", "QUANTITY"))
_SCALES = frozenset({"%", "percent", "million", "billion", "trillion", "thousand", "hundred"})

_D = DEP_ID
_P = POS_ID
_NOUN_DEPS = frozenset(_D[d] for d in ("nsubj", "nsubjpass", "dobj", "pobj", "attr", "appos",
                                       "npadvmod", "conj", "dative", "oprd", "nmod", "ROOT"))
_PREP_DEPS = frozenset(_D[d] for d in ("prep", "agent"))
_CLAUSE_DEPS = frozenset(_D[d] for d in ("advcl", "ccomp", "xcomp", "acl", "relcl", "csubj",
                                         "pcomp", "conj", "ROOT"))
_MOD_DEPS = frozenset(_D[d] for d in ("acomp", "advmod", "amod", "npadvmod"))
_NOMINAL = frozenset(_P[p] for p in ("NOUN", "PROPN", "PRON", "NUM"))
_VERBAL = frozenset(_P[p] for p in ("VERB", "AUX"))
_TRIM_START = frozenset(_P[p] for p in ("CCONJ", "PUNCT"))
_TRIM_END = frozenset(_P[p] for p in ("CCONJ", "PUNCT", "ADP", "SCONJ", "DET", "PART"))
_OBJECT_DEPS = frozenset(_D[d] for d in ("dobj", "dative"))
_POSSESSIVE = frozenset({"'s", "’s", "'", "’"})


@dataclass(frozen=True, slots=True)
class Span:
    """A candidate answer: tokens ``[first, last]`` and characters ``[start, end)`` of its
    sentence, its kind (an index into ``KINDS``) and its syntactic root token."""

    first: int
    last: int
    start: int
    end: int
    kind: int
    root: int


class _Rows:
    """A sentence's token rows as Python lists: ``candidates`` reads single values thousands
    of times a question, and a list item costs a fraction of a numpy scalar."""

    __slots__ = ("dep", "end", "ent", "flags", "head", "left", "n", "pos", "right", "start")

    def __init__(self, rows: np.ndarray) -> None:
        for name in self.__slots__:
            if name != "n":
                setattr(self, name, rows[name].tolist())
        self.n = len(rows)


def candidates(rows: np.ndarray, text: str) -> list[Span]:
    """Every candidate of a sentence, entities first, each span once."""
    r = _Rows(rows)
    words = [text[s:e].lower() for s, e in zip(r.start, r.end, strict=True)]
    seen: set[tuple[int, int]] = set()
    out: list[Span] = []

    def add(first: int, last: int, kind: str) -> None:
        first, last = _whole_words(r, text, *_trim(r, words, first, last))
        limit = MAX_CLAUSE_TOKENS if kind == "CLAUSE" else MAX_TOKENS
        if first > last or last - first + 1 > limit:
            return
        start, end = r.start[first], r.end[last]
        if (start, end) in seen:
            return
        seen.add((start, end))
        out.append(Span(first, last, start, end, KIND_ID[kind], _root(r, first, last)))

    for first, last, label in _entities(r):
        if label in _QUANTITIES:
            first = _qualified(words, first)
            last = _scaled(words, last)
        add(first, last, ENTS[label])
    for i in range(r.n):
        if r.flags[i] & LIKE_NUM and r.ent[i] == 0 and not r.flags[i] & PUNCT:
            add(_qualified(words, i), _scaled(words, i), "NUM")  # "some 900" the tagger missed
    for first, last in _noun_chunks(r):
        add(first, last, "NP")
    for i in range(r.n):
        dep, pos = r.dep[i], r.pos[i]
        left, right = r.left[i], r.right[i]
        if dep in _PREP_DEPS:
            add(left, right, "PP")
        elif pos in _VERBAL and dep in _CLAUSE_DEPS:
            add(left, right, "CLAUSE")
            cut = _core(r, i)
            if cut < right:  # without the clauses and lists hung after it
                add(left, cut, "CLAUSE")
            objects = [j for j in range(i + 1, right + 1) if r.head[j] == i
                       and r.dep[j] in _OBJECT_DEPS]
            if objects:  # "provide assistance to government forces": the verb and what follows
                add(i, right, "VP")
                core = _core(r, i, _VP_TAIL)
                if core < right:  # ... without the purpose or clause after it
                    add(i, core, "VP")
        elif pos in _NOMINAL and dep in _NOUN_DEPS:
            add(left, right, "NP")
            cut = _core(r, i)
            if cut < right:  # "a loose alliance of Iran-backed groups" (angered by ...)
                add(left, cut, "NP")
        elif dep in _MOD_DEPS and not pos in _NOMINAL:
            add(left, right, "MOD")
    return out


def _entities(r: _Rows) -> list[tuple[int, int, int]]:
    out = []
    for i in range(r.n):
        if not r.flags[i] & ENT_BEGIN:
            continue
        label, j = r.ent[i], i
        while j + 1 < r.n and r.ent[j + 1] == label and not r.flags[j + 1] & ENT_BEGIN:
            j += 1
        out.append((i, j, label))
    return out


def _noun_chunks(r: _Rows) -> list[tuple[int, int]]:
    out = []
    for i in range(r.n):
        if not r.flags[i] & NP_BEGIN:
            continue
        j = i
        while j + 1 < r.n and r.flags[j + 1] & NP_INSIDE and not r.flags[j + 1] & NP_BEGIN:
            j += 1
        out.append((i, j))
    return out


def _qualified(words: list[str], first: int) -> int:
    """Move ``first`` back over a qualifier and a currency sign before a number."""
    if first > 0 and words[first - 1] in ("$", "£", "€"):
        first -= 1
    for q in QUALIFIERS:
        k = len(q)
        if first >= k and tuple(words[first - k : first]) == q:
            return first - k
    return first


def _scaled(words: list[str], last: int) -> int:
    """Move ``last`` over a scale or a percent sign right after a number ("1.5 million")."""
    while last + 1 < len(words) and words[last + 1] in _SCALES:
        last += 1
    return last


def _trim(r: _Rows, words: list[str], first: int, last: int) -> tuple[int, int]:
    """No leading conjunction or punctuation; no trailing conjunction, preposition, article,
    punctuation or possessive ("Iraq's" -> "Iraq")."""
    while first <= last and r.pos[first] in _TRIM_START:
        first += 1
    while last >= first and (r.pos[last] in _TRIM_END or words[last] in _POSSESSIVE):
        if words[last] in ("%",):
            break
        last -= 1
    return first, last


def _whole_words(r: _Rows, text: str, first: int, last: int) -> tuple[int, int]:
    """Widen to whole words: the tokenizer splits "re-emergence" into three tokens."""
    if first > last:
        return first, last
    while first > 0 and r.start[first] == r.end[first - 1] and (
            text[r.start[first] - 1] == "-" or text[r.start[first]] == "-"):
        first -= 1
    while last + 1 < r.n and r.end[last] == r.start[last + 1] and (
            text[r.end[last]] == "-" or text[r.end[last] - 1] == "-"):
        last += 1
    return first, last


def _core(r: _Rows, head: int, tail: frozenset[int] | None = None) -> int:
    """The last token of a phrase without what follows its first comma, clause or conjunct."""
    right = r.right[head]
    tail = tail or _TAIL_DEPS
    for j in range(head + 1, right + 1):
        if r.dep[j] in tail or (r.head[j] == head and r.flags[j] & PUNCT):
            return r.left[j] - 1
    return right


_TAIL_DEPS = frozenset(_D[d] for d in ("advcl", "conj", "cc", "parataxis", "ccomp", "acl",
                                       "relcl", "appos"))
_VP_TAIL = _TAIL_DEPS | {_D["xcomp"]}


def _root(r: _Rows, first: int, last: int) -> int:
    """The span's token whose head lies outside it (the first such, if several)."""
    for i in range(first, last + 1):
        h = r.head[i]
        if h < first or h > last or h == i:
            return i
    return first


def is_capitalised(rows: np.ndarray, span: Span) -> bool:
    return bool(rows["flags"][span.first] & CAPITALISED)


__all__ = ["KINDS", "KIND_ID", "Span", "candidates", "DEPS"]
