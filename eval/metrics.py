"""Scoring functions of the eval: pure, no model, no I/O. Every function returns plain values.

Two families live here:

* our **answer accuracy** (:func:`answers_match`), number- and qualifier-aware, which is what
  "answer accuracy" means in our reports;
* the **upstream RealTime QA** figures (:func:`exact_match`, :func:`token_f1`), kept as secondary
  numbers comparable with that benchmark's ``scripts/utils/tools.py``.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

_APOSTROPHES = "'\u2018\u2019\u02bc"
_NUM_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUM_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_POINT_MARK = "\x00"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen twenty").split()
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_SMALL)} | _TENS
SCALE_WORDS: dict[str, int] = {"hundred": 100, "thousand": 10**3, "million": 10**6,
                               "billion": 10**9}
#: Leading words stripped before comparing (after normalisation, so "more than" is two tokens).
QUALIFIERS: tuple[tuple[str, ...], ...] = (
    ("more", "than"), ("some",), ("about",), ("around",), ("nearly",), ("over",), ("almost",),
    ("roughly",), ("approximately",),
)
#: How many tokens a prediction may exceed a gold answer it contains and still count as correct.
MAX_EXTRA_TOKENS = 4


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize_answer(s: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace.

    Thousands separators ("2,500") are dropped and decimal points inside numbers kept; apostrophes and
    other full stops are deleted ("U.S." -> "us", "Iraq's" -> "iraqs"); any other punctuation,
    ASCII or Unicode (curly quotes, dashes), becomes a space ("Iran-backed" -> "iran backed").

    >>> normalize_answer("The 2,500 U.S. soldiers!")
    '2500 us soldiers'
    >>> normalize_answer("a “progressive pullout” of 1.5  units")
    'progressive pullout of 1.5 units'
    """
    s = _NUM_POINT.sub(_POINT_MARK, _NUM_COMMA.sub("", s.lower()))
    out = []
    for ch in s:
        if ch in _APOSTROPHES or ch == ".":
            continue
        out.append(" " if _is_punct(ch) else ch)
    s = "".join(out).replace(_POINT_MARK, ".")
    return " ".join(_ARTICLES.sub(" ", s).split())


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _unit_fits(current: float, value: int) -> bool:
    """May a number word of ``value`` follow the running ``current`` ("twenty" "five": yes)?"""
    rest = current % 100
    if 1 <= value <= 9:
        return rest == 0 or (rest >= 20 and rest % 10 == 0)
    return rest == 0


def _canonical_tokens(s: str) -> list[str]:
    """Normalised tokens with numbers in digits: "two thousand five hundred" -> ["2500"]."""
    tokens = normalize_answer(s).split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        starts = tok in NUMBER_WORDS or tok in SCALE_WORDS or (
            _NUMERIC.match(tok) is not None and nxt in SCALE_WORDS)
        if not starts:
            out.append(_fmt_number(float(tok)) if _NUMERIC.match(tok) else tok)
            i += 1
            continue
        total, current, j = 0.0, 0.0, i
        while j < len(tokens):
            t = tokens[j]
            if j == i and _NUMERIC.match(t):
                current = float(t)
            elif t in NUMBER_WORDS and _unit_fits(current, NUMBER_WORDS[t]):
                current += NUMBER_WORDS[t]
            elif t == "hundred" and current < 100:
                current = (current or 1) * 100
            elif t in SCALE_WORDS and t != "hundred":
                total, current = total + (current or 1) * SCALE_WORDS[t], 0.0
            elif (t == "and" and j > i and j + 1 < len(tokens)
                  and tokens[j + 1] in NUMBER_WORDS):
                pass
            else:
                break
            j += 1
        out.append(_fmt_number(total + current))
        i = j
    return out


def _strip_qualifiers(tokens: list[str]) -> list[str]:
    changed = True
    while changed:
        changed = False
        for q in QUALIFIERS:
            if len(tokens) > len(q) and tuple(tokens[: len(q)]) == q:
                tokens, changed = tokens[len(q):], True
    return tokens


def _contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(hay[i: i + n] == needle for i in range(len(hay) - n + 1))


