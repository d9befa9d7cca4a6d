"""When do two answers disagree? Pure comparisons of answer strings and their sentences.

The answerer flags a conflict when a second, strongly supported candidate of the same type says
something else (``Answerer._alternatives``); these functions decide the "something else" part.
Values are compared loosely, so that a different wording of the same answer ("three" and "3",
"Tampa" and "Tampa, Florida", "U.S." and "United States") is agreement, not a conflict.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)}
# Words that qualify or frame a value without changing which value it is ("some 900", "the U.S.").
_FILLER = frozenset(
    "a an the some about around nearly almost roughly approximately over under more less fewer "
    "than at least most up to just only".split()
)
# Short names news text uses for the same place; compared after normalisation ("u.s." -> "us").
_SAME_PLACE = {
    "us": "united states", "usa": "united states", "america": "united states",
    "united states of america": "united states", "uk": "united kingdom",
    "britain": "united kingdom", "great britain": "united kingdom",
}


# The reader keys every candidate of a question by its value (hundreds a question), and the same
# evidence sentences come back question after question: a string's value is worked out once.
@lru_cache(maxsize=1 << 16)
def value_tokens(text: str) -> tuple[str, ...]:
    """The words that carry an answer's value: lower-cased, thousands commas and fillers dropped,
    number words as digits, a few country names unified.

    >>> value_tokens("some 2,500 soldiers"), value_tokens("Three"), value_tokens("the U.S.")
    (('2500', 'soldiers'), ('3',), ('united', 'states'))
    """
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    flat = re.sub(r"(?<=\b[a-z])\.(?=[a-z]\b)|(?<=\b[a-z])\.(?=\s|$)", "", flat)  # u.s. -> us
    tokens = [_NUMBER_WORDS.get(t, t) for t in _TOKEN.findall(flat) if t not in _FILLER]
    joined = " ".join(tokens)
    return tuple(_SAME_PLACE.get(joined, joined).split())


def _contains(hay: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def same_answer(a: str, b: str) -> bool:
    """Do ``a`` and ``b`` give the same answer? Equal values, or one names part of the other.

    >>> same_answer("Tampa", "Tampa, Florida"), same_answer("three", "3")
    (True, True)
    >>> same_answer("Liu Yifei", "Yifei Liu"), same_answer("Christophe Gans", "Cristophe Gans")
    (True, True)
    >>> same_answer("$10.4 billion", "$1.39 billion"), same_answer("Norway", "U.S.")
    (False, False)
    """
    ta, tb = value_tokens(a), value_tokens(b)
    if not ta or not tb:
        return a.strip().lower() == b.strip().lower()
    # Same words in another order is the same name ("Liu Yifei", "Yifei Liu").
    if _contains(ta, tb) or _contains(tb, ta) or sorted(ta) == sorted(tb):
        return True
    # A misspelt name is the same name; numbers are never fuzzy ("$1.65" is not "$10.65").
    words_a, words_b = " ".join(ta), " ".join(tb)
    if any(ch.isdigit() for ch in words_a + words_b):
        return False
    return SequenceMatcher(None, words_a, words_b).ratio() >= 0.9


def mentions(sentence: str, value: str) -> bool:
    """Does ``sentence`` state ``value`` (as whole words, after the same normalisation)?

    >>> mentions("Washington has 2,500 soldiers in Iraq and some 900 troops in Syria.", "900")
    True
    """
    return _contains(value_tokens(sentence), value_tokens(value))


def disagrees(answer: str, sentence: str, other: str, other_sentence: str) -> bool:
    """Does ``other`` (found in ``other_sentence``) contradict ``answer`` (from ``sentence``)?

    Only when the values differ and neither sentence states both: a sentence that names both
    values ("up from 12 to 15") is about a change or a comparison, not a disagreement.

    >>> disagrees("Angelique Kerber", "Angelique Kerber won Wimbledon in 2018.",
    ...           "Ashleigh Barty", "Ashleigh Barty won Wimbledon in 2018.")
    True
    >>> disagrees("15", "The toll rose to 15, up from 12.", "12", "Officials said 12 died.")
    False
    """
    if same_answer(answer, other):
        return False
    return not mentions(sentence, other) and not mentions(other_sentence, answer)
