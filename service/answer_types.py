"""What kind of answer a question expects, read from its wording."""

from __future__ import annotations

import re
from enum import StrEnum


class AnswerType(StrEnum):
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    ORG = "org"
    PLACE = "place"
    OTHER = "other"  # free text: why, what kind of, how ...


# Entity labels (spaCy's OntoNotes scheme) that can answer each type, best first.
ENTITY_LABELS: dict[AnswerType, tuple[str, ...]] = {
    AnswerType.NUMBER: ("CARDINAL", "QUANTITY", "MONEY", "PERCENT", "NUMBER"),
    AnswerType.DATE: ("DATE", "TIME"),
    AnswerType.PERSON: ("PERSON",),
    AnswerType.ORG: ("ORG", "NORP"),
    AnswerType.PLACE: ("GPE", "LOC", "FAC"),
    AnswerType.OTHER: (),
}
# Labels that are a weaker fit: "Who claimed the attacks?" is often answered by a group.
FALLBACK_LABELS: dict[AnswerType, tuple[str, ...]] = {
    AnswerType.PERSON: ("ORG", "NORP"),
    AnswerType.ORG: ("PERSON", "GPE"),
    AnswerType.PLACE: ("ORG", "NORP"),
}

_ORG_NOUNS = (
    r"group|groups|organi[sz]ation|organi[sz]ations|company|companies|agency|agencies|party|"
    r"alliance|militia|militias|coalition|team|club|firm|network|body|union|bank|ministry|"
    r"government|court|council|committee|movement|band|brand|automaker|carmaker|manufacturer|"
    r"retailer|airline|university|school|newspaper|outlet|league|franchise|network|studio|"
    r"publisher|startup|regulator|department|agency|institution|charity|union|commission|board|"
    r"panel|authority|tribunal|parliament|legislature|administration|corporation|faction|cartel|"
    r"gang|conglomerate|broadcaster|network"
)
_PLACE_NOUNS = (
    r"country|countries|city|cities|state|states|province|region|town|nation|continent|capital|"
    r"island|base|place|county|neighbou?rhood|venue|stadium|airport|river|ocean|sea|mountain|"
    r"park|location|port|village|border|superpower|site|district"
)
_DATE_NOUNS = r"year|date|day|month|week|decade|century|time|moment|period|era|season"
_PERSON_NOUNS = (
    r"person|man|woman|general|spokesman|spokesperson|minister|president|leader|official|"
    r"actor|actress|singer|player|senator|governor|judge|ceo|founder|author|athlete|star|coach|"
    r"rapper|musician|writer|director|host|candidate|nominee|winner|champion|journalist|"
    r"executive|chef|quarterback|pitcher|golfer|boxer|lawmaker|mayor|king|queen|prince|princess|"
    r"pope|chancellor|prosecutor|rapper|comedian|anchor|billionaire|astronaut|secretary|chief|"
    r"chairman|chairwoman|chair|commander|ambassador|envoy|spokeswoman|head|boss|manager|member"
)



def _words(pattern: str) -> frozenset[str]:
    return frozenset(w for w in pattern.split("|") if w.isalpha())


# Head nouns that make an untagged phrase a group, a place or a person ("the supreme Iraqi
# military commission", "Iraq's prime minister").
TYPE_NOUNS: dict[AnswerType, frozenset[str]] = {
    AnswerType.ORG: _words(_ORG_NOUNS), AnswerType.PLACE: _words(_PLACE_NOUNS),
    AnswerType.PERSON: _words(_PERSON_NOUNS),
}

# Up to two modifiers may stand between "which" and its noun ("which terrorist group").
# A preposition ends the phrase: "which head of state" asks for a head, not a state.
# Nor do verbs and articles belong to it: "What did the president announce?" asks for a thing.
_MODS = (
    r"(?:(?:of|one|ones)\s+(?:the|these|those)\s+)?"  # "which of the companies"
    r"(?:(?!(?:of|in|for|at|on|from|with|to|by|did|does|do|is|are|was|were|has|have|had|will|would|"
    r"can|could|should|the|a|an|this|that|these|those|last|next)\s)[a-z-]+\s+){0,2}?"
)
# "the name of the base", "the name of Iraq's prime minister": the noun after it decides.
_NAME_OF = r"\bname of (?:(?:the|a|an|this|that|its|their)\s+)?(?:[a-z-]+(?:'s|’s)\s+)?" + _MODS

