"""Fit the extractive reader's models from data and ship them with their figures.

    python -m eval.train_reader                 # ~5 minutes on 2 cores once the indexes and caches exist
    python -m eval.train_reader --quick --out /tmp/models   # a few steps on a tiny sample

Fits, in order (each on data the next one's figures never saw):
1. the answer-type model on SQuAD subset training questions and our written training questions
   (their gold answers typed by the candidate kind that equals them);
2. the sentence order (which evidence sentences are read first) on the news training questions:
   does a sentence hold a right candidate? The news questions' evidence is put in the order of
   models that did not see their article, every other question's in the final model's;
3. the candidate ranker (LambdaRank trees over each question's candidates; ``--ranker linear``:
   a conditional logit) on SQuAD subset dev questions (which the span model never saw) and the
   news training questions, with the shipped span model's scores (``python -m
   eval.train_span_reader`` first);
4. the confidence calibrator on the news training questions' out-of-fold choices.

News questions are asked through the service's own retrieval over real indexes: the seed
article (built here) and the RealTime QA corpus (``--rtqa-index``; built if missing, ~25 min).
Held-out questions (eval/written/README.md) never train anything; the report gives their
figures, and cross-validated figures (folds by article) for the rest, RealTime QA dev included.
Writes service/reader/models/{answer_types,sentence_order,ranker,calibrator}.{npz,json} and
eval/out/train_reader.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from eval import reader_fit as fit
from eval.reader_data import Example, Reading, gold_kinds, span_scores, squad_examples
from eval.written import Written, corpus_by_url, rtqa_questions, seed_questions
from service.reader import models
from service.reader.features import FEATURES
from service.reader.order import ORDER_FEATURES, read_order, sentence_features
from service.reader.ranker import CALIBRATION_FEATURES
from service.reader.spans import KINDS, candidates

TYPE_C = 1.0  # inverse L2 strength of the type model (chosen by CV: 0.1 / 1 / 10 within 1 point)
RANKER_L2 = 1e-4  # per-question ridge of the linear ranker (1e-5 .. 1e-3 gave the same choices)
CALIBRATOR_C = 1.0
ORDER_C = 1.0  # inverse L2 strength of the sentence order (nine features, hundreds of questions)
SPAN_SENTENCES = 6  # sentences the span model reads per question (see the report's timing note)
FOLDS = 5


class _NoReader:
    """Stands in for the reader while its models are being fitted: only retrieval is used."""

    name = "none"

    def read(self, question, sentences):  # pragma: no cover - never called
        raise RuntimeError("training asks no reader")


def news_examples(engine, written: Sequence[Written], origin: str) -> list[Example]:
    """Ask each question through the service's retrieval; the evidence is what the reader would
    read."""
    from service.reader.evidence import Question
    from service.retrieval import EVIDENCE_CHUNKS

    answerer = engine.answerer
    retriever = answerer.retriever
    texts = [w.question.question for w in written]
    vectors = engine.embedder.embed(texts)
    out = []
    for w, vec in zip(written, vectors, strict=True):
        q = w.question
        hits = retriever.search(vec, q.question, max(engine.settings.top_k, EVIDENCE_CHUNKS))
        question = Question.of(q.question, vec, retriever.idf)
        out.append(Example(q.id, question, retriever.evidence(question, hits),
                           list(q.answers) if q.answerable else [], w.group, origin, w.heldout,
                           w.style, {"source": w.source}))
    return out


def _engine(index_dir: Path, embedder, docs=None):
    from service.config import Settings
    from service.engine import Engine

    engine = Engine(Settings(index_dir=index_dir), embedder=embedder, reader=_NoReader())
    if docs is not None:
        from index.store import IndexStore

        if not IndexStore.exists(index_dir):
            print(f"indexing {len(docs)} documents into {index_dir}", flush=True)
        engine.index_documents(docs, progress=True)
    engine.start(build_if_missing=False, progress=False)
    return engine


def collect(args, reading: Reading) -> tuple[list[Example], list[Example], list[Example], list[Example]]:
    """(SQuAD training, SQuAD dev, news training, held-out news) examples."""
    from eval.realtimeqa import load_corpus, load_questions
    from index.loaders import load_paths

    squad_limit = 40 if args.quick else None
    squad_train = squad_examples("train", reading, squad_limit)
    squad_dev = squad_examples("dev", reading, 20 if args.quick else args.squad_dev)
    news: list[Example] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(Path(tmp) / "seed", reading.embedder, load_paths([Path("corpus")]).documents)
        try:
            seed = seed_questions()
            news += news_examples(engine, seed[:30] if args.quick else seed, "seed")
        finally:
            engine.close()
    if not args.quick and not args.no_rtqa:
        docs = load_corpus()
        engine = _engine(args.rtqa_index, reading.embedder, docs)
        try:
            news += news_examples(engine, rtqa_questions(corpus_by_url(docs)), "written")
            dev = [Written(q, "rtqa:" + (q.gold_urls[0] if q.gold_urls else q.id), "quiz", False,
                           "realtimeqa/dev.jsonl") for q in load_questions()]
            news += news_examples(engine, dev, "realtimeqa")
        finally:
            engine.close()
    reading.save()
    return (squad_train, squad_dev, [e for e in news if not e.heldout],
            [e for e in news if e.heldout])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train_reader",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A few steps on a tiny sample (tests).")
    parser.add_argument("--out", type=Path, default=models.MODELS_DIR, help="Where the models go.")
    parser.add_argument("--report", type=Path, default=Path("eval/out/train_reader.json"))
    parser.add_argument("--rtqa-index", type=Path, default=Path(".sourced.realtimeqa"))
    parser.add_argument("--no-rtqa", action="store_true", help="Seed questions only (no RealTime QA index).")
    parser.add_argument("--squad-dev", type=int, default=None, metavar="N",
                        help="The first N SQuAD-subset dev questions train the ranker (default: "
                        "all; 6,116 gave more right decisions out of fold than 3,000).")
    parser.add_argument("--ranker", choices=("trees", "linear"), default="trees",
                        help="LambdaRank trees (default) or a conditional logit.")
    parser.add_argument("--span-sentences", type=int, default=SPAN_SENTENCES, choices=range(0, 11),
                        metavar="N", help="Evidence sentences the span model reads per question "
                        f"(0: none; default {SPAN_SENTENCES}); each costs ~5 ms a question.")
    args = parser.parse_args(argv)

    from index.onnx_embedder import OnnxEmbedder
    from service.reader.span_model import SpanModel

    t0 = time.time()
    reading = Reading(OnnxEmbedder())
    squad_train, squad_dev, train_news, held = collect(args, reading)
    type_train, rank_train = squad_train + train_news, squad_dev + train_news
    print(f"examples: {len(type_train)} for types, {len(rank_train)} for the ranker, "
          f"{len(held)} held out ({time.time() - t0:.0f}s)", flush=True)
    labelled = lambda text, answers: fit.label(text, answers) is True  # noqa: E731

    # 1. answer types
    kinds = [k for _, k in gold_kinds(type_train, labelled)]
    keep = [i for i, k in enumerate(kinds) if k is not None]
    types = fit.fit_types([type_train[i] for i in keep], [kinds[i] for i in keep], TYPE_C)
    squad_typed = [(type_train[i], kinds[i]) for i in keep if type_train[i].origin == "squad"]
    type_probs = _type_probs(rank_train, types, squad_typed, args)
    held_kinds = [(p, k) for p, (_, k) in zip(types.probs(held), gold_kinds(held, labelled), strict=True)
                  if k is not None]
    dev_kinds = [(p, k) for p, (_, k) in zip(types.probs(squad_dev), gold_kinds(squad_dev, labelled),
                                             strict=True) if k is not None]

    # 2. sentence order
    news_rows = [i for i, e in enumerate(rank_train) if e.origin != "squad"]
    order, rank_train, order_report = _fit_order(rank_train, type_probs, news_rows, args)
    held = _reorder(held, types.probs(held), order.logits)

    # 3. ranker
    span = SpanModel.load()
    n_span = min(1, args.span_sentences) if args.quick else args.span_sentences
    cands = fit.candidate_matrix(rank_train, type_probs, span_scores(span, rank_train, n_span))
    logits = _news_out_of_fold(cands, rank_train, news_rows, args)
    ranker = _fit_ranker(cands, slice(None), args)

    # 4. calibrator, on the news questions' out-of-fold choices
    choices = fit.choose(cands, logits, rank_train)
    news_choices = [choices[i] for i in news_rows]
    news_examples_ = [rank_train[i] for i in news_rows]
    conf = fit.out_of_fold_confidence(news_choices, news_examples_, CALIBRATOR_C,
                                      folds=2 if args.quick else FOLDS)
    calibrator = fit.fit_calibrator(news_choices, news_examples_, CALIBRATOR_C)
    threshold = fit.fit_threshold(news_choices, news_examples_, conf)

    # held out: everything fitted on the rest
    held_cands = fit.candidate_matrix(held, types.probs(held), span_scores(span, held, n_span))
    held_choices = fit.choose(held_cands, ranker.logits(held_cands.x), held)
    held_conf = np.array([1 / (1 + np.exp(-calibrator.logits(c.standing[None])[0]))
                          if c.standing is not None else 0.0 for c in held_choices])
    report = {
        "answer_types": {
            "squad_dev_accuracy": _accuracy(dev_kinds), "squad_dev_questions": len(dev_kinds),
            "news_heldout_accuracy": _accuracy(held_kinds), "news_heldout_questions": len(held_kinds),
        },
        # Out of fold, at the threshold fitted on these same out-of-fold confidences (one
        # parameter); the held-out figures use it on questions that fitted nothing.
        "sentence_order": order_report,
        "abstain_below": round(threshold, 4),
        "cross_validated": _by_origin(news_choices, news_examples_, conf, threshold),
        "cross_validated_at_0.5": _by_origin(news_choices, news_examples_, conf, 0.5),
        "held_out": _by_origin_and_style(held_choices, held, held_conf, threshold),
        "examples": {"types": len(type_train), "ranker": len(rank_train), "held_out": len(held)},
        "span_sentences": n_span,
        "ranker": args.ranker,
        "seconds": round(time.time() - t0),
    }
    _save(args, types, order, ranker, calibrator, report, n_span, threshold)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


def _type_probs(examples: list[Example], types: fit.TypeFit, squad_typed, args) -> np.ndarray:
    """SQuAD dev examples from the final type model (never trained on them); news examples out
    of fold, so that the ranker learns how far to trust type probabilities on unseen questions."""
    probs = types.probs(examples)
    news = [i for i, e in enumerate(examples) if e.origin != "squad"]
    if args.quick or len({examples[i].group for i in news}) < FOLDS:
        return probs
    labelled = lambda text, answers: fit.label(text, answers) is True  # noqa: E731
    groups = [examples[i].group for i in news]
    for train, test in GroupKFold(FOLDS).split(news, groups=groups):
        part = [(examples[news[j]], k) for j, (_, k) in zip(train, gold_kinds([examples[news[j]] for j in train], labelled), strict=True)]
        pairs = [(e, k) for e, k in [*squad_typed, *part] if k is not None]
        f = fit.fit_types([e for e, _ in pairs], [k for _, k in pairs], TYPE_C)
        probs[[news[j] for j in test]] = f.probs([examples[news[j]] for j in test])
    return probs


def _order_data(examples: Sequence[Example], probs: np.ndarray):
    """Per example: its sentences' order features, whether each holds a right candidate, and
    each one's candidates."""
    out = []
    for ex, p in zip(examples, probs, strict=True):
        spans = [candidates(s.tokens, s.text) for s in ex.sentences]
        holds = np.array([bool(ex.answers) and any(
            fit.label(s.text[c.start : c.end], ex.answers) is True for c in found)
            for s, found in zip(ex.sentences, spans, strict=True)], dtype=bool)
        out.append((sentence_features(ex.question, p, ex.sentences, spans), holds, spans))
    return out


