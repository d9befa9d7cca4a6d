"""Features of each candidate answer: what the fitted ranker (``ranker.py``) weighs.

Everything here is read from the question (its words and their idf, its vector, the kinds the
type model expects) and from the stored rows of the evidence sentences: no parse and no model
call per candidate. The names are the contract with the shipped weights: the training command
writes them with the weights, and the ranker refuses weights whose names differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from index.annotations import CAPITALISED, DEP_ID, LIKE_NUM, PUNCT
from service.reader.evidence import Question, Sentence
from service.reader.span_model import SentenceScores
from service.reader.spans import KINDS, Span, candidates

_DEP_GROUPS = {
    "subj": ("nsubj", "nsubjpass", "csubj", "expl"),
    "obj": ("dobj", "dative", "attr", "oprd"),
    "pobj": ("pobj", "pcomp"),
    "mod": ("nummod", "quantmod", "amod", "compound", "poss", "nmod", "npadvmod", "appos"),
}
_DEP_GROUP = {DEP_ID[d]: g for g, deps in _DEP_GROUPS.items() for d in deps}
WH_CLASSES = ("", "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
              "how many", "how much", "how long", "how old", "how far", "how often")
_DIST_BINS = ((1, "1"), (2, "2"), (4, "3-4"), (8, "5-8"), (10**9, "9+"))
_LEN_BINS = ((1, "1"), (2, "2"), (3, "3"), (6, "4-6"), (10, "7-10"), (10**9, "11+"))


def _names() -> tuple[str, ...]:
    names = ["type_p", "type_logp", "dense", "dense_gap", "chunk", "cov", "cov_gap", "in_q",
             "in_q_w", "near3", "near8", "tree", "head_match", "head2_match", "next_match",
             "prev_match", "cap", "all_cap", "num", "position", "sent_rank_recip",
             "span", "span_missing", "span_top", "span_sent", "span_best_overall", "q_absent"]
    names += [f"kind={k}" for k in KINDS]
    names += [f"rank={r}" for r in ("0", "1", "2", "3+")]
    names += [f"dist={b}" for _, b in _DIST_BINS] + ["dist=none"]
    names += [f"len={b}" for _, b in _LEN_BINS]
    names += [f"dep={g}" for g in (*_DEP_GROUPS, "other")]
    names += [f"wh={w}|dep={g}" for w in WH_CLASSES for g in (*_DEP_GROUPS, "other")]
    return tuple(names)


FEATURES = _names()
_INDEX = {n: i for i, n in enumerate(FEATURES)}
_GROUPS = (*_DEP_GROUPS, "other")
_GROUP_OF_DEP = np.array([_GROUPS.index(_DEP_GROUP.get(d, "other")) for d in range(256)])
_KIND_COL = np.array([_INDEX[f"kind={k}"] for k in KINDS])
_DEP_COL = np.array([_INDEX[f"dep={g}"] for g in _GROUPS])
_WH_DEP_COL = np.array([[_INDEX[f"wh={w}|dep={g}"] for g in _GROUPS] for w in WH_CLASSES])
_DIST_TOPS = np.array([top for top, _ in _DIST_BINS])
_DIST_COL = np.array([_INDEX[f"dist={b}"] for _, b in _DIST_BINS])
_LEN_TOPS = np.array([top for top, _ in _LEN_BINS])
_LEN_COL = np.array([_INDEX[f"len={b}"] for _, b in _LEN_BINS])


def featurize(
    question: Question, kind_probs: np.ndarray, sentences: Sequence[Sentence],
    span_scores: Sequence[SentenceScores | None] | None = None,
    known: Sequence[list[Span]] | None = None, covered: Sequence[float] | None = None,
) -> tuple[np.ndarray, list[tuple[int, Span]]]:
    """A row of ``FEATURES`` per candidate of ``sentences`` (in order), and which candidate each
    row is: (index into ``sentences``, span). ``span_scores`` are the span model's scores of
    the sentences it read (None for one it did not); ``known``: each sentence's candidates, when
    the caller has them already, and ``covered``: each sentence's ``coverage``. Vectorised per
    sentence: a question reads hundreds of candidates."""
    blocks: list[np.ndarray] = []
    which: list[tuple[int, Span]] = []
    if not sentences:
        return np.zeros((0, len(FEATURES)), np.float32), which
    qkeys = np.fromiter(question.keys, dtype=np.uint32, count=len(question.keys))
    by_key = np.argsort(qkeys)
    qkeys, qweights = qkeys[by_key], np.fromiter(question.keys.values(), np.float64, len(qkeys))[by_key]
    total = question.weight
    best_dense = max(s.dense for s in sentences)
    if covered is None:
        covered = [coverage(s.tokens, question) for s in sentences]
    best_cov = max(covered)
    # The question's words no evidence sentence holds ("British" troops): weighs on confidence.
    held = set().union(*(s.tokens["key"].tolist() for s in sentences))
    absent = sum(w for k, w in question.keys.items() if k not in held) / total
    wh = question.wh if question.wh in WH_CLASSES else ""
    logp = np.log(kind_probs + 1e-4)
    for si, sent in enumerate(sentences):
        spans = candidates(sent.tokens, sent.text) if known is None else known[si]
        if not spans:
            continue
        x = _sentence_block(sent.tokens, spans, qkeys, qweights, total)
        x[:, _INDEX["dense"]] = sent.dense
        x[:, _INDEX["dense_gap"]] = best_dense - sent.dense
        x[:, _INDEX["chunk"]] = sent.chunk_score
        x[:, _INDEX["cov"]] = covered[si]
        x[:, _INDEX["cov_gap"]] = best_cov - covered[si]
        x[:, _INDEX["sent_rank_recip"]] = 1.0 / (1 + si)
        x[:, _INDEX[f"rank={si}" if si < 3 else "rank=3+"]] = 1.0
        x[:, _INDEX["q_absent"]] = absent
        kinds = np.fromiter((c.kind for c in spans), np.int64, len(spans))
        x[:, _INDEX["type_p"]] = kind_probs[kinds]
        x[:, _INDEX["type_logp"]] = logp[kinds]
        rows = np.arange(len(spans))
        x[rows, _KIND_COL[kinds]] = 1.0
        groups = _GROUP_OF_DEP[sent.tokens["dep"][[c.root for c in spans]]]
        x[rows, _DEP_COL[groups]] = 1.0
        x[rows, _WH_DEP_COL[WH_CLASSES.index(wh), groups]] = 1.0
        blocks.append(x)
        which += [(si, c) for c in spans]
    if not blocks:
        return np.zeros((0, len(FEATURES)), np.float32), which
    x = np.vstack(blocks)
    _span_features(x, which, sentences, span_scores)
    return x, which


def _sentence_block(tok: np.ndarray, spans: list[Span], qkeys: np.ndarray, qweights: np.ndarray,
                    total: float) -> np.ndarray:
    """The features of one sentence's candidates that depend on where they stand in it.
    ``qkeys``: the question's word keys, sorted; ``qweights``: their weights."""
    n = len(tok)
    first = np.fromiter((c.first for c in spans), np.int64, len(spans))
    last = np.fromiter((c.last for c in spans), np.int64, len(spans))
    root = np.fromiter((c.root for c in spans), np.int64, len(spans))
    x = np.zeros((len(spans), len(FEATURES)), np.float32)
    keys = tok["key"]
    if len(qkeys):
        at = np.minimum(np.searchsorted(qkeys, keys), len(qkeys) - 1)
        matched = (qkeys[at] == keys) & (keys != 0)
        weight = np.where(matched, qweights[at], 0.0)
    else:
        matched, weight = np.zeros(n, bool), np.zeros(n)
    cum = lambda v: np.concatenate([[0.0], np.cumsum(v)])  # noqa: E731
    cm, ck, cw = cum(matched), cum(keys != 0), cum(weight)
    inside_k = ck[last + 1] - ck[first]
    inside_w = cw[last + 1] - cw[first]
    x[:, _INDEX["in_q"]] = np.where(inside_k > 0, (cm[last + 1] - cm[first]) / np.maximum(inside_k, 1), 0.0)
    x[:, _INDEX["in_q_w"]] = inside_w / total
    for width, name in ((3, "near3"), (8, "near8")):
        lo, hi = np.maximum(first - width, 0), np.minimum(last + 1 + width, n)
        x[:, _INDEX[name]] = (cw[hi] - cw[lo] - inside_w) / total
    where = np.flatnonzero(matched)
    if len(where):
        before = np.searchsorted(where, first) - 1
        after = np.searchsorted(where, last, side="right")
        d_before = np.where(before >= 0, first - where[np.maximum(before, 0)], 10**6)
        d_after = np.where(after < len(where), where[np.minimum(after, len(where) - 1)] - last, 10**6)
        dist = np.minimum(d_before, d_after)
        none = dist >= 10**6
        bins = np.searchsorted(_DIST_TOPS, dist)
        x[~none, _DIST_COL[bins[~none]]] = 1.0
        x[none, _INDEX["dist=none"]] = 1.0
        tree = _tree_distances(tok["head"], where)  # (matched, n)
        at_root = tree[:, root].astype(np.float64)
        at_root[(where[:, None] >= first) & (where[:, None] <= last)] = np.inf
        nearest = at_root.min(axis=0)
        x[:, _INDEX["tree"]] = np.where(np.isfinite(nearest), 1.0 / (1.0 + nearest), 0.0)
    else:
        x[:, _INDEX["dist=none"]] = 1.0
    heads = tok["head"].astype(np.int64)
    head = heads[root]
    outside = lambda i: matched[i] & ((i < first) | (i > last))  # noqa: E731
    x[:, _INDEX["head_match"]] = (head != root) & outside(head)
    head2 = heads[head]
    x[:, _INDEX["head2_match"]] = (head2 != head) & outside(head2)
    x[:, _INDEX["next_match"]] = (last + 1 < n) & matched[np.minimum(last + 1, n - 1)]
    x[:, _INDEX["prev_match"]] = (first > 0) & matched[np.maximum(first - 1, 0)]
    flags = tok["flags"]
    word = (flags & PUNCT) == 0
    cword, ccap = cum(word), cum(word & ((flags & CAPITALISED) > 0))
    words_in = cword[last + 1] - cword[first]
    x[:, _INDEX["cap"]] = (flags[first] & CAPITALISED) > 0
    x[:, _INDEX["all_cap"]] = (words_in > 0) & (ccap[last + 1] - ccap[first] == words_in)
    cnum = cum((flags & LIKE_NUM) > 0)
    x[:, _INDEX["num"]] = cnum[last + 1] - cnum[first] > 0
    x[:, _INDEX["position"]] = first / n
    x[np.arange(len(spans)), _LEN_COL[np.searchsorted(_LEN_TOPS, last - first + 1)]] = 1.0
    return x


