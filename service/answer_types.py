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
    r"government|court|council|committee|movement|band|brand"
)
_PLACE_NOUNS = r"country|countries|city|cities|state|province|region|town|nation|continent|capital|island|base|place"
_DATE_NOUNS = r"year|date|day|month|week|decade|century|time"
_PERSON_NOUNS = (
    r"person|man|woman|general|spokesman|spokesperson|minister|president|leader|official|"
    r"actor|actress|singer|player|senator|governor|judge|ceo|founder|author"
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


def classify(question: str) -> AnswerType:
    """Expected answer type; unknown wording falls back to free text.

    >>> classify("How many US troops are in Iraq?")
    <AnswerType.NUMBER: 'number'>
    >>> classify("Which group claimed most of the attacks?")
    <AnswerType.ORG: 'org'>
    >>> classify("Why were the talks suspended?")
    <AnswerType.OTHER: 'other'>
    """
    q = question.lower()
    for pattern, kind in _RULES:
        if pattern.search(q):
            return kind
    return AnswerType.OTHER
