"""Computed answers: a total or a difference worked out from figures the articles state.

"How many US troops are in Iraq and Syria combined?" is answered by no single span: the
articles give 2,500 and some 900. When the question asks for a sum or a difference (its wording
says so: a definition, not a fitted choice) and the reader's two best figures share a unit, the
answer is the arithmetic over them, shown in full ("2,500 + some 900 = about 3,400"), each
operand cited and verified like any answer. A qualifier carries into the result honestly:
"some" or "about" on either side makes the result "about"; "more than" on every operand of a
sum makes it "more than". A single figure is never "computed", and neither is a question a
stated total already answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.reader.base import Found

_SUM = re.compile(r"\b(?:combined|in total|altogether|all told|together|total(?: number)?|sum of|"
                  r"add up to|in all)\b", re.I)
_DIFF = re.compile(r"\bhow (?:many|much) (?:more|fewer|less|higher|lower|bigger|larger|smaller)\b"
                   r"|\b(?:difference between|by how (?:many|much)|gap between)\b", re.I)
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
           "m": 1e6, "bn": 1e9, "k": 1e3}
_APPROX = ("some", "about", "around", "nearly", "almost", "roughly", "approximately",
           "an estimated", "close to")
_AT_LEAST = ("more than", "over", "at least", "upwards of", "well over", "just over")
_AT_MOST = ("less than", "fewer than", "under", "at most", "up to", "just under")
_FIGURE = re.compile(
    r"^(?P<qual>(?:(?:more|less|fewer) than|at (?:least|most)|up to|an estimated|close to|"
    r"upwards of|(?:well|just) (?:over|under)|some|about|around|nearly|almost|roughly|"
    r"approximately|over|under)\s+)?(?P<cur>[$£€])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|"
    + "|".join(_NUMBER_WORDS) + r")(?P<scale>\s?(?:thousand|million|billion|trillion|bn|m|k)\b)?"
    r"(?P<pct>\s?(?:%|percent))?$", re.I)


def operation(question: str) -> str | None:
    """"sum", "difference" or None: what the question's wording asks to compute."""
    if _DIFF.search(question):
        return "difference"
    if _SUM.search(question) and re.search(r"\bhow (?:many|much)\b", question, re.I):
        return "sum"
    return None


@dataclass(frozen=True)
class Figure:
    """A stated figure: its value, unit (currency, scale word, percent) and qualifier."""

    value: float
    unit: tuple[str, str, bool]
    qualifier: str  # "", "approx", "at least", "at most"

    @classmethod
    def parse(cls, text: str) -> Figure | None:
        m = _FIGURE.match(" ".join(text.split()))
        if m is None:
            return None
        raw = m.group("num").lower()
        value = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw.replace(",", ""))
        scale = (m.group("scale") or "").strip().lower()
        qual = (m.group("qual") or "").strip().lower()
        kind = ("approx" if qual in _APPROX else "at least" if qual in _AT_LEAST
                else "at most" if qual in _AT_MOST else "")
        return cls(value * _SCALES.get(scale, 1.0), (m.group("cur") or "", scale, bool(m.group("pct"))), kind)


@dataclass(frozen=True)
class Computed:
    operation: str
    operands: tuple[Found, Found]
    result: str  # "about 3,400"
    expression: str  # "2,500 + some 900 = about 3,400"


def compute(question: str, candidates: list[Found]) -> Computed | None:
    """The sum or difference of the two best figures with one unit, from different spans."""
    op = operation(question)
    if op is None:
        return None
    figures = [(c, f) for c in candidates if (f := Figure.parse(c.text)) is not None]
    if len(figures) < 2:
        return None
    (a, fa) = figures[0]
    partner = next(((c, f) for c, f in figures[1:] if f.unit == fa.unit and
                    (c.sentence, c.start) != (a.sentence, a.start) and f.value != fa.value), None)
    if partner is None:
        return None
    b, fb = partner
    if op == "difference" and fb.value > fa.value:
        (a, fa), (b, fb) = (b, fb), (a, fa)
    value = fa.value + fb.value if op == "sum" else fa.value - fb.value
    qualifier = _qualifier(op, fa, fb)
    result = f"{qualifier}{_format(value, fa.unit)}".strip()
    sign = "+" if op == "sum" else "-"
    return Computed(op, (a, b), result, f"{a.text} {sign} {b.text} = {result}")


def _qualifier(op: str, a: Figure, b: Figure) -> str:
    quals = {a.qualifier, b.qualifier} - {""}
    if not quals:
        return ""
    if op == "sum" and quals <= {"at least"} and a.qualifier and b.qualifier:
        return "more than "
    if op == "sum" and quals <= {"at most"} and a.qualifier and b.qualifier:
        return "less than "
    return "about "


def _format(value: float, unit: tuple[str, str, bool]) -> str:
    currency, scale, percent = unit
    if scale:
        value /= _SCALES[scale]
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"
    scale_text = f" {scale}" if scale in ("thousand", "million", "billion", "trillion") else scale
    return f"{currency}{text}{scale_text}{'%' if percent else ''}"


def check(expression_operands: list[str], operation_: str, result: str) -> bool:
    """The verifier's side: recompute the result from the cited operands' text."""
    figures = [Figure.parse(t) for t in expression_operands]
    if len(figures) != 2 or None in figures or figures[0].unit != figures[1].unit:
        return False
    fa, fb = figures
    value = fa.value + fb.value if operation_ == "sum" else fa.value - fb.value
    return result == f"{_qualifier(operation_, fa, fb)}{_format(value, fa.unit)}".strip()
