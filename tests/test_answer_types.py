"""The expected answer type, read from the question's wording."""

from __future__ import annotations

import doctest

import pytest

import service.answer_types as answer_types
from service.answer_types import AnswerType, classify


def test_doctests_pass() -> None:
    assert doctest.testmod(answer_types).failed == 0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many US troops are in Iraq?", AnswerType.NUMBER),
        ("Which continent did the team tour when the season ended?", AnswerType.PLACE),
        ("Which automaker announced a recall this week?", AnswerType.ORG),
        ("Who won the match when it resumed after the rain?", AnswerType.PERSON),
        ("When did the talks resume?", AnswerType.DATE),
        ("Which city will host the next summit?", AnswerType.PLACE),
        ("How many people were hurt when the bridge collapsed?", AnswerType.NUMBER),
        ("Why are the militant groups hostile to the United States?", AnswerType.OTHER),
    ],
)
def test_the_first_wh_phrase_decides(question, expected):
    assert classify(question) is expected
