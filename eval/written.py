"""The questions we wrote (eval/written/README.md), as ``EvalQuestion``s.

The seed files hold their answers as text (the seed article is ours to quote). The RealTime QA
files hold offsets into the corpus articles: the answers are read from ``../shared`` here, at
run time, and each span is checked against its recorded sha1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from eval.reader_data import held_out
from eval.run import EvalQuestion
from index.cleaning import normalize_url
from index.errors import SourcedError
from index.records import Document

EVAL_DIR = Path(__file__).resolve().parent
SEED_FILES = ("seed_dev.jsonl", "seed_rephrased.jsonl", "seed_more.jsonl")
RTQA_FILES = ("written/rtqa_a.jsonl", "written/rtqa_b.jsonl", "written/rtqa_c.jsonl",
              "written/rtqa_d.jsonl", "written/rtqa_e.jsonl")
# Written after the models were fitted, to test them: every question held out, on articles no
# other file asks about.
HELD_OUT_FILES = ("written/rtqa_c.jsonl", "written/rtqa_e.jsonl")


@dataclass(frozen=True)
class Written:
    """A question with where it comes from: its group (the fact or article folds keep whole),
    its style and whether it is held out of training."""

    question: EvalQuestion
    group: str
    style: str
    heldout: bool
    source: str  # the file it came from
    url: str | None = None  # RealTime QA: the article it is about


def seed_questions(directory: Path = EVAL_DIR) -> list[Written]:
    out = []
    for name in SEED_FILES:
        for line in (directory / name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            group = rec.get("of") or rec["id"]
            style = rec.get("style") or ("article" if name == "seed_dev.jsonl" else "")
            out.append(Written(EvalQuestion.model_validate(rec), f"seed:{group}", style,
                               held_out(group), name))
    return out


def rtqa_questions(documents: dict[str, Document], directory: Path = EVAL_DIR) -> list[Written]:
    """``documents``: the RealTime QA corpus by normalised url (``eval.realtimeqa.load_corpus``)."""
    out = []
    for name in RTQA_FILES:
        for lineno, line in enumerate((directory / name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            doc = documents.get(rec["url"])
            if doc is None:
                raise SourcedError(f"{name}:{lineno}: no article {rec['url']} in the corpus")
            answers = [_span(doc, a, f"{name}:{lineno}") for a in rec["answers"]]
            evidence = _span(doc, rec["evidence"], f"{name}:{lineno}") if rec["evidence"] else None
            answers = list(dict.fromkeys(answers + list(rec.get("variants") or [])))
            q = EvalQuestion(id=rec["id"], question=rec["question"], answers=answers,
                             answerable=rec["answerable"], answer_type=rec["answer_type"],
                             evidence=evidence, gold_urls=[rec["url"]],
                             question_date=_date(doc))
            heldout = name in HELD_OUT_FILES or held_out(rec["url"])
            out.append(Written(q, f"rtqa:{rec['url']}", rec["style"], heldout, name, rec["url"]))
    return out


def _span(doc: Document, span: dict, where: str) -> str:
    text = doc.text[span["start"] : span["end"]]
    if hashlib.sha1(text.encode("utf-8")).hexdigest()[:8] != span["sha1"]:
        raise SourcedError(
            f"{where}: the span {span['start']}-{span['end']} of {doc.url} no longer holds the "
            "text it was written against (did the loader's cleaning change?)"
        )
    return text


def _date(doc: Document):
    import datetime as dt

    return dt.date.fromisoformat(doc.published) if doc.published else None


def corpus_by_url(documents: list[Document]) -> dict[str, Document]:
    return {normalize_url(d.url): d for d in documents if d.url}
