"""RealTime QA adapter: the news corpus (deduplicated) and the dev questions, read from
../shared at run time.

The data's licence allows internal evaluation only: nothing of its text is copied into the
project; it is read from ``datasets/realtimeqa`` beside the checkout.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from eval.metrics import upstream_skips
from eval.run import EvalQuestion
from index.cleaning import normalize_url
from index.errors import SourcedError
from index.loaders import document_from_record
from index.records import Document
from service.filters import Filters

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realtimeqa"
# The quizzes are weekly and ask about "this week's" news: of the 59 (dev question, gold
# article) pairs, 55 were published 0-6 days before the question date, 3 earlier (38-74 days)
# and 1 five days after. A window of the 7 days up to and including the question date is the
# week the quiz covers, and never lets an article from after the question answer it.
WINDOW_DAYS = 7
# Published generation EM / F1 on the dev half, scored by the RealTime QA project from its own
# per-question predictions (../shared/notes/baselines.md). "own search results" systems read each
# question's pre-selected articles, an easier setting than retrieving from the pooled corpus.
BASELINES_DEV: tuple[tuple[str, float, float], ...] = (
    ("GPT-3 + the question's own search results", 33.3, 44.6),
    ("RAG model + own search results", 27.5, 32.8),
    ("GPT-3 + DPR (Wikipedia)", 11.1, 18.5),
    ("GPT-3, no retrieval", 11.8, 18.9),
    ("T5, no retrieval", 9.8, 14.3),
)


def dataset_dir(path: Path | None = None) -> Path:
    path = path or DEFAULT_DIR
    if not (path / "corpus").is_dir():
        raise SourcedError(
            f"RealTime QA data not found at {path}. Pass --data to the folder that holds "
            "corpus/ and dev.jsonl (shared/datasets/realtimeqa beside the checkout)."
        )
    return path


def _records(path: Path) -> Iterator[dict]:
    for file in sorted((path / "corpus").glob("*.jsonl")):
        with file.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield from json.loads(line).get("search_result") or []


def load_corpus(path: Path | None = None, limit: int | None = None) -> list[Document]:
    """Unique articles: deduplicated by normalised URL (longest text kept), quiz pages dropped.

    A kept copy without a date takes the date of another copy of the same article. (Titles are
    left as they were: the title is part of the doc_id, and changing it would re-add articles
    to existing indexes under new ids.)
    """
    path = dataset_dir(path)
    excluded = {
        normalize_url(u.strip())
        for u in (path / "exclude_quiz_pages.txt").read_text().splitlines()
        if u.strip()
    }
    best: dict[str, dict] = {}
    dates: dict[str, str] = {}  # per url: the first date seen on any copy
    for rec in _records(path):
        url, text = rec.get("url"), rec.get("text") or ""
        if not url or not text.strip():
            continue
        key = normalize_url(url)
        if key in excluded:
            continue
        if rec.get("publish_date"):
            dates.setdefault(key, rec["publish_date"])
        if key not in best or len(text) > len(best[key]["text"]):
            best[key] = rec
    docs = []
    for key in sorted(best):
        rec = dict(best[key])
        rec["publish_date"] = rec.get("publish_date") or dates.get(key)
        rec["title"] = rec.get("title") or _title_from_url(key)
        try:
            docs.append(document_from_record(rec, where=key, origin="realtimeqa"))
        except SourcedError:
            continue  # nothing usable after cleaning
        if limit is not None and len(docs) >= limit:
            break
    return docs


def _title_from_url(url: str) -> str:
    """Gold records carry no title: the URL's slug is the best stand-in."""
    parts = [p for p in url.split("/") if p and not p.startswith("index.") and not p.isdigit()]
    slug = parts[-1] if parts else url
    return slug.replace("-", " ").replace("_", " ").strip().capitalize() or url


def load_questions(path: Path | None = None, limit: int | None = None) -> list[EvalQuestion]:
    """The dev questions as ``EvalQuestion``s: open QA, gold = the correct choice's text.

    ``answer_type`` is the type our classifier reads from the question (there is no gold type);
    ``gold_urls`` are normalised again here, so they compare with ``normalize_url`` of any url.
    A bad line raises ``SourcedError("dev.jsonl:LINE: ...")``.
    """
    file = dataset_dir(path) / "dev.jsonl"
    questions: list[EvalQuestion] = []
    with file.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                questions.append(_question(json.loads(line)))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise SourcedError(f"{file}:{lineno}: not a RealTime QA question: {exc}") from exc
            if limit is not None and len(questions) >= limit:
                break
    return questions


def _question(rec: dict) -> EvalQuestion:
    text = " ".join(rec["question_sentence"].split())
    answer = rec.get("answer_text") or rec["choices"][int(rec["answer"][0])]
    return EvalQuestion(
        id=rec["question_id"], question=text, answers=[answer], answerable=True,
        answer_type="other",  # RealTime QA gives no answer types
        gold_urls=sorted({normalize_url(u) for u in rec.get("gold_urls") or []}),
        question_date=dt.datetime.strptime(rec["question_date"], "%Y/%m/%d").date(),
        upstream_skip=upstream_skips(rec["question_sentence"]),
    )


def date_window(question_date: dt.date, days: int = WINDOW_DAYS) -> Filters:
    """Articles published in the ``days`` days up to and including ``question_date``.

    >>> date_window(dt.date(2022, 6, 16)).describe()
    'published 2022-06-10..2022-06-16'
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    return Filters(question_date - dt.timedelta(days=days - 1), question_date)