# "What was the magnitude of the quake?", "below what price?": a measure is a number.
_MEASURE_NOUNS = (
    r"magnitude|population|prices?|costs?|temperature|toll|salary|wage|budget|"
    r"valuation|worth|speed|height|length|distance|weight|margin|rate|score|turnout"
)
_MEASURE_MODS = (
    r"average|total|final|new|current|official|estimated|national|annual|minimum|maximum|median|"
    r"unemployment|inflation|interest|gas|death|asking|sale|sales|record"
)
_MEASURE = rf"(?:(?:{_MEASURE_MODS})\s+)*(?:{_MEASURE_NOUNS})\b"
# An age is a number: "at what age", "what age was she" (not "what age group", "in what age").
AGE_ASKED = r"\bat what age\b|\bwhat age (?:is|was|are|were|did|does|do|will)\b"

_RULES: list[tuple[re.Pattern[str], AnswerType]] = [
    (re.compile(r"^\s*(why|how come)\b|\bfor what reason\b|\bwhat (kind|type|sort)s? of\b"
                # an event, even "when the dam broke" or "since"
                r"|\bwhat (?:(?:has|had|will|would) )?happen(?:s|ed|ing)?\b"), AnswerType.OTHER),
    (re.compile(r"\bhow (many|much)\b|\bwhat (percentage|percent|share|proportion|fraction|number|amount)\b"
                rf"|\bhow (old|far|long|big|large|tall|high|often|frequently)\b|{AGE_ASKED}"
                # "below what price?", "What is Tokyo's population?", "What's the death toll?" (not
                # "Which company's prices rose?": that asks for the company)
                rf"|\b(?:what|which)\s+{_MEASURE}"
                rf"|\bwhat(?:['’]s|\s+(?:is|was|are|were))\s+(?:(?:the|its|their)\s+)?(?:[a-z-]+['’]s\s+)?{_MEASURE}"),
     AnswerType.NUMBER),
    (re.compile(rf"^\s*when\b"
                rf"|\b(what|which|in what|in which|on what|on which)\s+{_MODS}({_DATE_NOUNS})\b(?!-)"
                r"|\b(?:from|at|since|until|by) (?:what|which) point\b"
                # "cut short when what happened?": that "when" joins a clause; "what" asks.
                # A quiz's "the highest since:" asks for a time.
                r"|\bwhen\b(?!\s+(?:what|who|whom|which)\b)|\bsince\s*[:?]?\s*$"), AnswerType.DATE),
    (re.compile(rf"\b(what|which)\s+{_MODS}({_ORG_NOUNS})\b|{_NAME_OF}({_ORG_NOUNS})\b(?!['’])"),
     AnswerType.ORG),
    (re.compile(rf"^\s*where\b|\bwhere\b|\b(what|which|in what|in which)\s+{_MODS}({_PLACE_NOUNS})\b"
                r"|\b(?:what|which) (?:foreign|world|regional|nuclear|western|european|colonial|global) powers?\b"
                rf"|{_NAME_OF}({_PLACE_NOUNS})\b(?!['’])"), AnswerType.PLACE),
    (re.compile(rf"^\s*(who|whom|whose)\b|\b(which|what)\s+{_MODS}({_PERSON_NOUNS})\b|\bwho\b"
                rf"|{_NAME_OF}({_PERSON_NOUNS})\b(?!['’])"), AnswerType.PERSON),
]


# "Which virus ...", "what painting ...": the answer names a thing, most often a named entity.
# Not "what did/is/kind of ...", whose answers are clauses or descriptions.
_WHICH_THING = re.compile(
    r"\b(?:which|what)\s+(?!(?:is|are|was|were|did|do|does|has|have|had|will|would|can|could|"
    r"should|might|may|must|kind|type|sort|happened|happens|caused|made|makes|if|about)\b)[a-z]"
)


def asks_which_thing(question: str) -> bool:
    """True for "which NOUN" / "what NOUN" questions.

    >>> asks_which_thing("Which virus is spreading in Europe?")
    True
    >>> asks_which_thing("What did the US do after the attack?")
    False
    """
    return bool(_WHICH_THING.search(question.lower()))


def classify(question: str) -> AnswerType:
    """Expected answer type; unknown wording falls back to free text.

    >>> classify("How many US troops are in Iraq?")
    <AnswerType.NUMBER: 'number'>
    >>> classify("Which group claimed most of the attacks?")
    <AnswerType.ORG: 'org'>
    >>> classify("Why were the talks suspended?")
    <AnswerType.OTHER: 'other'>
    >>> classify("Which continent did the team tour when the season ended?")
    <AnswerType.PLACE: 'place'>
    """
    q = question.lower()
    # The wh-phrase that comes first decides: in "Which continent did she visit when ...?" the
    # later "when" belongs to a subordinate clause. Rule order breaks ties at one position.
    # At one position the longer phrase decides: its last noun is the head ("which party leader"
    # asks for a person, "which city council" for a group).
    found = [(m.start(), -len(m.group()), i, kind) for i, (pattern, kind) in enumerate(_RULES)
             if (m := pattern.search(q))]
    return min(found)[3] if found else AnswerType.OTHER


