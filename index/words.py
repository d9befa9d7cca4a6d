"""Words as the reader compares them: lower-cased, stemmed, stopwords dropped, and hashed to a
key that the index stores per token and the query side computes for the question's words."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,'’-][A-Za-z0-9]+)*")
STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does
    did has have had how many much what which who whom whose when where why will would can could
    this that these those it its as about into than then there their they he she his her i you we
    our us if not no so such up out over under all any some more most other same own just also""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of one lower-cased word ("soldiers" -> "soldier"); news reuses its words."""
    return _stemmer().stemWord(word)


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords ("US" is kept: it is a name)."""
    # "Iraq's" and "Iraq’s" are the word "Iraq".
    words = [w.removesuffix("'s") for w in _WORD.findall(text.replace("’", "'"))]
    return [stem(w.lower()) for w in words if w.lower() not in STOPWORDS or w == "US"]


def word_key(token: str) -> int:
    """A stable 32-bit key of one token's stem; 0 for stopwords, punctuation and blanks.

    >>> word_key("Soldiers") == word_key("soldier") != 0, word_key("the"), word_key(",")
    (True, 0, 0)
    """
    stems = content_words(token)
    if not stems or token[:1] in "'’":  # a clitic the tokenizer split off ("'s", "n't")
        return 0
    return stem_key(stems[0])


def stem_key(stem_: str) -> int:
    """The key of a stem (``content_words`` gives stems); never 0, which means "no word"."""
    return zlib.crc32(stem_.encode("utf-8")) or 1
