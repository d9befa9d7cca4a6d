"""From a question to a short, verbatim, cited answer, or an honest "not found"."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from itertools import takewhile

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from index.embedding import Embedder
from service.answer_types import AnswerType
from service.candidates import QuestionForm, candidates, office_clash
from service.citations import make_citation, verify
from service.conflicts import disagrees, same_answer
from service.extraction import Candidate, clause_around, free_text_answer
from service.phrases import anchor_closeness, local_phrase
from service.retrieval import HybridRetriever, SentenceHit, content_words
from service.questions import check_question
from service.schemas import Alternative, Answer, Passage, Timings

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
    "uk": ("u.k.", "britain", "british", "united kingdom"),
}
ABSTAIN_BELOW = 0.5
# "Which of these people ...?", "She appeared in all these films except:": a quiz's options.
_CHOICES = re.compile(
    r"\b(?:which|what|who) (?:one )?of (?:these|those|the following)\b"
    r"|\ball (?:of )?(?:these|the following)\b.*\bexcept\b"
    r"|\bexcept\s*:\s*$|\bwhich of the (?:above|below)\b", re.IGNORECASE)
SENTENCES_CONSIDERED = 4
# Sources disagree when two sentences make the same claim with different values. A rival
# answer counts only when its sentence, answer cut out, is a near paraphrase of a sentence
# giving the chosen answer, answer cut out (cosine >= SAME_CLAIM); matches the question within
# CONFLICT_MARGIN of the chosen one (sentence scores are about 0.3-0.9); and the rival would be
# confident enough to be given itself. Support is compared per sentence, not per candidate: a
# candidate's own score moves with the words of the value. With MiniLM on the dev sets (so
# in-sample): an RGB passage and its edited copy 1.0; other pairs of RGB passages up to 0.92;
# different facts within the seed article at most 0.50.
CONFLICT_MARGIN = 0.05
SAME_CLAIM = 0.9
MAX_ALTERNATIVES = 3
CLASH_PENALTY = 0.15
WEAK_FIT_PENALTY = 0.15
STRANDED_PROX = 0.6  # "negotiating with?": the object of "with" sits that close to the question
# Closeness added to a candidate that fills the asked role of a verb the question uses ("Ford is
# recalling" for "Which automaker recalled?"): proximity alone let "a Tesla recall" win.
ROLE_PROX = 0.3
# A "which N" answer is a name; the clause around it is compared with the question too, at a
# discount: it also holds other names ("Kenyan-led mission ... in the gulf"). At 1.0 "the gulf"
# took "Kenyan"'s place on the harbor test article; 0.8 and 0.9 both held RealTime QA's gains.
CLAUSE_VOUCH = 0.9
_PLACE_LABELS = {"GPE", "LOC"}
# Candidate kinds without a type: a phrase disagreeing with a phrase says nothing.
_UNTYPED = frozenset({"PHRASE", "PLACE_PHRASE", "CLAUSE", "FREE_TEXT", "FREQUENCY", "DESCRIPTION",
                      "KIND_NAME"})


@dataclass(frozen=True)
class Choice:
    sentence: SentenceHit
    start: int  # answer offsets within the sentence
    end: int
    score: float
    context: float  # similarity of the answer's clause to the question
    fit: float
    prox: float  # closeness in the parse tree to the words the question shares with the sentence
    label: str = ""  # the candidate's kind: a spaCy entity label, PHRASE, CLAUSE, ...
    clash: bool = False  # names another place, or holds another office, than the question asks for


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _confidence(choice: Choice) -> float:
    """Confidence rests on the evidence (sentence similarity and shared words), the type fit and
    how close the answer sits to the question's words; a logistic squashes it to [0, 1]."""
    sent = choice.sentence
    raw = 0.45 * sent.dense + 0.3 * sent.overlap + 0.1 * choice.fit + 0.15 * choice.prox
    raw -= CLASH_PENALTY * choice.clash
    raw -= WEAK_FIT_PENALTY * (choice.fit < 0.5)  # "a base" where a name or a place was asked
    return _sigmoid(10 * (raw - 0.4))


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
        return check_question(question, self.max_question_chars)

    def ask(self, question: str, top_k: int | None = None, allowed: np.ndarray | None = None) -> Answer:
        t0 = time.perf_counter()
        q = self.check_question(question)
        k = top_k or self.top_k
        qvec = self.embedder.embed([q])[0]
        hits = self.retriever.search(qvec, q, k, allowed)
        sentences = self.retriever.sentences(qvec, q, hits)[:SENTENCES_CONSIDERED]
        t1 = time.perf_counter()
        form = QuestionForm.of(q)
        kind = form.kind
        passages = [self.passage(h.row, h.score) for h in hits]
        base = dict(question=question, answer_type=kind.value, passages=passages)
        if not sentences:
            return Answer(**base, answer=None, confidence=0.0, reason="The index holds no articles to search.",
                          timings=_timings(t0, t1))
        if _CHOICES.search(q):  # the options are not in the question: any span would be a guess
            reason = "The question picks from choices it does not list; ask about one of them."
            return Answer(**base, answer=None, confidence=0.0, reason=reason, timings=_timings(t0, t1))
        qdoc = self.nlp(q)  # parsed once: subject test and name check both read it
        choices = self._choose(q, qdoc, qvec, form, sentences)
        if not choices:
            best = sentences[0]
            conf = _sigmoid(8 * (0.5 * best.dense + 0.5 * best.overlap - 0.75))
            asked = "reason" if form.why else f"{kind.value} answer"
            return Answer(**base, answer=None, confidence=round(min(conf, 0.49), 3),
                          reason=f"No {asked} found in the closest sentences.",
                          timings=_timings(t0, t1))
        snap = self.retriever.snapshot
        choice = choices[0]
        sent = choice.sentence
        doc = snap.documents[snap.sent_doc[sent.row]]
        s_start, s_end = (int(x) for x in snap.sent_span[sent.row])
        answer_text = doc.text[s_start + choice.start : s_start + choice.end]
        confidence = _confidence(choice)
        reason = None
        missing = missing_constraints(qdoc, doc.text)
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
        alternatives = self._alternatives(qdoc, choice, answer_text, choices[1:])
        t2 = time.perf_counter()
        return Answer(**base, answer=answer_text, confidence=round(confidence, 3), citations=[citation],
                      conflict=bool(alternatives), alternatives=alternatives,
                      timings=_timings(t0, t1, t2))

    def _alternatives(
        self, qdoc: Doc, best: Choice, answer: str, rivals: list[Choice]
    ) -> list[Alternative]:
        """Answers that disagree with ``answer`` and have about as much support: each of the
        same entity type, confident enough to be given on its own, about the question's names,
        from a sentence that matches the question within ``CONFLICT_MARGIN`` of the chosen one
        and makes the same claim as a sentence giving ``answer`` (``rivals`` are best first)."""
        if best.label in _UNTYPED:
            return []
        snap = self.retriever.snapshot
        sentence = snap.sentence_text(best.sentence.row)

        def value(c: Choice) -> str:
            return snap.sentence_text(c.sentence.row)[c.start : c.end]

        support = [best, *(r for r in rivals if same_answer(value(r), answer))]
        rows = {c.sentence.row for c in support}
        contenders: list[Choice] = []
        for rival in rivals:
            if rival.sentence.row in rows or rival.label != best.label:
                continue
            if rival.sentence.score < best.sentence.score - CONFLICT_MARGIN:
                continue
            if _confidence(rival) < ABSTAIN_BELOW:
                continue
            if not disagrees(answer, sentence, value(rival), snap.sentence_text(rival.sentence.row)):
                continue
            contenders.append(rival)
        if not contenders:
            return []
        # The same claim: the sentences read alike once their answers are taken out.
        support = list({c.sentence.row: c for c in reversed(support)}.values())  # one per sentence
        vectors = self.embedder.embed([_without_answer(snap.sentence_text(c.sentence.row), c)
                                       for c in (*support, *contenders)])
        claims, others = vectors[: len(support)], vectors[len(support) :]
        out: list[Alternative] = []
        for rival, vector in zip(contenders, others, strict=True):
            if len(out) == MAX_ALTERNATIVES:
                break
            if float((claims @ vector).max()) < SAME_CLAIM:
                continue
            row = rival.sentence.row
            doc = snap.documents[snap.sent_doc[row]]
            s_start, s_end = (int(x) for x in snap.sent_span[row])
            found = doc.text[s_start + rival.start : s_start + rival.end]
            if any(same_answer(found, a.answer) for a in out):
                continue
            if missing_constraints(qdoc, doc.text):
                continue
            citation = make_citation(doc, s_start, s_end, s_start + rival.start, s_start + rival.end, rival.score)
            if verify(citation, doc, found):
                out.append(Alternative(**citation.model_dump(), answer=found))
        return out

    def _choose(
        self, question: str, qdoc: Doc, qvec: np.ndarray, form: QuestionForm, sentences: list[SentenceHit]
    ) -> list[Choice]:
        """Every candidate answer of the closest sentences, scored, best first (ties keep the
        order of the sentences); empty when none fits the question."""
        snap = self.retriever.snapshot
        texts = [snap.sentence_text(s.row) for s in sentences]
        qstems = set(content_words(question))
        # "At which national park?": a name that says what it is ("Yellowstone National Park")
        # does not repeat the question.
        category = _category(qdoc)
        repeated = qstems - set(content_words(category))
        form = replace(form, category=category or None)
        q_lower = question.lower()
        asks_subject = _asks_for_subject(qdoc)
        asked = _asked_role(qdoc)
        stranded = _stranded_preposition(qdoc)
        q_places = _places(qdoc.ents)
        found: list[tuple[SentenceHit, str, Candidate, float, Span, float, bool, bool]] = []
        for sent, text, doc in zip(sentences, texts, self.nlp.pipe(texts), strict=True):
            anchors = [t for t in doc if not t.is_stop and set(content_words(t.text)) & qstems]
            for cand, root in candidates(doc, form):
                words = set(content_words(cand.text))
                named = any(t.pos_ == "PROPN" for t in root)  # "all 32 teams" is no team's name
                novelty = len(words - (repeated if named else qstems)) / len(words) if words else 1.0
                if _in_question(cand.text, q_lower) or novelty == 0.0:
                    continue
                if cand.label == "PERSON" and words & qstems:
                    continue  # the person the question is about is not its answer

                closeness = anchor_closeness(root, anchors) if anchors else None
                prox = closeness if closeness is not None else 0.15
                if not asks_subject and root.root.dep_ in ("nsubj", "nsubjpass"):
                    prox *= 0.5  # the question names its subject; the answer is another argument
                # "How many US soldiers are in Jordan?" is not answered by "2,500 soldiers in Iraq".
                # (A place asked for may well sit next to another: "Yosemite, in Mariposa County".)
                clash = (form.kind is not AnswerType.PLACE and cand.label not in _UNTYPED
                         and _clashes(q_places, local_phrase(root), root))
                if cand.label == "PERSON" and office_clash(form.role, root):
                    clash = True  # asked for the prime minister, found his spokesman
                # "Whom does he speak for?" -> "spokesman for Iraq's prime minister". It ranks the
                # candidate, not the confidence: the verbs may differ ("glued to" for "call attention to").
                lead = bool(stranded and root.root.dep_ == "pobj" and root.root.head.lower_ == stranded)
                # "for what virus?" -> "the monkeypox virus": the sentence itself says it is one.
                lead = lead or cand.label == "KIND_NAME"
                if _plays_asked_role(root.root, qstems, asked):
                    prox = min(1.0, prox + ROLE_PROX)
                found.append((sent, text, cand, prox, root, novelty, clash, lead))
        if any(f[2].label == "DESCRIPTION" for f in found):  # "How is X described?" and X is
            found = [f for f in found if f[2].label == "DESCRIPTION"]
        if not found:
            if form.kind is not AnswerType.OTHER or form.why:
                return []  # a sentence that states no reason does not answer "why" either
            best = sentences[0]
            start, end = free_text_answer(texts[0])
            return [Choice(best, start, end, best.score, best.dense, 0.5, 0.15, "FREE_TEXT")]
        compared = [_context(text, c, span) for _, text, c, _, span, *_ in found]
        if form.which_thing:
            # A name's own words say nothing of the question ("The Last Supper" for "glued
            # themselves to which painting?"); the clause around it does, as it does for phrases.
            compared += [text[slice(*clause_around(text, c.start, c.end))] for _, text, c, *_ in found]
        sims = self.embedder.embed(compared) @ qvec  # one batch; the embedder embeds a text once
        n = len(found)
        sims = np.maximum(sims[:n], CLAUSE_VOUCH * sims[n:]) if form.which_thing else sims
        choices = [
            Choice(sent, cand.start, cand.end,
                   0.35 * sent.score + 0.3 * float(sim) + 0.15 * (max(prox, STRANDED_PROX) if lead else prox)
                   + 0.15 * cand.fit
                   - 0.01 * max(0, len(span) - 6)
                   - 0.15 * (1.0 - novelty)  # an answer that repeats the question says little
                   - CLASH_PENALTY * clash,
                   float(sim), cand.fit, prox, cand.label, clash)
            for (sent, _, cand, prox, span, novelty, clash, lead), sim in zip(found, sims, strict=True)
        ]
        return sorted(choices, key=lambda c: -c.score)  # stable: the first of equals wins, as before

    def passage(self, row: int, score: float) -> Passage:
        snap = self.retriever.snapshot
        doc = snap.documents[snap.chunk_doc[row]]
        start, end = (int(x) for x in snap.chunk_span[row])
        return Passage(doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
                       text=doc.text[start:end], char_start=start, char_end=end, score=round(score, 5))


