"""Untyped answer candidates from the dependency parse: noun phrases and prepositional phrases.

For "what" questions there is no entity type to look for. The answer is usually a phrase that
hangs off a word the question shares with the sentence ("trying to *prevent* -> a re-emergence
of ISIS terrorists"), so candidates are phrases, scored by their distance in the parse tree to
those shared words.
"""

from __future__ import annotations

from spacy.tokens import Doc, Span, Token

MAX_PHRASE_TOKENS = 14
MAX_DESCRIBED_TOKENS = 120
_NOT_PLACES = {"DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY"}
_COUNTING = {"nummod", "quantmod", "compound", "amod", "det"}  # a number that counts a noun
_PLACE_PREPS = {"in", "at", "outside", "inside", "near", "across", "throughout", "from", "on"}


def _trim(span: Span) -> Span:
    """Drop leading and trailing punctuation, conjunctions and relative clauses' commas."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].is_punct or doc[start].pos_ in ("CCONJ", "SCONJ")):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].pos_ in ("CCONJ", "SCONJ", "ADP")):
        end -= 1
    return doc[start:end]


_OPEN = "“\"‘'([{"
_CLOSE = ".,;:!?”’\")]}'"


def whole_words(span: Span) -> Span:
    """Widen a span to whole words: the parser splits "re-emergence" and may cut inside it."""
    text, a, b = span.doc.text, span.start_char, span.end_char
    while a > 0 and not text[a - 1].isspace() and text[a - 1] not in _OPEN:
        a -= 1
    while b < len(text) and not text[b].isspace():
        b += 1
    while b > a and text[b - 1] in _CLOSE:
        b -= 1
    piece = text[a:b]
    for open_, close in (("“", "”"), ("‘", "’"), ("(", ")")):
        if piece.count(open_) > piece.count(close) and text[b : b + 1] == close:
            b += 1  # keep a quotation whole: "a “progressive pullout”"
    return span.doc.char_span(a, b, alignment_mode="expand") or span


def _subtree(token: Token) -> Span:
    return token.doc[token.left_edge.i : token.right_edge.i + 1]


def noun_phrases(doc: Doc) -> list[Span]:
    """Noun chunks and, when short enough, the full phrase each chunk heads (with its of/for...)."""
    out: list[Span] = []
    for chunk in doc.noun_chunks:
        if chunk.root.pos_ == "PRON":
            continue
        out.append(_trim(chunk))
        full = _trim(_subtree(chunk.root))
        if full.end - full.start <= MAX_PHRASE_TOKENS and (full.start, full.end) != (chunk.start, chunk.end):
            out.append(full)
    return [whole_words(s) for s in out if len(s) > 0]


def place_phrases(doc: Doc) -> list[Span]:
    """Prepositional phrases of place ("in areas outside Syrian government control")."""
    out = []
    for tok in doc:
        if tok.dep_ == "prep" and tok.lower_ in _PLACE_PREPS and tok.head.pos_ in ("VERB", "AUX"):
            objects = [c for c in tok.children if c.dep_ == "pobj"]
            if any(o.ent_type_ in _NOT_PLACES for o in objects):
                continue  # "on Sunday", "in 2014": time, not place
            span = whole_words(_trim(_subtree(tok)))
            if any(t.ent_type_ in _NOT_PLACES and t.dep_ not in _COUNTING for t in span):
                continue  # "from homes and more than 15 [were pulled ...]" ("at two depots" is a place)
            if 1 < len(span) <= MAX_PHRASE_TOKENS:
                out.append(span)
    return out


_MEANS_PREPS = {"with", "by", "through", "via", "using"}
_CLAUSE_DEPS = {"acl", "relcl", "appos", "punct", "cc", "conj"}


def means_phrases(doc: Doc) -> list[Span]:
    """What a verb was done with or by ("retaliated with several deadly strikes"): its object."""
    out = []
    for tok in doc:
        # The passive "by" is an agent (dep "agent"), not a means: it is left out.
        if tok.dep_ == "prep" and tok.lower_ in _MEANS_PREPS and tok.head.pos_ in ("VERB", "AUX"):
            for obj in tok.children:
                if obj.dep_ in ("pobj", "pcomp"):
                    span = whole_words(_trim(_subtree(obj)))
                    if 0 < len(span) <= MAX_PHRASE_TOKENS:
                        out.append(span)
    return out


def verb_phrases(doc: Doc) -> list[Span]:
    """A verb with its object and what follows it: "provide assistance to government forces"."""
    out = []
    for tok in doc:
        objects = [c for c in tok.children if c.dep_ in ("dobj", "dative")]
        if tok.pos_ != "VERB" or not objects:
            continue
        end = max(o.right_edge.i for o in objects)
        for child in tok.rights:  # a prepositional phrase right after the object belongs to it
            if child.dep_ == "prep" and child.i == end + 1:
                end = child.right_edge.i
        span = whole_words(_trim(doc[tok.i : end + 1]))
        if 1 < len(span) <= MAX_PHRASE_TOKENS:
            out.append(span)
    return out


def descriptions(doc: Doc, target: frozenset[str]) -> list[Span]:
    """What the sentence says a named thing is: its apposition ("the Islamic Resistance in Iraq,
    a loose alliance of Iran-backed groups") or the predicate of "X is Y". ``target`` holds the
    lower-cased words of the name."""
    out: list[Span] = []
    if len(doc) > MAX_DESCRIBED_TOKENS:
        return out  # a roster of names and roles: every apposition would walk the whole parse
    for tok in doc:
        if tok.dep_ == "appos":
            named = [t for t in tok.head.subtree if not tok.left_edge.i <= t.i <= tok.right_edge.i]
        elif tok.dep_ == "attr" and tok.head.lemma_ == "be":
            named = [t for c in tok.head.children if c.dep_ in ("nsubj", "nsubjpass") for t in c.subtree]
        else:
            continue
        if not target & {t.lower_ for t in named}:
            continue
        # The noun with its complements, not the clauses hung on it: "a loose alliance of
        # Iran-backed groups" (not "... angered by US support for Israel").
        end = max([tok.i] + [t.right_edge.i for t in tok.rights if t.dep_ not in _CLAUSE_DEPS])
        span = whole_words(_trim(doc[tok.left_edge.i : end + 1]))
        if 0 < len(span) <= MAX_PHRASE_TOKENS:
            out.append(span)
    return out


def tree_distance(a: Token, b: Token) -> int:
    """Edges between two tokens in the dependency tree."""
    ancestors = {a.i: 0}
    for depth, tok in enumerate(a.ancestors, start=1):
        ancestors[tok.i] = depth
    if b.i in ancestors:
        return ancestors[b.i]
    for depth, tok in enumerate(b.ancestors, start=1):
        if tok.i in ancestors:
            return depth + ancestors[tok.i]
    return len(a.doc)  # different sentences of one parse: far apart


def anchor_closeness(span: Span, anchors: list[Token]) -> float | None:
    """Mean of 1/(1+distance) from the phrase's root to each question word outside it.

    The mean, not the nearest: an answer should sit close to all of what the question names.
    """
    outside = [t for t in anchors if not span.start <= t.i < span.end]
    if not outside:
        return None
    return sum(1.0 / (1.0 + tree_distance(span.root, t)) for t in outside) / len(outside)


_MODIFIER_DEPS = {"nummod", "quantmod", "amod", "compound", "det", "poss", "npadvmod"}


def _fused(token: Token) -> bool:
    """A name hyphenated to the participle that modifies a noun: "Iran-backed groups"."""
    part = token.head
    return (token.dep_ == "npadvmod" and part.i == token.i + 2 and token.nbor(1).text == "-"
            and part.dep_ == "amod" and part.head.pos_ in ("NOUN", "PROPN"))


def local_phrase(span: Span) -> Span:
    """The phrase a candidate belongs to: "2,500" -> "2,500 soldiers in Iraq" (conjuncts cut).

    Comparing this phrase with the question tells which of two numbers in one sentence the
    question asks for ("2,500 soldiers in Iraq and some 900 troops in Syria").
    """
    root = span.root
    head = root.head if root.dep_ in _MODIFIER_DEPS and root.head.pos_ in ("NOUN", "PROPN") else root
    if _fused(root):  # "the US-led coalition": the US is the one leading it
        head = root.head.head
    if head.pos_ not in ("NOUN", "PROPN"):
        return span
    tokens = [head] + [
        t for child in head.children if child.dep_ not in ("conj", "cc", "punct", "appos", "relcl")
        for t in child.subtree
    ]
    lo, hi = min(t.i for t in tokens), max(t.i for t in tokens)
    lo, hi = min(lo, span.start), max(hi, span.end - 1)
    return span.doc[lo : hi + 1]


def kind_names(doc: Doc, kind: str) -> list[tuple[Span, bool]]:
    """Names the sentence gives as things of ``kind`` ("virus", "meal kit service"), each with
    whether it is written as a name: the words fused to its noun ("the *BA.5* variant", "the
    *Batgirl* movie"; a common noun too, unsure: "the *monkeypox* virus", "a *flea* collar"; not
    "meal-kit", which the kind already says) or set beside it ("*Seresto*, a flea collar")."""
    *mods, noun = kind.lower().split()
    said = {w for m in mods for w in m.split("-")}
    out: list[tuple[Span, bool]] = []
    for tok in doc:
        if tok.pos_ not in ("NOUN", "PROPN") or noun not in (tok.lower_, tok.lemma_.lower()):
            continue
        if tok.text[:1].isupper() and tok.i > 0:
            continue  # a word of a name ("the Food Safety and Inspection Service"), not a kind
        start = tok.i  # the run of modifiers right before the noun
        while start > 0 and (doc[start - 1].dep_ == "compound" and doc[start - 1].pos_ == "NOUN"
                             or _written_as_name(doc[start - 1])):
            start -= 1
        run = doc[start : tok.i]
        if len(run) and not {w for t in run for w in t.lower_.split("-")} <= said:
            out.append((run, all(_written_as_name(t) for t in run)))
        out += [(_subtree(c), True) for c in tok.rights if c.dep_ == "appos"]
        if tok.dep_ == "appos":  # "Seresto, a flea collar": the name it describes
            out.append((doc[tok.head.left_edge.i : tok.head.i + 1], True))
    return [(whole_words(_trim(s)), named) for s, named in out if 0 < len(s) <= MAX_PHRASE_TOKENS]


def _written_as_name(tok: Token) -> bool:
    """A modifier written as a name: a proper noun, an entity or a word with digits ("Batgirl",
    "BA.5"; not "deadly")."""
    if tok.dep_ not in ("compound", "amod", "nmod"):
        return False
    return tok.pos_ == "PROPN" or bool(tok.ent_type_) or any(c.isdigit() for c in tok.text)
