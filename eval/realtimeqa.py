"""RealTime QA adapter: the news corpus (deduplicated) read from ../shared at run time.

The data's licence allows internal evaluation only: nothing of its text is copied into the
project; it is read from ``datasets/realtimeqa`` beside the checkout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from index.cleaning import normalize_url
from index.errors import SourcedError
from index.loaders import document_from_record
from index.records import Document

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realtimeqa"


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
    """Unique articles: deduplicated by normalised URL (longest text kept), quiz pages dropped."""
    path = dataset_dir(path)
    excluded = {
        normalize_url(u.strip())
        for u in (path / "exclude_quiz_pages.txt").read_text().splitlines()
        if u.strip()
    }
    best: dict[str, dict] = {}
    for rec in _records(path):
        url, text = rec.get("url"), rec.get("text") or ""
        if not url or not text.strip():
            continue
        key = normalize_url(url)
        if key in excluded:
            continue
        if key not in best or len(text) > len(best[key]["text"]):
            best[key] = rec
    docs = []
    for key in sorted(best):
        rec = dict(best[key])
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