def _context(text: str, cand: Candidate, span: Span) -> str:
    """What the candidate says, to compare with the question: its own phrase for entities and
    numbers, the surrounding clause for phrases that are already whole."""
    if cand.label in ("PHRASE", "PLACE_PHRASE", "CLAUSE", "DESCRIPTION"):
        return text[slice(*clause_around(text, cand.start, cand.end))]
    return local_phrase(span).text


def _without_answer(sentence: str, choice: Choice) -> str:
    """The sentence with the answer cut out: what it claims about the answer, whatever it is."""
    return f"{sentence[: choice.start].rstrip()} {sentence[choice.end :].lstrip()}".strip()


def _place_key(name: str) -> str:
    name = name.lower().removeprefix("the ")
    return "us" if name in _ALIASES["us"] or name == "us" else "uk" if name in _ALIASES["uk"] else name


def _places(ents) -> set[str]:
    return {_place_key(e.text) for e in ents if e.label_ in _PLACE_LABELS}


def _clashes(question_places: set[str], phrase: Span, candidate: Span) -> bool:
    """True when the phrase around a candidate names places (the candidate aside) and none is one
    the question names."""
    if not question_places:
        return False
    found = _places(e for e in phrase.doc.ents if phrase.start <= e.start and e.end <= phrase.end
                    and not (candidate.start <= e.start < candidate.end))
    return bool(found) and not found & question_places