def _reorder(examples: Sequence[Example], probs: np.ndarray, logits) -> list[Example]:
    """The examples with their evidence in the order ``logits`` (a fitted order's) gives it."""
    data = _order_data(examples, probs)
    return [_in_order(ex, read_order(logits(x), spans))
            for ex, (x, _, spans) in zip(examples, data, strict=True)]


def _in_order(ex: Example, place: list[int]) -> Example:
    """``ex`` with its evidence in the order ``place`` gives (indices into its sentences)."""
    return dataclasses.replace(ex, sentences=[ex.sentences[k] for k in place])


def _fit_order(examples: list[Example], probs: np.ndarray, news: list[int], args):
    """The sentence order, fitted on the news questions whose evidence holds a right answer;
    the examples reordered (news out of fold); and how often the first k sentences hold the
    answer, out of fold, against retrieval's order."""
    data = _order_data(examples, probs)
    usable = [i for i in news if data[i][1].any()]
    if not usable:
        raise SystemExit("No news training question has a right answer among its candidates: "
                         "nothing to fit the sentence order on.")

    def fit_on(rows):
        x = np.vstack([data[i][0] for i in rows])
        y = np.concatenate([data[i][1] for i in rows])
        return fit.fit_linear(x, y.astype(int), ORDER_C)

    final = fit_on(usable)
    places = {i: read_order(final.logits(data[i][0]), data[i][2]) for i in range(len(examples))}
    groups = [examples[i].group for i in news]
    folds = min(2 if args.quick else FOLDS, len(set(groups)))
    if folds >= 2:
        for train, test in GroupKFold(folds).split(news, groups=groups):
            rows = [news[j] for j in train if data[news[j]][1].any()]
            part = fit_on(rows) if rows else final
            for j in test:
                places[news[j]] = read_order(part.logits(data[news[j]][0]), data[news[j]][2])
    reordered = [_in_order(ex, places[i]) for i, ex in enumerate(examples)]

    def holds_within(k: int, learned: bool) -> float:
        hit = [data[i][1][places[i][:k]].any() if learned else data[i][1][:k].any() for i in usable]
        return round(float(np.mean(hit)), 4)

    report = {"questions": len(usable), "features": list(ORDER_FEATURES),
              "answer_in_first_k_out_of_fold": {k: holds_within(k, True) for k in (1, 2, 3, 4, 6)},
              "answer_in_first_k_retrieval_order": {k: holds_within(k, False) for k in (1, 2, 3, 4, 6)}}
    return final, reordered, report


