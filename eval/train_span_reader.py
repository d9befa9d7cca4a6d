"""Fine-tune the reader's span model and ship it as an int8 ONNX file.

    python -m eval.train_span_reader --hard-negatives --no-written   # the shipped file, ~33 min on 2 cores
    python -m eval.train_span_reader --limit 64 --epochs 1 --out /tmp/span   # a smoke run

Data: the SQuAD subset in ../shared/datasets/squad_subset (each answer's sentence, and for each
question one other sentence of its paragraph that does not answer it, or ``--negatives N``;
with ``--hard-negatives`` the first of them is the near miss, the sentence that shares most of
the question's words, and so is an unanswerable question's sentence) and
the training part of our written questions (eval/written/README.md: held-out questions never
train). Each example is one question with one sentence, as the service asks it. The encoder
starts from the packaged all-MiniLM-L6-v2; the result is exported to ONNX, quantised to int8
and checked against the torch model before it is written with its sha256 and figures
(service/reader/models/).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval.reader_data import _read_squad
from eval.written import corpus_by_url, rtqa_questions, seed_questions
from index.sentences import sentence_spans
from index.words import content_words
from service.reader.models import MODELS_DIR, sha256
from service.reader.span_model import NAME, encode_pairs

SEED = 15


def _sentences(text: str) -> list[tuple[int, int]]:
    return list(sentence_spans(text))


def squad_pairs(split: str, limit: int | None, rng: random.Random, negatives: int = 1,
                hard: bool = False) -> list[tuple[str, str, tuple[int, int] | None]]:
    """(question, sentence, answer span in the sentence or None) from SQuAD: each answer's
    sentence, and ``negatives`` other sentences of its paragraph (as many as it has); an
    unanswerable question with one sentence of its paragraph. ``hard``: see ``_negatives``."""
    out = []
    for r in _read_squad(split)[:limit]:
        ctx = r["context"]
        spans = _sentences(ctx)
        if r.get("is_impossible") or not r["answers"]:
            if spans:
                a, b = _negatives(r["question"], ctx, spans, 1, rng, hard)[0]
                out.append((r["question"], ctx[a:b], None))
            continue
        ans = r["answers"][0]
        s0, s1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
        home = next(((a, b) for a, b in spans if a <= s0 and s1 <= b), None)
        if home is None:
            continue  # the answer crosses a sentence boundary
        out.append((r["question"], ctx[home[0] : home[1]], (s0 - home[0], s1 - home[0])))
        others = [s for s in spans if s != home]
        picked = _negatives(r["question"], ctx, others, negatives, rng, hard) if others else []
        out += [(r["question"], ctx[a:b], None) for a, b in picked]
    return out


def _negatives(question: str, text: str, spans: list[tuple[int, int]], n: int,
               rng: random.Random, hard: bool) -> list[tuple[int, int]]:
    """``n`` of ``spans`` (sentences that do not answer ``question``), drawn at random; with
    ``hard``, the first is the one sharing most of the question's words (ties drawn at random):
    the near miss a reader must learn to refuse ("British troops" against a sentence about US
    troops), where a random sentence of the paragraph is mostly an easy refusal."""
    if not hard:  # one by ``choice``: the draws of the recipe before ``--negatives``
        return [rng.choice(spans)] if n == 1 else rng.sample(spans, min(n, len(spans)))
    if n < 1 or not spans:
        return []
    words = set(content_words(question))
    shared = [(len(words & set(content_words(text[a:b]))), rng.random()) for a, b in spans]
    first = max(range(len(spans)), key=shared.__getitem__)
    rest = spans[:first] + spans[first + 1 :]
    return [spans[first], *rng.sample(rest, min(n - 1, len(rest)))]


def written_pairs(rng: random.Random) -> list[tuple[str, str, tuple[int, int] | None]]:
    """Training (not held-out) written questions: the evidence sentence with its answer, and
    one other sentence of the article; an unanswerable question with a sentence of its article."""
    from eval.realtimeqa import load_corpus
    from index.loaders import load_paths

    seed_doc = load_paths([Path("corpus")]).documents[0]
    docs = corpus_by_url(load_corpus())
    items = [(w, seed_doc.text) for w in seed_questions()]
    items += [(w, docs[w.url].text) for w in rtqa_questions(docs)]
    out = []
    for w, text in items:
        if w.heldout:
            continue
        q = w.question
        spans = _sentences(text)
        sentences = [text[a:b] for a, b in spans]
        if q.answerable and q.evidence:
            ev = next((s for s in sentences if q.evidence in s), q.evidence)
            found = next(((ev.find(a), ev.find(a) + len(a)) for a in q.answers if a in ev), None)
            if found is not None:
                out.append((q.question, ev, found))
            others = [s for s in sentences if s != ev]
        else:
            others = sentences
        if others:
            out.append((q.question, rng.choice(others), None))
    return out


def _targets(tokenizer, pairs):
    """Encoded pairs with start/end piece positions (0 = [CLS]: no answer in this sentence)."""
    rows = []
    for question, sentence, answer in pairs:
        ids, types, _mask, places = encode_pairs(tokenizer, question, [sentence])
        first, offsets = places[0]
        start = end = 0
        if answer is not None:
            a, b = answer
            inside = np.flatnonzero((offsets[:, 0] < b) & (offsets[:, 1] > a))
            if not len(inside):
                continue  # cut off by the length limit
            start, end = first + int(inside[0]), first + int(inside[-1])
        rows.append((ids[0], types[0], start, end))
    return rows


def _batches(rows, size, rng):
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))  # little padding per batch
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    for b in batches:
        width = max(len(rows[i][0]) for i in b)
        ids = np.zeros((len(b), width), np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for r, i in enumerate(b):
            n = len(rows[i][0])
            ids[r, :n], types[r, :n], mask[r, :n] = rows[i][0], rows[i][1], 1
        yield ids, types, mask, np.array([rows[i][2] for i in b]), np.array([rows[i][3] for i in b])


def evaluate(predict, rows) -> dict:
    """Exact start and end on answering pairs; how often [CLS] wins on the others."""
    hit = n_pos = none_ok = n_neg = 0
    for ids, types, mask, s, e in _batches(rows, 64, random.Random(0)):
        start, end = predict(ids, types, mask)
        for i in range(len(s)):
            m = int(mask[i].sum())
            st, en = start[i, :m], end[i, :m]
            best_s = int(np.argmax(st[1:])) + 1
            best_e = best_s + int(np.argmax(en[best_s : best_s + 30]))
            if s[i] == 0:
                n_neg += 1
                none_ok += st[0] + en[0] > st[best_s] + en[best_e]
            else:
                n_pos += 1
                hit += best_s == s[i] and best_e == e[i]
    out = {"exact_span": hit / n_pos, "answering_pairs": n_pos} if n_pos else {}
    return {**out, "no_answer_right": none_ok / max(n_neg, 1), "other_pairs": n_neg}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train_span_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=float, default=2.0, help="Passes over the pairs (default 2).")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N SQuAD questions (a smoke run).")
    parser.add_argument("--batch", type=int, default=32, help="Pairs per step (default 32).")
    parser.add_argument("--lr", type=float, default=1e-4, help="Peak learning rate (default 1e-4).")
    parser.add_argument("--out", type=Path, default=MODELS_DIR,
                        help="Folder for span_reader.onnx and .json (default: the shipped models).")
    parser.add_argument("--no-written", action="store_true", help="SQuAD only.")
    parser.add_argument("--negatives", type=int, default=1, metavar="N",
                        help="Sentences of the paragraph that do not answer, per SQuAD question.")
    parser.add_argument("--hard-negatives", action="store_true",
                        help="The first of them (and an unanswerable question's sentence) is the "
                             "one sharing most of the question's words, not a random one.")
    parser.add_argument("--keep-fp32", action="store_true",
                        help="Keep the float ONNX model (span_reader.fp32.onnx) beside the int8 one.")
    args = parser.parse_args(argv)

    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForQuestionAnswering
    from transformers import logging as hf_logging

    from index.onnx_embedder import default_paths
    from index.embedding import resolve_model_path, DEFAULT_MODEL

    hf_logging.set_verbosity_error()
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t0 = time.time()
    tokenizer = Tokenizer.from_file(default_paths()[1])
    tokenizer.no_truncation()
    tokenizer.no_padding()
    train_pairs = squad_pairs("train", args.limit, rng, args.negatives, args.hard_negatives)
    if not args.no_written:
        train_pairs += written_pairs(rng)
    n_dev = (args.limit // 2) if args.limit else 3000
    dev_pairs = squad_pairs("dev", n_dev, random.Random(SEED + 1))
    # The same dev questions against their near-miss sentences: what declining is about.
    hard_pairs = [p for p in squad_pairs("dev", n_dev, random.Random(SEED + 1), hard=True) if p[2] is None]
    train, dev = _targets(tokenizer, train_pairs), _targets(tokenizer, dev_pairs)
    hard_dev = _targets(tokenizer, hard_pairs)
    print(f"{len(train)} training pairs, {len(dev)} dev pairs ({time.time() - t0:.0f}s)", flush=True)

    model = AutoModelForQuestionAnswering.from_pretrained(resolve_model_path(DEFAULT_MODEL))
    steps = max(1, int(args.epochs * (len(train) + args.batch - 1) // args.batch))
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda k: min(1.0, (k + 1) / (0.1 * steps)) * max(0.0, 1 - k / steps))
    loss_fn = torch.nn.CrossEntropyLoss()
    step = 0
    model.train()
    while step < steps:
        for ids, types, mask, s, e in _batches(train, args.batch, rng):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(types),
                            attention_mask=torch.from_numpy(mask))
            big = torch.finfo(torch.float32).min
            m = torch.from_numpy(mask).bool()
            start = out.start_logits.float().masked_fill(~m, big)
            end = out.end_logits.float().masked_fill(~m, big)
            loss = (loss_fn(start, torch.from_numpy(s)) + loss_fn(end, torch.from_numpy(e))) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            if step % 50 == 0 or step == steps:
                print(f"step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)
            if step >= steps:
                break
    model.eval()

    def torch_predict(ids, types, mask):
        with torch.no_grad():
            o = model(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(types),
                      attention_mask=torch.from_numpy(mask))
        return o.start_logits.numpy(), o.end_logits.numpy()

    figures = {"torch": evaluate(torch_predict, dev),
               "torch_near_misses": evaluate(torch_predict, hard_dev)}
    print("dev (torch):", figures["torch"], flush=True)
    path = export(model, args.out, keep_fp32=args.keep_fp32)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def onnx_predict(ids, types, mask):
        return tuple(session.run(None, {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}))

    figures["onnx_int8"] = evaluate(onnx_predict, dev)
    figures["onnx_int8_near_misses"] = evaluate(onnx_predict, hard_dev)
    print("dev (int8 onnx):", figures["onnx_int8"], flush=True)
    meta = {
        "name": NAME, "sha256": sha256(path), "base_model": DEFAULT_MODEL,
        "trained_on": {"squad_subset_train_questions": args.limit or "all",
                       "written_training_questions": not args.no_written,
                       "negatives": args.negatives, "hard_negatives": args.hard_negatives,
                       "pairs": len(train)},
        "epochs": args.epochs, "learning_rate": args.lr, "batch": args.batch, "seed": SEED,
        "dev": {"data": "squad_subset dev, first 3000 questions, one sentence each; near misses: "
                        "each question against the non-answering sentence sharing most of its words",
                **figures},
        "command": "python -m eval.train_span_reader " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seconds": round(time.time() - t0),
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s")
    return 0


def export(model, out: Path, keep_fp32: bool = False) -> Path:
    """ONNX with dynamic batch and length, then int8 weights (dynamic quantisation);
    ``keep_fp32``: leave the float model beside it (to measure what quantising costs)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / f"{NAME}.fp32.onnx"
    dummy = torch.ones((1, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (dummy, torch.ones_like(dummy), torch.zeros_like(dummy)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["start_logits", "end_logits"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                      "start_logits": axes, "end_logits": axes},
        opset_version=17, dynamo=False,
    )
    path = out / f"{NAME}.onnx"
    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
    if not keep_fp32:
        fp32.unlink()
    return path


if __name__ == "__main__":
    raise SystemExit(main())
