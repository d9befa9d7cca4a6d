"""Candidate answers in one sentence for one question: typed entities first, then the phrases
the question's wording calls for (a clause for "why", the means for "how did", ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span

from service.answer_types import (
    AGE_ASKED,
    CONDITION,
    CONSEQUENCE,
    FREQUENCY,
    MANNER,
    TYPE_NOUNS,
    AnswerType,
    asks_activity,
    asks_which_thing,
    classify,
    described,
    kind_of_noun,
    role_noun,
)
from service.extraction import (
    FREQUENCY_PHRASE,
    WHY,
    YEAR_IN,
    Candidate,
    calendar_date,
    causal_clause,
    conditional_clause,
    consequence_clause,
    entity_candidates,
    named_candidates,
)
from service.phrases import (descriptions, kind_names, means_phrases, noun_phrases, place_phrases,
                             verb_phrases)


PROPER_FIT = 0.6  # an untagged proper noun for a group or place question
HOLDER_FIT = 0.5  # a named place's or body's office for a person question: not a weak fit
KIND_WORD_FIT = 0.9  # "the monkeypox virus": a common noun fused to the asked kind may name one
YEARLESS_FIT = 0.3  # of a date's fit, when the question asks for a year and the date has none
# "After how many years together?", "for how long?": the answer is a span of time, which the
# tagger calls a DATE or a TIME ("nine years", "187 minutes", "3 months"), not a CARDINAL.
_TIME_UNITS = "second|minute|hour|day|week|month|year|decade"
_DURATION_ASKED = re.compile(rf"\bhow many\s+(?:more\s+)?({_TIME_UNITS})s?\b", re.IGNORECASE)
# "How long is the bridge?" and "How long will the pipeline be?" may ask for a length; "for how
# long", "how long did/has" ask for time.
_HOW_LONG = re.compile(r"\b(?:for how long|how long (?:did|does|do|has|have|had)\b)", re.IGNORECASE)
# A point in time, not a span: "3 weeks ago", "two days later".
_POINT = re.compile(r"\b(?:ago|later|earlier|before|after)$", re.IGNORECASE)
# "How old is he?": the tagger calls an age a DATE ("101-year-old", "aged 40", "at age 73").
_AGE_ASKED = re.compile(rf"\bhow old\b|{AGE_ASKED}", re.IGNORECASE)
_AGE = re.compile(r"^\d{1,3}(?:[- ]years?[- ]old)?$|\bage(?: of)? \d{1,3}$", re.IGNORECASE)
# "What year did it debut?" is answered by a year, not by "Wednesday" (nor "which year-round").
_YEAR_ASKED = re.compile(r"\b(?:what|which)\s+year\b(?!-)", re.IGNORECASE)
# "Which two schools ...?": the answer names several things at once (not "which two-year deal").
_SEVERAL = re.compile(r"\b(?:which|what)\s+(?:two|three|four|five)(?![-\w])", re.IGNORECASE)


@dataclass(frozen=True)
class QuestionForm:
    """What the wording of a question says about its answer; read once per question."""

    kind: AnswerType
    why: bool = False
    condition: bool = False
    consequence: bool = False
    frequency: bool = False
    manner: bool = False
    which_thing: bool = False
    kind_of: str | None = None  # "what kind of attack" -> "attack"
    described: frozenset[str] = frozenset()  # "How is X described?" -> X's words
    role: str | None = None  # "the name of Iraq's prime minister" -> "minister"
    activity: bool = False  # "What is the role of X?": what X does
    duration: str | None = None  # "how many years" -> "year"; "for how long" -> any unit of time
    year: bool = False  # "What year ...?"
    age: bool = False  # "How old ...?"
    several: bool = False  # "Which two schools ...?"
    category: str | None = None  # "which virus" -> "virus" (set from the parse: ``Answerer``)

    @classmethod
    def of(cls, question: str) -> QuestionForm:
        kind, target = classify(question), described(question)
        return cls(
            kind=kind, why=bool(WHY.match(question)), condition=bool(CONDITION.search(question)),
            consequence=bool(CONSEQUENCE.search(question)), frequency=bool(FREQUENCY.search(question)),
            # "How did X respond?" asks for a means; "How many ...", "How is X described?" do not.
            manner=bool(MANNER.match(question)) and kind is AnswerType.OTHER and target is None,
            which_thing=asks_which_thing(question), kind_of=kind_of_noun(question),
            described=frozenset(w.lower() for w in target.split() if w[:1].isupper()) if target else frozenset(),
            role=role_noun(question), activity=asks_activity(question),
            duration=_duration(question), year=bool(_YEAR_ASKED.search(question)),
            age=bool(_AGE_ASKED.search(question)),
            several=bool(_SEVERAL.search(question)),
        )


def _duration(question: str) -> str | None:
    """The unit of time a question asks a span of (a pattern for ``re``), or None."""
    if m := _DURATION_ASKED.search(question):
        return m.group(1).lower()
    return f"(?:{_TIME_UNITS})" if _HOW_LONG.search(question) else None


def candidates(doc: Doc, form: QuestionForm) -> list[tuple[Candidate, Span]]:
    """Every candidate answer of the sentence ``doc`` with its span, best-fitting kinds first."""
    kind = form.kind
    out = [(c, _span(doc, c)) for c in entity_candidates(doc, kind)]
    if form.role and kind is AnswerType.PERSON:  # "Which minister ...?": a person, not a group
        out = [(c, span) for c, span in out if c.fit == 1.0]
    if form.duration:  # "nine years", not "a 23-year-old"; a bare count is a weak fit
        unit = re.compile(rf"(?<![-\w]){form.duration}s?\b(?!-)", re.IGNORECASE)
        out = _weakened(out)
        out += [(_phrase(e, e.label_, 1.0), e) for e in doc.ents if e.label_ in ("DATE", "TIME")
                and unit.search(e.text) and not _POINT.search(e.text)
                and (any(t.like_num for t in e) or e[0].lower_ in ("a", "an"))]  # "a decade"
    if form.age:  # an age, not a count ("millions")
        out = _weakened(out)
        out += [_age(doc, e) for e in doc.ents if e.label_ == "DATE" and _AGE.search(e.text)]
    if form.year:  # a date without a year is a weak answer ("Wednesday")
        out = [(replace(c, fit=c.fit * YEARLESS_FIT), span)
                if c.label in ("DATE", "TIME") and not YEAR_IN.search(c.text) else (c, span)
                for c, span in out]
    if form.frequency:
        out = [_times(doc, c, span) for c, span in out]
        out += [(_phrase(s, "FREQUENCY", 1.0), s) for s in _frequency_phrases(doc)]
    if kind is AnswerType.PLACE:
        out += [(_phrase(p, "PLACE_PHRASE", 0.8), p) for p in place_phrases(doc)]
    if kind in TYPE_NOUNS:
        # Groups, places and people are often untagged noun phrases; their head noun tells.
        nouns = TYPE_NOUNS[kind]
        typed, low = (0.4, None) if kind is AnswerType.PERSON else (0.8, 0.3)
        if form.role:
            typed = 0.0  # "the name of the minister" asks for a name, not a description
        for p in noun_phrases(doc):
            if typed and (p.root.lower_ in nouns or p.root.lemma_.lower() in nouns) and _modified(p):
                # "Iraq's prime minister" names one person, as a name does; "a spokesman" does not.
                fit = HOLDER_FIT if kind is AnswerType.PERSON and _office_holder(p) else typed
                out.append((_phrase(p, "PHRASE", fit), p))
            elif low is not None:
                # A proper noun the tagger missed ("Sheetz") is likelier a name than "a base".
                out.append((_phrase(p, "PHRASE", PROPER_FIT if _proper(p) else low), p))
    if form.described and (found := descriptions(doc, form.described)):
        # "How is X described?": where the sentence describes X, that is the answer.
        return [(_phrase(p, "DESCRIPTION", 1.0), p) for p in found]
    if kind is AnswerType.OTHER:
        out += _free_text(doc, form)
    if form.several and (groups := _coordinated(doc)):  # "USC and UCLA", not "UCLA" alone
        out = _weakened(out)
        out += [(_phrase(g, g[0].ent_type_ or "PHRASE", 1.0), g) for g in groups]
    return [(c, span) for c, span in out if span is not None and len(span)]


def _coordinated(doc: Doc) -> list[Span]:
    """Names joined by "and" or commas, from the first to the last: "France, Germany and Italy"."""
    by_root = {e.root.i: e for e in doc.ents}
    out = []
    for ent in doc.ents:
        if ent.root.dep_ == "conj":
            continue  # a later conjunct: its group starts at the first
        tok, last = ent.root, ent
        while nxt := [c for c in tok.children if c.dep_ == "conj" and c.i in by_root]:
            tok = nxt[0]
            last = by_root[tok.i]
        if last is not ent:
            out.append(doc[ent.start : last.end])
    return out


def _free_text(doc: Doc, form: QuestionForm) -> list[tuple[Candidate, Span]]:
    if form.why or form.condition or form.consequence:
        # A reason, a condition or a consequence is a clause, not a noun phrase: only such
        # clauses compete.
        if form.why:
            found = causal_clause(doc)
        elif form.condition:
            found = conditional_clause(doc.text)
        else:
            found = consequence_clause(doc.text)
        if found is None:
            return []
        span = doc.char_span(*found, alignment_mode="expand")
        return [(Candidate(*found, doc.text[found[0] : found[1]], "CLAUSE", 1.0), span)]
    out: list[tuple[Candidate, Span]] = []
    named = named_candidates(doc) if form.which_thing else []
    if form.which_thing:  # "which virus": a name beats a description
        out += [(c, _span(doc, c)) for c in named]
        if form.category:  # ... and most of all a name the sentence gives as a virus
            out += [(_phrase(p, "KIND_NAME", 1.0 if as_name else KIND_WORD_FIT), p)
                    for p, as_name in kind_names(doc, form.category)]
    if form.manner:
        out += [(_phrase(p, "PHRASE", 0.9), p) for p in means_phrases(doc)]
    if form.activity:
        out += [(_phrase(p, "PHRASE", 0.9), p) for p in verb_phrases(doc)]
    for p in noun_phrases(doc):
        if form.kind_of and form.kind_of in (p.root.lemma_.lower(), p.root.lower_) and len(p) > 1:
            out.append((_phrase(p, "PHRASE", 1.0), p))  # "what kind of attack" -> "a drone attack"
        elif calendar_date(p) or (named and _bare(p)):
            # "What is the biggest threat?" is not answered by "Sunday" (a holiday's name may be),
            # nor "which virus outbreak?" by "the response" when the sentence names things: an
            # article and a noun do not. ("Which animal escaped?" "A giraffe": nothing is named.)
            out.append((_phrase(p, "PHRASE", 0.3), p))
        else:
            # Ties go to the longer phrase ("a re-emergence of ISIS terrorists" over "a re-emergence").
            out.append((_phrase(p, "PHRASE", 0.6 + 0.002 * len(p)), p))
    return out


def _frequency_phrases(doc: Doc) -> list[Span]:
    spans = (doc.char_span(m.start(), m.end(), alignment_mode="expand") for m in FREQUENCY_PHRASE.finditer(doc.text))
    return [s for s in spans if s is not None]


def _times(doc: Doc, cand: Candidate, span: Span | None) -> tuple[Candidate, Span | None]:
    """For "how often": "more than 165" followed by "times" is the answer with it; a bare count
    is a weak fit."""
    if re.match(r" times\b", doc.text[cand.end :], re.IGNORECASE):
        end = cand.end + len(" times")
        return Candidate(cand.start, end, doc.text[cand.start : end], cand.label, cand.fit), doc.char_span(
            cand.start, end, alignment_mode="expand")
    return replace(cand, fit=cand.fit * 0.5), span


def _age(doc: Doc, ent: Span) -> tuple[Candidate, Span | None]:
    """The years of an age: "101" of "101-year-old", "73" of "the age of 73" (``_AGE`` matched,
    so there are digits)."""
    m = re.search(r"\d{1,3}", ent.text)
    start = ent.start_char + m.start()
    cand = Candidate(start, start + len(m.group()), m.group(), ent.label_, 1.0)
    return cand, _span(doc, cand)


def _weakened(found: list[tuple[Candidate, Span | None]]) -> list[tuple[Candidate, Span | None]]:
    """The same candidates at half their fit: a lesser kind than the one asked for ("about 300"
    for "how many months", "UCLA" alone for "which two schools")."""
    return [(replace(c, fit=c.fit * 0.5), span) for c, span in found]


def _span(doc: Doc, cand: Candidate) -> Span | None:
    return doc.char_span(cand.start, cand.end, alignment_mode="expand")


def _phrase(span: Span, label: str, fit: float) -> Candidate:
    return Candidate(span.start_char, span.end_char, span.text, label, fit)


def _modified(span: Span) -> bool:
    """More than an article and the noun: "the franchise" refers back to a name it is not."""
    return any(t.i != span.root.i and t.pos_ not in ("DET", "PRON", "PUNCT") for t in span)


def _bare(span: Span) -> bool:
    """An article (or "this", "that") and a common noun, nothing else: "the response", "a copy"."""
    words = [t for t in span if not t.is_punct]
    return len(words) == 2 and words[0].pos_ == "DET" and words[1].pos_ == "NOUN"


def _office_holder(span: Span) -> bool:
    """The office of a named place or body, which one person holds: "Iraq's prime minister",
    "the French president" (not "a Republican senator", one of many)."""
    root = span.root
    if root.lower_ not in OFFICES and root.lemma_.lower() not in OFFICES:
        return False
    before = [t for t in span if t.i < root.i]
    definite = span[0].lower_ == "the" or any(t.dep_ in ("poss", "case") for t in before)
    return definite and any(t.ent_type_ in ("GPE", "NORP", "ORG") for t in before)


def _proper(span: Span) -> bool:
    """A proper noun the entity tagger left untagged (a tagged one is already a candidate)."""
    if span.root.pos_ != "PROPN" or not span.root.text[:1].isupper():
        return False
    return not any(e.start < span.end and span.start < e.end for e in span.doc.ents)


# Posts a person holds, as opposed to what they are ("star", "player"): a spokesman is not the
# minister he speaks for, but a quarterback can be the star a question asks for.
OFFICES = frozenset({
    "minister", "president", "secretary", "spokesman", "spokeswoman", "spokesperson", "mayor",
    "governor", "chancellor", "ceo", "executive", "chief", "head", "chairman", "chairwoman", "chair",
    "ambassador", "envoy", "prosecutor", "judge", "senator", "king", "queen", "prince", "princess",
    "pope", "general", "commander", "director", "founder", "coach", "manager",
})


def office_clash(role: str | None, span: Span) -> bool:
    """True when a question asks for the holder of one office and the sentence gives this
    person another ("the name of Iraq's prime minister" -> "Yehia Rasool, military spokesman")."""
    if role not in OFFICES:
        return False
    held = titles(span) & OFFICES
    return bool(held) and role not in held


def titles(span: Span) -> set[str]:
    """The roles a sentence gives a person: "General Yehia Rasool, military spokesman for ..."
    -> {"general", "spokesman"}."""
    root = span.root
    words = {t.lower_ for t in root.children if t.dep_ == "compound" and t.i < span.start}
    words |= {t.lower_ for t in span if t.dep_ == "compound" and t.pos_ in ("NOUN", "PROPN") and t.is_title}
    words |= {t.lemma_.lower() for t in root.children if t.dep_ == "appos"}
    return {w for w in words if w in TYPE_NOUNS[AnswerType.PERSON]}