def answers_match(predicted: str | None, gold: Sequence[str]) -> bool:
    """Is ``predicted`` a correct answer given the acceptable ``gold`` answers? ("answer accuracy")

    Both sides are normalised (:func:`normalize_answer`) and number words zero..twenty,
    thirty..ninety, hundred, thousand, million, billion become digits ("three" = "3",
    "nine hundred" = "900", "2.5 million" = "2500000"; "2,500" = "2500" via normalisation).
    Leading qualifiers (:data:`QUALIFIERS`: some, about, around, nearly, more than, over, almost,
    roughly, approximately) may be dropped on either side. The prediction is correct when, for
    some gold answer and some choice of with/without qualifiers on each side:

    1. the token sequences are equal, or
    2. the prediction contains the gold as a contiguous whole-token sub-sequence and is at most
       :data:`MAX_EXTRA_TOKENS` (4) tokens longer ("2,500 soldiers" for gold "2500": correct;
       a whole sentence around the gold: wrong).

    So "some 900" vs gold "900" is correct, and so is "nearly 900" vs gold "about 900" (the
    number is the answer; the qualifier is not judged). ``None`` (an abstention) never matches.

    >>> answers_match("some 900", ["900"]), answers_match("2,500 soldiers", ["2500"])
    (True, True)
    >>> answers_match("three", ["3"]), answers_match("9", ["900"]), answers_match(None, ["3"])
    (True, False, False)
    >>> answers_match("2,500 soldiers in Iraq and some 900", ["2,500"])
    False
    """
    if predicted is None:
        return False
    pred = _canonical_tokens(predicted)
    if not pred:
        return False
    preds = [pred, _strip_qualifiers(pred)]
    for g in gold:
        g_tokens = _canonical_tokens(g)
        if not g_tokens:
            continue
        for gt in (g_tokens, _strip_qualifiers(g_tokens)):
            for pt in preds:
                if pt == gt or (len(pt) - len(gt) <= MAX_EXTRA_TOKENS and _contains(pt, gt)):
                    return True
    return False


def answers_equal(predicted: str, gold: Sequence[str]) -> bool:
    """Is ``predicted`` the same answer as a gold one, word for word after normalisation (numbers
    as digits, a leading qualifier optional on either side)? Stricter than
    :func:`answers_match`, which also accepts a prediction a few words longer: training labels
    need the span itself, not one that contains it.

    >>> answers_equal("some 900", ["900"]), answers_equal("900 troops", ["900"])
    (True, False)
    """
    pred = _canonical_tokens(predicted)
    if not pred:
        return False
    preds = (pred, _strip_qualifiers(pred))
    for g in gold:
        g_tokens = _canonical_tokens(g)
        if g_tokens and any(p == gt for p in preds for gt in (g_tokens, _strip_qualifiers(g_tokens))):
            return True
    return False


def upstream_normalize(s: str) -> str:
    """RealTime QA's normalisation (``scripts/utils/tools.py normalize_answer``), step for step:
    lower-case, delete ASCII ``string.punctuation``, delete the CJK counter words 年 歳 人 년,
    collapse whitespace. No article removal, no number handling, and non-ASCII punctuation
    (curly quotes, dashes) is kept.

    >>> upstream_normalize("The  U.S.-led coalition!")
    'the usled coalition'
    >>> upstream_normalize("“Top Gun” — 2,500")
    '“top gun” — 2500'
    """
    s = "".join(ch for ch in s.lower() if ch not in string.punctuation)
    s = s.replace("年", "").replace("歳", "").replace("人", "").replace("년", "")
    return " ".join(s.split())


def upstream_skips(question: str) -> bool:
    """RealTime QA's generation scorer leaves out "Which ... except:" questions (it looks for
    "except" in the last 10 characters): they are only answerable with the choices.

    >>> upstream_skips("Tom Cruise starred in all of these movies EXCEPT:"), upstream_skips("Who won?")
    (True, False)
    """
    return "except" in question.lower().strip()[-10:]


def _best_over_gold(pred: str | None, gold: Sequence[str], score: Any) -> float:
    if not gold:  # unanswerable (SQuAD 2.0 convention): only an abstention scores
        return 1.0 if not pred else 0.0
    if pred is None:
        return 0.0
    return max(float(score(pred, g)) for g in gold)


def _em(pred: str, gold: str) -> float:
    return float(upstream_normalize(pred) == upstream_normalize(gold))


