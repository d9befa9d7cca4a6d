"""The int8 ONNX model that serves queries (no torch) agrees with the reference
sentence-transformers model: the same vectors, within int8 rounding, on real sentences, and the
same passages retrieved for the seed questions."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from index.embedding import SentenceTransformerEmbedder
from index.loaders import load_paths
from index.onnx_embedder import BATCH, BATCH_PIECES, QUERY_TEXTS, OnnxEmbedder, _batches
from index.sentences import sentence_spans
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"
SHARED = ROOT.parent / "shared" / "datasets" / "rgb_en_fact" / "en_fact.dev.json"


def _sentences() -> list[str]:
    """Every sentence of the project's own articles, and RGB passages' when ../shared is there
    (a few hundred real news sentences)."""
    docs = load_paths([CORPUS, DATA]).documents
    out = [d.text[a:b] for d in docs for a, b in sentence_spans(d.text)]
    if SHARED.is_file():
        for line in SHARED.read_text(encoding="utf-8").splitlines()[:20]:
            for passage in json.loads(line)["positive"][:3]:
                out += [passage[a:b] for a, b in sentence_spans(passage)]
    return list(dict.fromkeys(out))


@pytest.fixture(scope="module")
def both():
    texts = _sentences()
    return texts, OnnxEmbedder().embed(texts), SentenceTransformerEmbedder().embed(texts)


def test_onnx_vectors_match_the_reference_model(both):
    texts, onnx, reference = both
    if not SHARED.is_file():
        pytest.skip(f"a few hundred real sentences need RGB's passages at {SHARED}")
    assert len(texts) >= 100
    cosine = (onnx * reference).sum(axis=1)
    assert cosine.mean() >= 0.999 and cosine.min() >= 0.995, (cosine.mean(), cosine.min())


def test_onnx_and_reference_rank_sentences_alike(both):
    _texts, onnx, reference = both
    queries = ["How many US troops are in Iraq?", "Who is the mayor?", "When did the talks open?",
               "How much will the plan cost?", "Which agency runs the buses?"]
    q_onnx, q_ref = OnnxEmbedder().embed(queries), SentenceTransformerEmbedder().embed(queries)
    top_onnx = np.argsort(-(onnx @ q_onnx.T), axis=0)[:5].T
    top_ref = np.argsort(-(reference @ q_ref.T), axis=0)[:5].T
    assert [list(a) for a in top_onnx] == [list(b) for b in top_ref]


def test_pooled_sentence_vectors_come_from_one_pass_over_the_chunk():
    text = "Washington has 2,500 soldiers in Iraq. Its troops are deployed at the invitation of Baghdad."
    chunk, spans = OnnxEmbedder().embed_spans([text], [[(0, 37), (38, len(text))]])
    assert chunk.shape == (1, 384) and spans[0].shape == (2, 384)
    assert np.allclose(np.linalg.norm(spans[0], axis=1), 1.0, atol=1e-5)
    # Each sentence's pooled vector is nearer its own words than the other sentence's.
    alone = OnnxEmbedder().embed([text[:37], text[38:]])
    sims = spans[0] @ alone.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_vectors_do_not_depend_on_how_texts_are_batched():
    """Long and short texts embedded together (sorted, padded, split by the piece budget) get
    the vectors each gets alone, in the caller's order, however many batches run at once."""
    long = " ".join(f"Paragraph {i} says the council approved {i * 7} new buses for the city." for i in range(30))
    texts = ["Short one.", long, "Washington has 2,500 soldiers in Iraq.", long[:400], "Mid " * 40,
             # more than QUERY_TEXTS: the batches run side by side, as when indexing
             *(f"Pier {i} of the port reopened on day {i}." for i in range(QUERY_TEXTS))]
    embedder = OnnxEmbedder()
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_batches_keep_to_the_piece_budget():
    lengths = [256, 256, 256, 200, 120, 64, 64, 30, 30, 30, *([10] * 100)]
    ranges = _batches(lengths)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in pairwise(ranges))
    for start, end in ranges:
        assert end - start <= BATCH
        assert (end - start) * lengths[start] <= BATCH_PIECES or end - start == 1
    assert _batches([BATCH_PIECES * 2, 5]) == [(0, 1), (1, 2)]  # too long for the budget: alone
