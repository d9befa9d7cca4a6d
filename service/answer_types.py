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
    r"publisher|startup|regulator|department|agency|institution|charity|union"
)
_PLACE_NOUNS = (
    r"country|countries|city|cities|state|states|province|region|town|nation|continent|capital|"
    r"island|base|place|county|neighbou?rhood|venue|stadium|airport|river|ocean|sea|mountain|"
    r"park|location|port|village|border"
)
_DATE_NOUNS = r"year|date|day|month|week|decade|century|time"
_PERSON_NOUNS = (
    r"person|man|woman|general|spokesman|spokesperson|minister|president|leader|official|"
    r"actor|actress|singer|player|senator|governor|judge|ceo|founder|author|athlete|star|coach|"
    r"rapper|musician|writer|director|host|candidate|nominee|winner|champion|journalist|"
    r"executive|chef|quarterback|pitcher|golfer|boxer|lawmaker|mayor|king|queen|prince|princess|"
    r"pope|chancellor|prosecutor|rapper|comedian|anchor|billionaire|astronaut"
)

# Up to two modifiers may stand between "which" and its noun ("which terrorist group").
_MODS = r"(?:[a-z-]+\s+){0,2}?"

_RULES: list[tuple[re.Pattern[str], AnswerType]] = [
    (re.compile(r"^\s*(why|how come)\b|\bfor what reason\b|\bwhat (kind|type|sort)s? of\b"), AnswerType.OTHER),
    (re.compile(r"\bhow (many|much)\b|\bwhat (percentage|percent|share|proportion|fraction|number|amount)\b"
                r"|\bhow (old|far|long|big|large|tall|high|often)\b"), AnswerType.NUMBER),
    (re.compile(rf"^\s*when\b|\b(what|which|in what|in which|on what|on which)\s+{_MODS}({_DATE_NOUNS})\b|\bwhen\b"), AnswerType.DATE),
    (re.compile(rf"\b(what|which)\s+{_MODS}({_ORG_NOUNS})\b"), AnswerType.ORG),
    (re.compile(rf"^\s*where\b|\bwhere\b|\b(what|which|in what|in which)\s+{_MODS}({_PLACE_NOUNS})\b"), AnswerType.PLACE),
    (re.compile(rf"^\s*(who|whom|whose)\b|\b(which|what)\s+{_MODS}({_PERSON_NOUNS})\b|\bwho\b|\bname of the ({_PERSON_NOUNS})\b"), AnswerType.PERSON),
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
    found = [(m.start(), i, kind) for i, (pattern, kind) in enumerate(_RULES) if (m := pattern.search(q))]
    return min(found)[2] if found else AnswerType.OTHER