def _f1(pred: str, gold: str) -> float:
    p, g = upstream_normalize(pred).split(), upstream_normalize(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def exact_match(pred: str | None, gold: Sequence[str]) -> float:
    """Upstream-style exact match, best over ``gold``; empty ``gold`` rewards only abstention.

    >>> exact_match("The Islamic Resistance", ["Islamic Resistance", "the islamic resistance."])
    1.0
    >>> exact_match("2,500", ["2500"]), exact_match(None, ["3"]), exact_match(None, [])
    (1.0, 0.0, 1.0)
    >>> exact_match("some 900", ["900"])
    0.0
    """
    return _best_over_gold(pred, gold, _em)


def token_f1(pred: str | None, gold: Sequence[str]) -> float:
    """Upstream-style token F1 (bag of tokens), best over ``gold``.

    "some 900 troops" vs "900 troops": precision 2/3, recall 2/2, F1 = 0.8.

    >>> token_f1("some 900 troops", ["900 troops", "Syria"])
    0.8
    >>> token_f1("Baghdad", ["Jordan"]), token_f1(None, ["Jordan"])
    (0.0, 0.0)
    """
    return _best_over_gold(pred, gold, _f1)


def contains_gold(pred: str | None, gold: Sequence[str]) -> bool:
    """Does the normalised prediction contain some normalised gold answer as whole tokens?

    >>> contains_gold("2,500 soldiers in Iraq", ["2500"]), contains_gold("12500", ["2500"])
    (True, False)
    """
    if pred is None:
        return False
    hay = f" {normalize_answer(pred)} "
    return any(n and f" {n} " in hay for n in (normalize_answer(g) for g in gold))


def hits_at_k(ranked_ids: Sequence[str], gold_ids: Collection[str], k: int) -> float:
    """1.0 if any of the first ``k`` ranked ids is a gold id, else 0.0.

    >>> hits_at_k(["c", "a", "b"], {"a"}, 1), hits_at_k(["c", "a", "b"], {"a"}, 2)
    (0.0, 1.0)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return 1.0 if any(r in gold_ids for r in ranked_ids[:k]) else 0.0


def reciprocal_rank(ranked_ids: Sequence[str], gold_ids: Collection[str], k: int = 10) -> float:
    """1/rank of the first gold id within the first ``k``, else 0.0.

    >>> reciprocal_rank(["c", "d", "a"], {"a", "b"}), reciprocal_rank(["c", "d", "a"], {"a"}, k=2)
    (0.3333333333333333, 0.0)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    for rank, rid in enumerate(ranked_ids[:k], start=1):
        if rid in gold_ids:
            return 1.0 / rank
    return 0.0


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation, like numpy's default.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95), percentile([7], 99)
    (25.0, 38.5, 7.0)
    >>> percentile([], 50)
    nan
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    xs = sorted(float(v) for v in values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def abstention_scores(rows: Iterable[Any]) -> dict[str, float | int | None]:
    """Abstention precision, recall and rate over rows with ``answerable`` and ``abstained``.

    precision = abstentions on unanswerable questions / all abstentions;
    recall = abstentions on unanswerable questions / all unanswerable questions;
    rate = abstentions / rows. A 0/0 ratio is ``None``. Rows may be mappings or objects.

    4 rows: abstained on 1 of 2 unanswerable and on 1 of 2 answerable questions:

    >>> rows = [{"answerable": False, "abstained": True}, {"answerable": False, "abstained": False},
    ...         {"answerable": True, "abstained": True}, {"answerable": True, "abstained": False}]
    >>> s = abstention_scores(rows)
    >>> s["precision"], s["recall"], s["rate"]
    (0.5, 0.5, 0.5)
    >>> abstention_scores([{"answerable": True, "abstained": False}])["precision"] is None
    True
    """
    n = n_abstained = n_unanswerable = n_true = 0
    for row in rows:
        answerable, abstained = bool(_field(row, "answerable")), bool(_field(row, "abstained"))
        n += 1
        n_abstained += abstained
        n_unanswerable += not answerable
        n_true += abstained and not answerable
    return {
        "precision": n_true / n_abstained if n_abstained else None,
        "recall": n_true / n_unanswerable if n_unanswerable else None,
        "rate": n_abstained / n if n else None,
        "n": n,
        "n_abstained": n_abstained,
        "n_unanswerable": n_unanswerable,
    }


def calibration(pairs: Iterable[tuple[float, bool]], bins: int = 10) -> dict[str, Any]:
    """How far stated confidence is from how often the answers are right.

    ``pairs`` are ``(confidence, correct)`` of the answers given (abstentions have no answer to
    be right about). Confidences fall in ``bins`` equal bins over [0, 1]; the expected
    calibration error (ECE) is the answers-weighted mean gap between a bin's mean confidence and
    its accuracy: 0 when "0.8" is right 80% of the time. Only non-empty bins are listed.

    >>> c = calibration([(0.95, True), (0.9, False), (0.55, True), (0.6, False)])
    >>> c["n"], c["accuracy"], round(c["mean_confidence"], 3), round(c["ece"], 3)
    (4, 0.5, 0.75, 0.475)
    >>> [(b["low"], b["n"], b["accuracy"]) for b in c["bins"]]
    [(0.5, 1, 1.0), (0.6, 1, 0.0), (0.9, 2, 0.5)]
    >>> calibration([])["ece"] is None
    True
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    groups: dict[int, list[tuple[float, bool]]] = {}
    for conf, correct in pairs:
        if not math.isfinite(conf := float(conf)):
            continue  # no confidence to judge
        conf = min(max(conf, 0.0), 1.0)
        groups.setdefault(min(int(conf * bins + 1e-9), bins - 1), []).append((conf, bool(correct)))
    n = sum(len(g) for g in groups.values())
    table = []
    for i in sorted(groups):
        g = groups[i]
        table.append({"low": round(i / bins, 6), "high": round((i + 1) / bins, 6), "n": len(g),
                      "mean_confidence": sum(c for c, _ in g) / len(g),
                      "accuracy": sum(ok for _, ok in g) / len(g)})
    if not n:
        return {"n": 0, "accuracy": None, "mean_confidence": None, "ece": None, "bins": []}
    return {
        "n": n,
        "accuracy": sum(b["accuracy"] * b["n"] for b in table) / n,
        "mean_confidence": sum(b["mean_confidence"] * b["n"] for b in table) / n,
        "ece": sum(b["n"] / n * abs(b["mean_confidence"] - b["accuracy"]) for b in table),
        "bins": table,
    }
