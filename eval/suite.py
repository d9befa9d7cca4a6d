"""The evaluation suite behind ``sourced eval``: named runs over datasets, collected into one
report (JSON for machines, HTML for people, see eval/report.py).

Runs take an ``Engine`` (or, for RGB, the parts to build tiny ones), so the CLI stays a thin
layer and tests drive the same code with the fake embedder.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from eval.rgb import RgbQuestion, RgbReport, TinyIndexAsker, run_rgb
from eval.rgb import format_summary as format_rgb
from eval.run import ArticleRetrieval, EvalQuestion, EvalReport, format_summary, run_eval
from index.cleaning import normalize_url

if TYPE_CHECKING:
    from service.config import Settings
    from service.engine import Engine

SEARCH_DEPTH = 100  # chunks searched to rank articles: enough for 10 distinct articles


class NamedRun(BaseModel):
    name: str  # short key: "realtimeqa", "realtimeqa-window", "seed_dev"
    title: str
    description: str
    report: EvalReport


class IndexInfo(BaseModel):
    path: str
    model: str
    documents: int
    chunks: int
    sentences: int


class Baseline(BaseModel):
    system: str
    em: float  # percent
    f1: float


class SuiteReport(BaseModel):
    created: str
    command: str
    index: IndexInfo | None = None
    runs: list[NamedRun] = Field(default_factory=list)
    rgb: RgbReport | None = None
    baselines: list[Baseline] = Field(default_factory=list)  # RealTime QA dev, published


@dataclass
class Datasets:
    """What one ``sourced eval`` runs: a question file, RealTime QA dev, RGB (any of them)."""

    file: tuple[str, list[EvalQuestion]] | None = None  # (name, questions)
    realtimeqa: list[EvalQuestion] | None = None
    rgb: list[RgbQuestion] | None = None
    window_days: int = 7
    realtimeqa_dir: Path | None = None  # the corpus, to build a missing index from


def run_suite(settings: Settings, datasets: Datasets, command: str, top_k: int | None = None,
              echo: Callable[[str], object] = print, progress: bool = True) -> SuiteReport:
    """Run every chosen dataset, printing each summary; the model and the spaCy pipeline load
    once and serve the main index and every tiny RGB index alike."""
    from service.engine import Engine, make_embedder
    from index.annotations import load_nlp

    from service.reader import make_reader

    embedder, nlp = make_embedder(settings), load_nlp()
    reader = make_reader(settings, embedder)
    suite = new_report(command)
    if datasets.file is not None or datasets.realtimeqa is not None:
        engine = Engine(settings, embedder=embedder, nlp=nlp, reader=reader)
        if datasets.realtimeqa is not None:
            _ensure_realtimeqa_index(engine, datasets.realtimeqa_dir, echo)
        engine.start(build_if_missing=True, progress=progress)
        try:
            suite.index = index_info(engine)
            runs = []
            if datasets.file is not None:
                name, questions = datasets.file
                runs.append(file_run(engine, questions, name, top_k, progress))
            if datasets.realtimeqa is not None:
                runs += realtimeqa_runs(engine, datasets.realtimeqa, datasets.window_days, top_k,
                                        progress)
        finally:
            engine.close()
        for run in runs:
            echo(f"\n{run.title}\n{format_summary(run.report)}")
        suite.runs = runs
    if datasets.rgb is not None:
        suite.rgb = run_rgb(datasets.rgb, TinyIndexAsker(settings, embedder, nlp, reader),
                            progress=progress)
        echo("\n" + format_rgb(suite.rgb))
    return suite


def _ensure_realtimeqa_index(engine: Engine, data: Path | None,
                             echo: Callable[[str], object]) -> None:
    from eval.realtimeqa import load_corpus
    from index.store import IndexStore

    if IndexStore.exists(engine.settings.index_dir):
        return
    docs = load_corpus(data)
    echo(f"no index at {engine.settings.index_dir}: indexing {len(docs)} RealTime QA articles "
         "(about 40 minutes on 2 cores; an interrupted run keeps what it committed)")
    engine.embedder.warm_up()
    engine.index_documents(docs, progress=True)


def index_info(engine: Engine) -> IndexInfo:
    counts = engine.counts()
    return IndexInfo(path=str(engine.settings.index_dir), model=engine.embedder.model_id,
                     documents=counts["documents"], chunks=counts["chunks"],
                     sentences=counts["sentences"])


def _document_text(engine: Engine):
    docs = engine.answerer.retriever.snapshot.documents

    def text_of(doc_id: str) -> str | None:
        doc = docs.get(doc_id)
        return doc.text if doc else None

    return text_of


def file_run(engine: Engine, questions: Sequence[EvalQuestion], name: str,
             top_k: int | None = None, progress: bool = True) -> NamedRun:
    """A question file (e.g. eval/seed_dev.jsonl) against the engine's index."""
    report = run_eval(questions, lambda q: engine.ask(q.question, top_k), _document_text(engine),
                      progress=progress, desc=name)
    return NamedRun(name=name, title=f"{name}: questions from a file",
                    description="Our answer accuracy, abstention and citation checks.",
                    report=report)


def realtimeqa_runs(engine: Engine, questions: Sequence[EvalQuestion], window_days: int,
                    top_k: int | None = None, progress: bool = True) -> list[NamedRun]:
    """RealTime QA dev twice: over the whole index, then only over the articles published in
    the ``window_days`` days up to each question's date."""
    from eval.realtimeqa import date_window

    snapshot_docs = engine.answerer.retriever.snapshot.documents.values()
    indexed = {normalize_url(d.url) for d in snapshot_docs if d.url}
    text_of = _document_text(engine)

    def window(q: EvalQuestion):
        return date_window(q.question_date, window_days) if q.question_date else None

    def articles(windowed: bool) -> ArticleRetrieval:
        def rank(q: EvalQuestion) -> list[str]:
            passages = engine.search(q.question, SEARCH_DEPTH, window(q) if windowed else None)
            return list(dict.fromkeys(normalize_url(p.url) for p in passages if p.url))

        return ArticleRetrieval(rank=rank, indexed=indexed)

    plain = run_eval(questions, lambda q: engine.ask(q.question, top_k), text_of,
                     progress=progress, articles=articles(False), desc="realtimeqa")
    windowed = run_eval(questions, lambda q: engine.ask(q.question, top_k, window(q)), text_of,
                        progress=progress, articles=articles(True), desc="realtimeqa+window")
    return [
        NamedRun(name="realtimeqa", title="RealTime QA dev: whole corpus",
                 description="Every indexed article may answer.", report=plain),
        NamedRun(name="realtimeqa-window", title=f"RealTime QA dev: {window_days}-day window",
                 description=f"Only articles published in the {window_days} days up to and "
                 "including the question's date may answer (the week the quiz covers).",
                 report=windowed),
    ]


def new_report(command: str) -> SuiteReport:
    from eval.realtimeqa import BASELINES_DEV

    return SuiteReport(
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), command=command,
        baselines=[Baseline(system=s, em=em, f1=f1) for s, em, f1 in BASELINES_DEV],
    )


def write_json(report: SuiteReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.model_dump(mode="json"), indent=1, ensure_ascii=False)
                    + "\n", encoding="utf-8")
    return path