_WH_TAGS = ("WP", "WDT", "WRB", "WP$")
# Prepositions whose object undergoes the verb ("sold to X", "voted for X"), unlike "in Texas".
_UNDERGOER_PREPS = {"to", "for", "with", "against", "about"}


def _role(tok: Token) -> tuple[Token, str] | None:
    """The verb a token is an argument of, and whether it does it or undergoes it: "Ford is
    recalling" and "fined by the regulator" do; "Meta was fined", "recalling vehicles" undergo."""
    if tok.dep_ == "nsubj":
        return tok.head, "doer"
    if tok.dep_ in ("nsubjpass", "dobj", "dative", "oprd"):
        return tok.head, "undergoer"
    if tok.dep_ == "pobj" and tok.head.dep_ == "agent":
        return tok.head.head, "doer"
    if tok.dep_ == "pobj" and tok.head.dep_ == "prep" and tok.head.lower_ in _UNDERGOER_PREPS:
        return tok.head.head, "undergoer"
    return None


def _asked_role(qdoc: Doc) -> str:
    """Whether the question asks for who does its verb ("Which automaker recalled...?") or what
    undergoes it ("What is Ford recalling?", "Who was fined?")."""
    wh = next((t for t in qdoc if t.tag_ in _WH_TAGS), None)
    if wh is not None:
        t = wh.head if wh.dep_ == "det" else wh  # "Which automaker": the noun plays the role
        if t.dep_ == "nsubj":
            return "doer"
        if t.dep_ == "nsubjpass":
            return "undergoer"
    return "undergoer" if any(t.dep_ == "nsubj" for t in qdoc) else "doer"