def _news_out_of_fold(cands: fit.Candidates, examples: list[Example], news: list[int], args) -> np.ndarray:
    """Ranker scores of the news questions from rankers that did not see their article."""
    z = np.zeros(len(cands.y))
    if not news:
        return z
    folds = min(2 if args.quick else FOLDS, len({examples[i].group for i in news}))
    if folds < 2:
        return _fit_ranker(cands, slice(None), args).logits(cands.x)
    groups = [examples[i].group for i in news]
    for _, test in GroupKFold(folds).split(news, groups=groups):
        out = np.isin(cands.example, [news[j] for j in test])
        z[out] = _fit_ranker(cands, ~out, args).logits(cands.x[out])
    return z


def _fit_ranker(cands: fit.Candidates, rows: np.ndarray | slice, args) -> fit.TreeFit | fit.LinearFit:
    x, y, owner = cands.x[rows], cands.y[rows], cands.example[rows]
    if args.ranker == "linear":
        return fit.fit_listwise(x, y, owner, RANKER_L2)
    return fit.fit_trees(x, y, owner, rounds=20 if args.quick else fit.TREE_ROUNDS)


def _accuracy(pairs) -> float | None:
    return round(float(np.mean([np.argmax(p) == k for p, k in pairs])), 4) if pairs else None