def _tree_distances(heads: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Edges in the dependency tree from each of ``targets`` to every token (a large number
    between tokens of different trees: a piece spaCy parsed as several sentences)."""
    n = len(heads)
    heads = heads.astype(np.int64)
    chain = [np.arange(n)]  # chain[k][i]: the k-th ancestor of i (a root is its own parent)
    while len(chain) <= n:
        nxt = heads[chain[-1]]
        if np.array_equal(nxt, chain[-1]):
            break
        chain.append(nxt)
    anc = np.stack(chain, axis=1)  # (n, depth)
    far = 2 * n + 1
    out = np.full((len(targets), n), far, np.int64)
    for r, t in enumerate(targets.tolist()):
        mine = anc[t]
        up = {}
        for k, a in enumerate(mine.tolist()):
            up.setdefault(a, k)
        step = np.array([up.get(a, -1) for a in range(n)])  # steps from t up to each ancestor
        hit = step[anc] >= 0  # (n, depth): which ancestors of each token are t's ancestors too
        k = hit.argmax(axis=1)
        found = hit[np.arange(n), k]
        out[r, found] = k[found] + step[anc[np.arange(n), k]][found]
    return out


def _span_features(x: np.ndarray, which: list[tuple[int, Span]], sentences: Sequence[Sentence],
                   span_scores: Sequence[SentenceScores | None] | None) -> None:
    """The span model's opinion of each candidate, and of it against the others."""
    scores = np.full(len(which), np.nan)
    for r, (si, span) in enumerate(which):
        sc = span_scores[si] if span_scores is not None and si < len(span_scores) else None
        if sc is not None:
            scores[r] = min(max(sc.span(span.start, span.end), -20.0), 20.0)
    scored = ~np.isnan(scores)
    x[~scored, _INDEX["span_missing"]] = 1.0
    if not scored.any():
        return
    x[scored, _INDEX["span"]] = scores[scored]
    owners = np.array([si for si, _ in which])
    for si in set(owners[scored].tolist()):
        mine = np.flatnonzero((owners == si) & scored)
        best = scores[mine].max()
        x[mine, _INDEX["span_sent"]] = best
        x[mine[scores[mine] == best], _INDEX["span_top"]] = 1.0
    overall = np.nanmax(scores)
    x[scored & (scores == overall), _INDEX["span_best_overall"]] = 1.0


def coverage(tok: np.ndarray, question: Question) -> float:
    """The idf-weighted share of the question's words that the sentence holds."""
    present = set(tok["key"].tolist()) & question.keys.keys()
    # Summed in key order, not a set's: retrieval and the reader get the very same float.
    return sum(question.keys[k] for k in sorted(present)) / question.weight