def _plays_asked_role(tok: Token, qstems: set[str], asked: str) -> bool:
    """True when the candidate plays the asked role of a verb the question uses: "Ford ... is
    recalling" for "Which automaker recalled ...?"."""
    found = _role(tok)
    if found is None:
        return False
    verb, role = found
    uses_verb = verb.pos_ in ("VERB", "AUX") and bool(set(content_words(verb.text)) & qstems)
    return uses_verb and role == asked


def missing_constraints(qdoc: Doc, doc_text: str) -> list[str]:
    """Names in the question that the cited article never mentions ("British" troops).

    Only the sentence that asks counts: a quiz's lead-in ("Amid record heat in Britain, ...
    Where was ...?" or "The White House said ... . Which ...?") sets a scene that the
    answering article need not repeat."""
    text = doc_text.replace("’", "'")
    lower = text.lower()
    missing = []
    for ent in _asking_sentence(qdoc).ents:
        if ent.label_ not in _CONSTRAINT_LABELS:
            continue
        name = re.sub(r"^[Tt]he |'s?$", "", ent.text.replace("’", "'"))
        lowered = name.lower()
        # "J. K." is also "J.K." and "JK"; "U.S." is "US".
        initials = re.sub(r"\b(\w)\. (?=\w\.)", r"\1.", lowered)
        variants = (lowered, *_ALIASES.get(lowered, ()), initials, initials.replace(".", ""))
        if not any(_mentions(lower, v) for v in variants) and not any(
                _mentions(text, v) for v in _short_forms(name, ent.label_)):
            missing.append(f"'{ent.text}'")
    return missing


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _short_forms(name: str, label: str) -> tuple[str, ...]:
    """How an article may shorten a name it gives in full elsewhere, matched as written (so
    "Sale" is not "the sale of"): a person by surname ("Chris Sale" -> "Sale"), a group by its
    last two words ("Boston Red Sox" -> "Red Sox"; not "of England")."""
    words = name.split()
    if label == "PERSON" and len(words) > 1 and words[-1][:1].isupper():
        return (words[-1],)
    if label == "ORG" and len(words) > 2 and words[-2][:1].isupper():
        return (" ".join(words[-2:]),)
    return ()


