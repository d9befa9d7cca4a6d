"""Sharded search (index/shards.py, service/sharded.py) in one process: the merged top-k and
the answers equal the single index's on the seed dev questions."""

from __future__ import annotations

import pytest

from index.embedding import HashEmbedder
from index.lexical import CorpusStats, LexicalIndex
from index.shards import ShardSet, shard_of, split
from index.store import IndexStore
from service.filters import Filters
from service.sharded import ShardedEngine, local_shards
from tests.conftest import seed_dev_questions, small_index_engine


@pytest.fixture(scope="module")
def single(tmp_path_factory, nlp):
    engine = small_index_engine(tmp_path_factory.mktemp("sharded"), nlp)
    yield engine
    engine.close()


@pytest.mark.parametrize("n", [2, 3])
def test_sharded_answers_equal_single_index_answers(single, n):
    shards = split(single.settings.index_dir, n)
    sharded = ShardedEngine(single.settings, local_shards(shards), shards.stats,
                            embedder=HashEmbedder(64))
    sharded.start()
    assert sharded.counts() == single.counts()
    assert all(len(IndexStore.open(d).content_hashes()) for d in shards.dirs)  # none empty
    for question in seed_dev_questions():
        assert sharded.search(question, 10) == single.search(question, 10)
        assert _same(sharded.ask(question), single.ask(question)), question


def test_bm25_with_corpus_statistics_scores_as_the_whole_corpus():
    texts = [["troops in Iraq", "talks resumed"], ["Iraq troops troops"], ["grain ships"],
             ["coalition talks in Baghdad"]]
    keys = [f"d{i}" for i in range(len(texts))]
    whole = LexicalIndex.build(keys, texts)
    parts = [LexicalIndex.build(keys[:2], texts[:2]), LexicalIndex.build(keys[2:], texts[2:])]
    stats = CorpusStats.merge([p.stats() for p in parts])
    assert stats == whole.stats()
    scored = [LexicalIndex.build(k, t, stats=stats) for k, t in ((keys[:2], texts[:2]), (keys[2:], texts[2:]))]
    for query in ("troops Iraq", "talks", "grain ships coalition"):
        merged = [float(x) for p in scored for x in p.scores(query)]
        assert merged == [float(x) for x in whole.scores(query)]
        assert scored[1].idf("iraq") == whole.idf("iraq")


def test_filters_reach_every_shard(single):
    shards = split(single.settings.index_dir, 2)
    sharded = ShardedEngine(single.settings, local_shards(shards), shards.stats,
                            embedder=HashEmbedder(64))
    sharded.start()
    only = Filters(sources=("alsiasi.com",))
    question = "How many US troops are in Iraq?"
    assert sharded.search(question, 10, only) == single.search(question, 10, only)
    nowhere = Filters(sources=("nowhere.example",))
    assert sharded.ask(question, filters=nowhere).reason == single.ask(question, filters=nowhere).reason


def test_shards_are_reused_until_the_index_changes(single):
    first = split(single.settings.index_dir, 2)
    assert split(single.settings.index_dir, 2) == first
    assert ShardSet.open(first.root) == first
    assert {shard_of(d, 2) for d in single.answerer.retriever.snapshot.documents} == {0, 1}


def _same(a, b) -> bool:
    skip = {"timings"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


def test_the_commands_offer_ray():
    from typer.testing import CliRunner

    from service.cli import app

    flat = {c: " ".join(CliRunner().invoke(app, [c, "--help"]).output.replace("│", " ").split())
            for c in ("index", "serve")}
    for option in ("--ray", "--ray-actors", "--ray-batch-docs"):
        assert option in flat["index"]
    for option in ("--ray", "--shards", "--replicas"):
        assert option in flat["serve"]
