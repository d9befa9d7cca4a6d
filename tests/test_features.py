"""Candidate features, read from stored token rows: hand-checked on one sentence, and the
vectorised tree distances against a plain breadth-first search."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from index.annotations import annotate
from service.reader.evidence import Question, Sentence
from service.reader.features import FEATURES, _tree_distances, featurize
from service.reader.spans import KINDS

TEXT = "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition against ISIS."
F = {n: i for i, n in enumerate(FEATURES)}


def _bfs(heads: np.ndarray, start: int) -> dict[int, int]:
    graph: dict[int, set[int]] = {i: set() for i in range(len(heads))}
    for i, h in enumerate(heads.tolist()):
        if h != i:
            graph[i].add(h)
            graph[h].add(i)
    seen, todo = {start: 0}, deque([start])
    while todo:
        a = todo.popleft()
        for b in graph[a] - seen.keys():
            seen[b] = seen[a] + 1
            todo.append(b)
    return seen


def test_tree_distances_equal_a_breadth_first_search(nlp):
    texts = [TEXT, "The council, which met on Monday, approved 40 buses. It said more were coming."]
    for rows in annotate(nlp, texts):
        heads = rows["head"]
        targets = np.arange(len(heads))
        got = _tree_distances(heads, targets)
        for t in targets:
            want = _bfs(heads, int(t))
            for j in range(len(heads)):
                assert got[t, j] == want.get(j, 2 * len(heads) + 1)


@pytest.fixture(scope="module")
def rows(nlp):
    return annotate(nlp, [TEXT])[0]


def test_a_count_next_to_the_asked_noun_reads_close_and_new(rows):
    q = Question.of("How many soldiers are in Iraq?", np.zeros(4), lambda stem: 1.0)
    probs = np.full(len(KINDS), 1 / len(KINDS))
    x, which = featurize(q, probs, [Sentence(0, TEXT, rows, 0.8)])
    texts = [TEXT[s.start : s.end] for _, s in which]
    count, city = x[texts.index("2,500")], x[texts.index("Iraq")]
    assert count[F["next_match"]] == 1 and count[F["head_match"]] == 1 and count[F["in_q"]] == 0
    assert count[F["dist=1"]] == 1 and count[F["num"]] == 1 and count[F["kind=CARDINAL"]] == 1
    assert city[F["in_q"]] == 1 and city[F["cap"]] == 1  # repeats the question
    assert count[F["dense"]] == pytest.approx(0.8) and count[F["q_absent"]] == 0
    q2 = Question.of("How many British soldiers are in Iraq?", np.zeros(4), lambda stem: 1.0)
    x2, _ = featurize(q2, probs, [Sentence(0, TEXT, rows, 0.8)])
    assert x2[0, F["q_absent"]] == pytest.approx(1 / 3)  # "british" of british, soldier, iraq