# Free-text questions whose answer has a recognisable shape in the sentence.
CONDITION = re.compile(
    r"\b(?:under|on) (?:what|which) (?:conditions?|circumstances?|terms?)\b|\bin (?:what|which) circumstances?\b",
    re.I,
)  # not a bare "what condition": "those with what condition?" asks for an illness
FREQUENCY = re.compile(r"\bhow (?:often|frequently)\b|\bat what (?:frequency|intervals?)\b", re.I)
# "How has Washington responded?": the answer is the means ("with several deadly strikes").
MANNER = re.compile(
    r"^\s*how (?:has|have|had|did|does|do|is|are|was|were|will|would|can|could|should|might)\b", re.I
)
# "How is X described?", "What is X?", "Who is X?": X's apposition or predicate describes it.
_DESCRIBED = re.compile(
    r"^\s*how (?:is|are|was|were) (?P<x>.+?) (?:described|characteri[sz]ed|defined|portrayed|labell?ed|"
    r"known|seen|called)\b|^\s*(?:what|who) (?:is|are|was|were) (?P<y>(?!the name\b).+?)\s*\??\s*$",
    re.I,
)
_KIND_OF = re.compile(r"\b(?:what|which) (?:kind|type|sort|form)s? of (?P<noun>[a-z-]+)", re.I)


_NAME_GLUE = {"the", "a", "an", "of", "de", "van", "von", "for", "and", "in"}


def described(question: str) -> str | None:
    """What a definition question asks about, or None.

    >>> described("How is the Islamic Resistance in Iraq described?")
    'the Islamic Resistance in Iraq'
    >>> described("Who is Yehia Rasool?")
    'Yehia Rasool'
    >>> described("Who is the current US secretary of defense?") is None  # a role, not a name
    True
    >>> described("What was Liz Truss caught saying in a recording?") is None
    True
    """
    m = _DESCRIBED.search(question)
    if not m:
        return None
    target = (m.group("x") or m.group("y")).strip()
    # Only a name is described: "What is NATO?", not "What is the current role of ...",
    # "How is the new mayor described?" or "What was Liz Truss caught saying ...?".
    words = [w for w in target.split() if w.lower() not in _NAME_GLUE]
    if not words or len(words) > 6 or not all(w[:1].isupper() for w in words):
        return None
    return target


def kind_of_noun(question: str) -> str | None:
    """The noun of "what kind of NOUN", or None.

    >>> kind_of_noun("What kind of attack killed the soldiers?")
    'attack'
    """
    m = _KIND_OF.search(question)
    return m.group("noun").lower() if m else None




_ROLE = re.compile(
    rf"(?:\b(?:which|what)\s+{_MODS}|{_NAME_OF}|^\s*who (?:is|was|are|were) (?:the |a |an )?{_MODS})"
    rf"(?P<noun>{_PERSON_NOUNS})\b",
    re.I,
)


def role_noun(question: str) -> str | None:
    """The role a person question names.

    >>> role_noun("What is the name of Iraq's prime minister?")
    'minister'
    >>> role_noun("Who is the chief executive of the company?")
    'executive'
    """
    m = _ROLE.search(question)
    if not m:
        return None
    noun, rest = m.group("noun").lower(), question[m.end() :].lower().split()
    while rest and rest[0].strip("?,.") in TYPE_NOUNS[AnswerType.PERSON]:  # "chief executive"
        noun, rest = rest[0].strip("?,."), rest[1:]
    return noun


# "What is the role of X?", "What does X do?": the answer is an activity, a verb with its object.
_ACTIVITY = re.compile(
    r"\bwhat (?:is|are|was|were) (?:the |their |its |his |her |[a-z.-]+(?:'s|’s) )?(?:[a-z-]+ )?"
    r"(?:role|purpose|aim|goal|mission|task|job|function|objective)s?\b"
    r"|\bwhat (?:do|does|did|will|would|should|can|could) .+ do\b"
    r"|\bwhat (?:is|are|was|were) .+ (?:meant|intended|designed|supposed|expected|aimed|set) to\b",
    re.I,
)
# "What would the withdrawal mean for ...?", "What was the result of ...?": a consequence.
CONSEQUENCE = re.compile(
    r"\bwhat (?:would|will|could|might|did|does|do)\b.*\b(?:mean for|lead to|result in)\b"
    r"|\bwhat (?:is|was|were|are|will be|would be) the (?:likely |main )?(?:results?|outcomes?|"
    r"consequences?|effects?|impacts?)\b",
    re.I,
)


def asks_activity(question: str) -> bool:
    """True for questions answered by what someone does.

    >>> asks_activity("What is the current role of US forces in Iraq?")
    True
    >>> asks_activity("What is the capital of Iraq?")
    False
    >>> asks_activity("What are the talks meant to produce?")
    True
    """
    return bool(_ACTIVITY.search(question))
