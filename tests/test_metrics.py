"""eval.metrics: normalisation, number words, qualifiers, EM/F1, ranking, abstention."""

from __future__ import annotations

import doctest
import math

import pytest

import eval.metrics as m
from eval.metrics import (abstention_scores, answers_match, contains_gold, exact_match,
                          hits_at_k, normalize_answer, percentile, reciprocal_rank, token_f1,
                          upstream_normalize, upstream_skips)


def test_doctests_pass() -> None:
    result = doctest.testmod(m)
    assert result.attempted > 10
    assert result.failed == 0


@pytest.mark.parametrize(("raw", "expected"), [
    ("The 2,500 soldiers", "2500 soldiers"),
    ("  An  ISIS   re-emergence. ", "isis re emergence"),
    ("Iraq’s prime minister", "iraqs prime minister"),
    ("“progressive pullout”", "progressive pullout"),
    ("U.S. support", "us support"),
    ("1.5 million", "1.5 million"),
    ("1,234,567.89", "1234567.89"),
    ("1,2", "1 2"),  # not a thousands separator
    ("a, b; the end", "b end"),
    ("theatre another", "theatre another"),  # articles only as whole words
    ("", ""),
])
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_upstream_normalize_keeps_articles_and_deletes_punctuation() -> None:
    assert upstream_normalize("The Iran-backed groups.") == "the iranbacked groups"
    assert upstream_normalize("2,500") == "2500"


def test_upstream_normalize_deletes_only_ascii_punctuation() -> None:
    # As upstream (string.punctuation): curly quotes and dashes stay, so they cost an EM.
    assert upstream_normalize("“Top Gun:  Maverick”") == "“top gun maverick”"
    assert upstream_normalize("Biden – again") == "biden – again"
    assert exact_match("“Top Gun”", ["Top Gun"]) == 0.0
    assert exact_match("Top Gun!", ["top gun"]) == 1.0


def test_upstream_skips_except_questions_like_the_upstream_scorer() -> None:
    assert upstream_skips("He starred in all of these films except:")
    assert upstream_skips("All of these are true EXCEPT")
    assert not upstream_skips("Except for Ohio, which state voted first?")  # not in the last 10


@pytest.mark.parametrize(("pred", "gold"), [
    ("2,500", ["2500"]),
    ("2500", ["2,500"]),
    ("three", ["3"]),
    ("3", ["three"]),
    ("nine hundred", ["900"]),
    ("twenty-five", ["25"]),
    ("two thousand five hundred", ["2,500"]),
    ("2.5 million", ["2,500,000"]),
    ("some 900", ["900"]),
    ("900", ["some 900"]),
    ("more than 165", ["165"]),
    ("165", ["more than 165"]),
    ("165 times", ["more than 165 times"]),
    ("nearly 900", ["about 900"]),
    ("approximately 2,500", ["2500"]),
    ("The Islamic Resistance in Iraq", ["islamic resistance in iraq"]),
    ("2,500 soldiers", ["2500"]),
    ("three US military personnel", ["three"]),  # gold + 3 tokens
    ("General Yehia Rasool", ["Yehia Rasool"]),
    ("in Baghdad", ["Baghdad"]),
    ("nope", ["x", "Nope."]),  # any gold answer will do
])
def test_answers_match_accepts(pred: str, gold: list[str]) -> None:
    assert answers_match(pred, gold)


@pytest.mark.parametrize(("pred", "gold"), [
    (None, ["2500"]),
    ("", ["2500"]),
    ("900", ["2,500"]),
    ("9", ["900"]),
    ("12500", ["2500"]),  # not a whole-token match
    ("thirty", ["3"]),
    ("Syria", ["Iraq"]),
    ("2,500 soldiers in Iraq and some 900", ["2500"]),  # 6 extra tokens > 4
    ("Yehia", ["Yehia Rasool"]),  # the prediction must contain the gold, not the reverse
    ("165", ["more than 165 times"]),  # so gold lists carry short variants ("165")
    ("anything", []),
    ("the", ["the"]),  # empty after normalisation
])
def test_answers_match_rejects(pred: str | None, gold: list[str]) -> None:
    assert not answers_match(pred, gold)