def _asking_sentence(qdoc: Doc) -> Span | Doc:
    """The sentence that asks: the one ending in "?", else the last with a wh-word, else the
    last ("Rushdie, who was attacked, is recovering. Which author...?" asks in the second)."""
    sents = list(qdoc.sents)
    if not sents:
        return qdoc
    asking = [s for s in sents if s.text.rstrip().endswith("?")]
    asking = asking or [s for s in sents if any(t.tag_ in _WH_TAGS for t in s)]
    return (asking or sents)[-1]


def _asks_for_subject(qdoc: Doc) -> bool:
    """True when the wh-word is the subject ("Who claimed...?"), or there is no other subject."""
    wh = [t for t in qdoc if t.tag_ in _WH_TAGS]
    if wh and wh[0].dep_ in ("nsubj", "nsubjpass"):
        return True
    if wh and wh[0].head.dep_ in ("nsubj", "nsubjpass") and wh[0].dep_ == "det":
        return True  # "Which group claimed...?"
    return not any(t.dep_ in ("nsubj", "nsubjpass") and t.tag_ not in ("WP", "WDT") for t in qdoc)


def _category(qdoc: Doc) -> str:
    """The noun a "which" or "what" asks about, with its common modifiers ("which national
    park" -> "national park"; "which Apple product" -> "product": a name stays a repetition);
    empty when there is none."""
    for tok in qdoc:
        if tok.lower_ not in ("which", "what"):
            continue
        if tok.dep_ == "det":
            head = tok.head
        else:  # "At which national park ...?" can parse "which" as the preposition's object
            run = list(takewhile(lambda t: t.pos_ in ("ADJ", "NOUN"), qdoc[tok.i + 1 : tok.i + 4]))
            head = next((t for t in reversed(run) if t.pos_ == "NOUN"), tok)
        if head.pos_ != "NOUN":
            return ""
        mods = [c for c in head.children if c.dep_ in ("amod", "compound") and c.i < head.i
                and c.pos_ != "PROPN"]
        return " ".join(t.text for t in (*mods, head))
    return ""


def _stranded_preposition(qdoc: Doc) -> str | None:
    """The preposition a question ends on, its object being the answer: "negotiating *with*?"."""
    words = [t for t in qdoc if not t.is_punct]
    last = words[-1] if words else None
    # Only a verb's preposition: "the talks were back on?" asks for a day, not for what follows "on".
    if last is not None and last.dep_ in ("prep", "agent") and last.head.pos_ == "VERB" and all(
        c.i < last.i for c in last.children if c.dep_ == "pobj"  # "Whom ... for?", "Which team ... for?"
    ):
        return last.lower_
    return None


def _in_question(candidate: str, question_lower: str) -> bool:
    return candidate.lower().replace("’", "'") in question_lower.replace("’", "'")


def _timings(t0: float, t1: float, t2: float | None = None) -> Timings:
    t2 = t2 or time.perf_counter()
    return Timings(retrieval_ms=round((t1 - t0) * 1000, 2), extraction_ms=round((t2 - t1) * 1000, 2),
                   total_ms=round((time.perf_counter() - t0) * 1000, 2))