def _by_origin(choices, examples, conf, threshold: float) -> dict:
    return {o: fit.summary(choices, examples, conf, threshold, select=lambda e, o=o: e.origin == o)
            for o in sorted({e.origin for e in examples})}


def _by_origin_and_style(choices, examples, conf, threshold: float) -> dict:
    out = {origin: {"all": summary} for origin, summary in _by_origin(choices, examples, conf, threshold).items()}
    for origin, parts in out.items():
        for style in sorted({e.style for e in examples if e.origin == origin}):
            parts[style] = fit.summary(
                choices, examples, conf, threshold,
                select=lambda e, o=origin, s=style: e.origin == o and e.style == s)
        # each file alone too: files written later compare old and new models on the same
        # questions (eval/written/README.md)
        for source in sorted({e.meta.get("source") for e in examples if e.origin == origin} - {None}):
            parts[f"file={source}"] = fit.summary(
                choices, examples, conf, threshold,
                select=lambda e, o=origin, f=source: e.origin == o and e.meta.get("source") == f)
    return out


def _squad_dev_label(args) -> str:
    if args.quick:
        return "first 20"
    return "all" if args.squad_dev is None else f"first {args.squad_dev}"


def _save(args, types: fit.TypeFit, order: fit.LinearFit, ranker: fit.TreeFit | fit.LinearFit,
          calibrator: fit.LinearFit, report: dict, n_span: int, threshold: float) -> None:
    trained_on = {
        "answer_types": "squad_subset train + written training questions (eval/written)",
        "sentence_order": "news training questions whose evidence holds a right answer",
        "ranker": f"squad_subset dev ({_squad_dev_label(args)}) + written training questions, RealTime QA dev",
        "calibrator": "out-of-fold choices on the news training questions",
    }
    common = {"command": "python -m eval.train_reader " + " ".join(sys.argv[1:]),
              "quick": args.quick, "report": report}
    models.save("answer_types", {"dense": types.dense, "sparse": types.sparse, "bias": types.bias},
                {**common, "kinds": list(KINDS), "vocabulary": types.vocabulary,
                 "trained_on": trained_on["answer_types"]}, args.out)
    models.save("sentence_order", order.arrays(), {**common, "features": list(ORDER_FEATURES),
                                                   "trained_on": trained_on["sentence_order"]},
                args.out)
    models.save("ranker", ranker.arrays(), {**common, "features": list(FEATURES), "model": args.ranker,
                                            "span_sentences": n_span, "trained_on": trained_on["ranker"]},
                args.out)
    models.save("calibrator", calibrator.arrays(), {**common, "features": list(CALIBRATION_FEATURES),
                                                    "abstain_below": threshold,
                                                    "trained_on": trained_on["calibrator"]}, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