def test_answers_match_extra_token_limit_is_four() -> None:
    assert answers_match("2500 a b c d", ["2500"])  # "a" is an article, dropped: 3 extra
    assert answers_match("2500 w x y z", ["2500"])
    assert not answers_match("2500 v w x y z", ["2500"])


def test_qualifiers_are_only_stripped_at_the_start() -> None:
    assert m._strip_qualifiers(["more", "than", "about", "900"]) == ["900"]
    assert m._strip_qualifiers(["took", "over", "mosul"]) == ["took", "over", "mosul"]
    assert m._strip_qualifiers(["some"]) == ["some"]  # never strips an answer away entirely
    assert answers_match("over 900", ["900"])
    assert not answers_match("over", ["900"])


def test_exact_match_upstream_style() -> None:
    assert exact_match("2,500", ["2500"]) == 1.0
    assert exact_match("the United States", ["United States"]) == 0.0  # no article removal
    assert exact_match("United States.", ["x", "united states"]) == 1.0
    assert exact_match(None, ["x"]) == 0.0
    assert exact_match(None, []) == 1.0 and exact_match("x", []) == 0.0


def test_token_f1_upstream_style() -> None:
    # pred 3 tokens, gold 2 tokens, 2 shared: P=2/3, R=1 -> F1=0.8
    assert token_f1("some 900 troops", ["900 troops"]) == pytest.approx(0.8)
    # "the" counts as a token upstream: P=1/2, R=1/1 -> 2/3
    assert token_f1("the Baghdad", ["Baghdad"]) == pytest.approx(2 / 3)
    assert token_f1("a b", ["c", "b c"]) == pytest.approx(0.5)  # best over gold
    assert token_f1("Baghdad", ["Jordan"]) == 0.0
    assert token_f1(None, ["Jordan"]) == 0.0
    assert isinstance(token_f1("x", ["x"]), float)


def test_contains_gold() -> None:
    assert contains_gold("Washington has 2,500 soldiers", ["2500"])
    assert not contains_gold("12,500 soldiers", ["2500"])
    assert not contains_gold(None, ["2500"])
    assert not contains_gold("anything", [""])


def test_hits_and_reciprocal_rank() -> None:
    ranked = ["d1", "d2", "d3", "d4"]
    assert hits_at_k(ranked, {"d3"}, 2) == 0.0
    assert hits_at_k(ranked, {"d3"}, 3) == 1.0
    assert hits_at_k(ranked, set(), 4) == 0.0
    assert reciprocal_rank(ranked, {"d3", "d4"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"d4"}, k=3) == 0.0
    assert reciprocal_rank([], {"d1"}) == 0.0
    with pytest.raises(ValueError):
        hits_at_k(ranked, {"d1"}, 0)


def test_percentile_matches_numpy_linear() -> None:
    np = pytest.importorskip("numpy")
    values = [12.0, 3.5, 40.0, 7.25, 19.0, 8.0]
    for p in (0, 10, 50, 90, 95, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_abstention_scores() -> None:
    rows = [
        {"answerable": False, "abstained": True},
        {"answerable": False, "abstained": True},
        {"answerable": False, "abstained": False},
        {"answerable": True, "abstained": True},
        {"answerable": True, "abstained": False},
    ]
    s = abstention_scores(rows)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["rate"] == pytest.approx(3 / 5)
    assert (s["n"], s["n_abstained"], s["n_unanswerable"]) == (5, 3, 3)


def test_abstention_scores_zero_over_zero_is_none() -> None:
    never = abstention_scores([{"answerable": True, "abstained": False}])
    assert never["precision"] is None and never["recall"] is None and never["rate"] == 0.0
    empty = abstention_scores([])
    assert empty["precision"] is None and empty["recall"] is None and empty["rate"] is None


def test_abstention_scores_accepts_objects() -> None:
    class Row:
        answerable = False
        abstained = True

    assert abstention_scores([Row()])["recall"] == 1.0


def test_calibration_skips_what_it_cannot_judge_and_rejects_no_bins() -> None:
    from eval.metrics import calibration

    c = calibration([(float("nan"), True), (0.85, True), (0.55, False)])
    assert c["n"] == 2 and [b["n"] for b in c["bins"]] == [1, 1]
    assert c["ece"] == pytest.approx((0.15 + 0.55) / 2)
    with pytest.raises(ValueError):
        calibration([(0.5, True)], bins=0)
