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
        # A "when" that joins a clause to "what happened" asks nothing itself.
        ("The debate was cut short when what happened?", AnswerType.OTHER),
        ("What happened when the dam broke?", AnswerType.OTHER),
        ("What has happened since?", AnswerType.OTHER),
        ("Which year-round market opened?", AnswerType.OTHER),  # not a year
        ("At what age did she retire?", AnswerType.NUMBER),
        # A quiz's stem: "the highest since:" asks for a time.
        ("It was the largest rate rise since:", AnswerType.DATE),
    ],
)
def test_the_first_wh_phrase_decides(question, expected):
    assert classify(question) is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was the magnitude of the earthquake?", AnswerType.NUMBER),
        ("The average fare fell below what price?", AnswerType.NUMBER),
        ("What is the population of the island?", AnswerType.NUMBER),
        ("What was the final death toll?", AnswerType.NUMBER),
        ("Which company raised prices?", AnswerType.ORG),  # the company, not the prices
        ("Which company’s prices rose?", AnswerType.ORG),
        ("What's the death toll?", AnswerType.NUMBER),
        ("What is Tokyo’s population?", AnswerType.NUMBER),
        ("What did the study find about the death rate?", AnswerType.OTHER),
        # "this week" is when, not what: the minister visited a place
        ("The minister made a visit to which city this week?", AnswerType.PLACE),
    ],
)
def test_a_measure_is_a_number_and_a_time_phrase_is_not_the_wh_noun(question, expected):
    assert classify(question) is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which virus is spreading in Europe?", True),
        ("What painting did the protesters glue themselves to?", True),
        ("What did the US do after the attack?", False),
        ("What kind of attack killed the soldiers?", False),
        ("Why did the talks stall?", False),
    ],
)
def test_which_noun_questions_ask_for_a_named_thing(question, expected):
    assert answer_types.asks_which_thing(question) is expected


def test_a_stem_ending_in_because_asks_why():
    from service.candidates import QuestionForm

    assert QuestionForm.of("The buyer received 86 extra lots because:").why
    assert not QuestionForm.of("Who resigned because of the scandal?").why


def test_an_age_group_is_not_an_age():
    assert classify("What age group is eligible?") is not AnswerType.NUMBER
