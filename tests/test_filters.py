"""Date and source filters: the chunk mask, the engine, the HTTP API and the CLI flags.

Two articles disagree (40 buses in January, 75 in March) and a third has no date: a filter
must pick the article it names, and say so plainly when it names none.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from index.errors import InvalidFilterError, InvalidQueryError
from index.records import Document
from index.store import Snapshot
from service.api import create_app
from service.cli import app as cli
from service.config import Settings
from service.engine import Engine
from service.filters import ChunkFacts, Filters

QUESTION = "How many new electric buses did the Springfield council approve?"
ARTICLES = {
    "buses-january.md": """---
title: Council approves new buses
source: cnn.com
url: https://edition.cnn.com/buses
published: 2022-01-03
---
The Springfield council approved 40 new electric buses on Monday.

The buses will enter service in the spring, the mayor said.
""",
    "buses-march.md": """---
title: Springfield council expands bus order
source: www.BBC.co.uk
published: 2022-03-10
---
The Springfield council approved 75 new electric buses on Thursday.

The order replaces the smaller plan agreed earlier this year.
""",
    "buses-undated.md": """# Bus order

The Springfield council approved 60 new electric buses, a spokesperson said.
""",
}
D = dt.date


# ------------------------------------------------------------------------------- the mask


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    """Chunks only (no vectors needed): the mask reads documents' dates and sources."""
    docs = [
        Document("a", "x", "A", published="2022-01-01", source="cnn.com"),
        Document("b", "x", "B", published="2022-01-07", source="www.BBC.co.uk"),
        Document("c", "x", "C", published=None, source="cnn.com"),
        Document("d", "x", "D", published="2022-01-08", source=None),
        Document("e", "x", "E", published="2021-12-31", source="edition.cnn.com"),
        Document("f", "x", "F", published="2022-01-04", source="notcnn.com"),
    ]
    chunk_doc = ["a", "a", "b", "c", "d", "e", "f"]
    n = len(chunk_doc)
    return Snapshot(
        documents={d.doc_id: d for d in docs}, chunk_doc=chunk_doc,
        chunk_span=np.zeros((n, 2), int), chunk_sent=np.zeros((n, 2), int),
        chunk_vectors=np.zeros((n, 4), np.float32), sent_doc=[], sent_span=np.zeros((0, 2), int),
        sent_vectors=np.zeros((0, 4), np.float32), generation=1,
    )


def allowed_docs(filters: Filters, snapshot: Snapshot) -> list[str]:
    mask = filters.mask(snapshot)
    assert mask.dtype == bool and mask.shape == (len(snapshot.chunk_doc),)
    return sorted({snapshot.chunk_doc[i] for i in np.flatnonzero(mask)})


@pytest.mark.parametrize(
    ("start", "end", "docs"),
    [
        (D(2022, 1, 1), D(2022, 1, 7), ["a", "b", "f"]),  # both edges are inside the window
        (D(2022, 1, 2), D(2022, 1, 6), ["f"]),
        (D(2022, 1, 7), D(2022, 1, 7), ["b"]),  # a one-day window
        (D(2022, 1, 8), None, ["d"]),  # open end
        (None, D(2021, 12, 31), ["e"]),  # open start
        (None, D(2099, 1, 1), ["a", "b", "d", "e", "f"]),  # undated "c" is never in a window
    ],
)
def test_date_window_is_inclusive_and_leaves_undated_out(snapshot, start, end, docs):
    assert allowed_docs(Filters(start, end), snapshot) == docs


@pytest.mark.parametrize(
    ("source", "docs"),
    [
        ("cnn.com", ["a", "c", "e"]),  # "edition.cnn.com" is a subdomain; "notcnn.com" is not
        ("CNN.COM", ["a", "c", "e"]),
        ("www.cnn.com", ["a", "c", "e"]),
        ("https://www.cnn.com/2022/01/01/world/story.html", ["a", "c", "e"]),
        ("edition.cnn.com", ["e"]),
        ("bbc.co.uk", ["b"]),  # stored as "www.BBC.co.uk"
        ("nytimes.com", []),
        ("https://", []),  # a url without a host matches nothing; it is not an error
    ],
)
def test_sources_are_normalised_on_both_sides(snapshot, source, docs):
    assert allowed_docs(Filters(sources=(source,)), snapshot) == docs


def test_dates_and_sources_combine_and_sources_are_any_of(snapshot):
    both = Filters(D(2022, 1, 1), D(2022, 1, 31), ("cnn.com", "bbc.co.uk"))
    assert allowed_docs(both, snapshot) == ["a", "b"]
    assert both.describe() == "published 2022-01-01..2022-01-31, sources cnn.com, bbc.co.uk"


def test_no_filters_allow_everything(snapshot):
    assert not Filters().active
    assert Filters().mask(snapshot).all()


def test_chunk_facts_are_built_once_per_snapshot(snapshot):
    assert ChunkFacts.of(snapshot) is ChunkFacts.of(snapshot)


def test_parse_reads_strings_and_ignores_empty_dates():
    f = Filters.parse("2022-01-01", " ", ["https://www.cnn.com/x", "CNN.com"])
    assert f == Filters(D(2022, 1, 1), None, ("cnn.com",))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2022-03-01", "2022-01-01", ()),
         "The date window is empty: from 2022-03-01 is after to 2022-01-01."),
        (("2022-02-30", None, ()), "published_from is not a date: '2022-02-30'. Use an ISO date"),
        ((None, "yesterday", ()), "published_to is not a date: 'yesterday'. Use an ISO date"),
        ((None, None, ("  ",)), "Empty source '  ': name a publisher, e.g. 'cnn.com'."),
        ((None, None, ("",)), "Empty source '': name a publisher, e.g. 'cnn.com'."),
    ],
)
def test_invalid_filters_are_a_domain_error(args, message):
    with pytest.raises(InvalidFilterError) as info:
        Filters.parse(*args)
    assert info.value.message.startswith(message)
    assert info.value.http_status == 422 and info.value.exit_code == 2


# ------------------------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("filters")
    (root / "corpus").mkdir()
    for name, text in ARTICLES.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    return Settings(index_dir=root / "idx", embedder="hash", reader="fake", corpus_dir=root / "corpus",
                    rate_limit_per_minute=0)


@pytest.fixture(scope="module")
def engine(settings, nlp):
    eng = Engine(settings, nlp=nlp)
    eng.start(build_if_missing=True, progress=False)
    yield eng
    eng.close()


@pytest.mark.parametrize(
    ("filters", "answer", "doc_id", "published"),
    [
        (Filters(D(2022, 1, 1), D(2022, 1, 7)), "40", "buses-january", "2022-01-03"),
        (Filters(D(2022, 3, 10), D(2022, 3, 10)), "75", "buses-march", "2022-03-10"),
        (Filters(D(2022, 2, 1)), "75", "buses-march", "2022-03-10"),
        (Filters(sources=("www.bbc.co.uk",)), "75", "buses-march", "2022-03-10"),
        (Filters(sources=("https://www.CNN.com/world",)), "40", "buses-january", "2022-01-03"),
    ],
)
def test_filters_choose_the_article_that_answers(engine, filters, answer, doc_id, published):
    result = engine.ask(QUESTION, filters=filters)
    assert result.answer == answer
    assert result.citations[0].doc_id == doc_id and result.citations[0].published == published
    assert {p.doc_id for p in result.passages} == {doc_id}


def test_no_match_is_an_answer_with_a_reason_not_an_error(engine):
    result = engine.ask(QUESTION, filters=Filters(D(2022, 1, 1), D(2022, 1, 2), ("cnn.com",)))
    assert result.answer is None and result.citations == [] and result.passages == []
    assert result.reason == (
        "No articles match the filters: published 2022-01-01..2022-01-02, source cnn.com."
    )


def test_a_blank_question_is_refused_even_when_nothing_matches(engine):
    with pytest.raises(InvalidQueryError):
        engine.ask("   ", filters=Filters(sources=("nytimes.com",)))


def test_search_keeps_to_the_filters(engine):
    passages = engine.search("electric buses", filters=Filters(published_to=D(2022, 1, 31)))
    assert [p.doc_id for p in passages] == ["buses-january"]
    assert engine.search("electric buses", filters=Filters(sources=("nytimes.com",))) == []


# ------------------------------------------------------------------------------- HTTP


@pytest.fixture(scope="module")
def client(settings, engine):
    with TestClient(create_app(settings, engine)) as c:
        yield c


def test_post_ask_with_a_window(client):
    r = client.post("/ask", json={"question": QUESTION, "published_from": "2022-03-01",
                                  "published_to": "2022-03-31"})
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "75"
    assert r.json()["citations"][0]["published"] == "2022-03-10"


def test_get_ask_and_search_take_repeated_sources(client):
    r = client.get("/ask", params={"q": QUESTION, "source": ["nytimes.com", "cnn.com"]})
    assert r.status_code == 200 and r.json()["answer"] == "40"
    r = client.get("/search", params={"q": "electric buses", "source": "bbc.co.uk"})
    assert r.status_code == 200
    assert [p["doc_id"] for p in r.json()["passages"]] == ["buses-march"]


def test_http_no_match_is_200_with_the_reason(client):
    r = client.post("/ask", json={"question": QUESTION, "sources": ["nytimes.com"]})
    assert r.status_code == 200
    assert r.json()["answer"] is None
    assert r.json()["reason"] == "No articles match the filters: source nytimes.com."


def not_a_date(name: str, value: str) -> str:
    return f"{name} is not a date: {value!r}. Use an ISO date, YYYY-MM-DD (e.g. 2022-01-31)."


# A bad filter value is one mistake with one code, over HTTP as on the CLI; a value of the wrong
# JSON type (a string for a list) is a malformed request.
@pytest.mark.parametrize(
    ("method", "path", "data", "code", "detail"),
    [
        ("post", "/ask", {"published_from": "2022-02-30"}, "invalid_filter",
         not_a_date("published_from", "2022-02-30")),
        ("post", "/ask", {"published_to": "01/07/2022"}, "invalid_filter",
         not_a_date("published_to", "01/07/2022")),
        ("post", "/ask", {"published_to": 1641000000}, "invalid_filter",
         not_a_date("published_to", "1641000000")),
        ("post", "/ask", {"published_from": "2022-03-01", "published_to": "2022-01-01"},
         "invalid_filter", "The date window is empty: from 2022-03-01 is after to 2022-01-01."),
        ("post", "/ask", {"sources": [""]}, "invalid_filter",
         "Empty source '': name a publisher, e.g. 'cnn.com'."),
        ("post", "/ask", {"sources": "cnn.com"}, "invalid_request",
         "sources: Input should be a valid list"),
        ("get", "/ask", {"published_from": "1641000000"}, "invalid_filter",
         not_a_date("published_from", "1641000000")),
        ("get", "/ask", {"source": " "}, "invalid_filter",
         "Empty source ' ': name a publisher, e.g. 'cnn.com'."),
        ("get", "/search", {"published_from": "2022-03-01", "published_to": "2022-01-01"},
         "invalid_filter", "The date window is empty: from 2022-03-01 is after to 2022-01-01."),
    ],
)
def test_bad_filters_are_422_json(client, method, path, data, code, detail):
    if method == "post":
        r = client.post(path, json={"question": QUESTION, **data})
    else:
        r = client.get(path, params={"q": QUESTION, **data})
    assert r.status_code == 422
    assert r.json() == {"detail": detail, "code": code}


def test_openapi_documents_the_filters(client):
    spec = client.get("/openapi.json").json()
    for path in ("/ask", "/search"):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert {"published_from", "published_to", "source"} <= params.keys()
        assert params["source"]["schema"]["type"] == "array"
    body = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert {"published_from", "published_to", "sources"} <= body.keys()


# ------------------------------------------------------------------------------- CLI

runner = CliRunner()


@pytest.fixture
def cli_env(settings, engine, monkeypatch, tmp_path):
    """The module's index (built by ``engine``), read by the ``sourced`` command."""
    monkeypatch.setenv("SOURCED_EMBEDDER", "hash")
    monkeypatch.setenv("SOURCED_READER", "fake")
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(settings.index_dir))
    monkeypatch.chdir(tmp_path)


def test_cli_ask_with_filters_shows_the_publication_date(cli_env):
    result = runner.invoke(cli, ["ask", QUESTION, "--from", "2022-03-01", "--source", "bbc.co.uk"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("75\n")
    assert "Springfield council expands bus order (published 2022-03-10) [buses-march" in result.output


def test_cli_search_json_with_filters(cli_env):
    result = runner.invoke(cli, ["search", "electric buses", "--json", "--to", "2022-01-03",
                                 "--source", "www.cnn.com", "--source", "nytimes.com"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [p["doc_id"] for p in body["passages"]] == ["buses-january"]


def test_cli_no_match_says_why(cli_env):
    result = runner.invoke(cli, ["ask", QUESTION, "--to", "2021-12-31"])
    assert result.exit_code == 0, result.output
    assert "No articles match the filters: published 2021-12-31 or earlier." in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2022-13-01"], "Invalid value for '--from'"),
        (["--from", "2022-03-01", "--to", "2022-01-01"],
         "error: The date window is empty: from 2022-03-01 is after to 2022-01-01."),
        (["--source", " "], "error: Empty source ' ': name a publisher"),
    ],
)
def test_cli_bad_filters_exit_2_without_a_traceback(cli_env, args, message):
    result = runner.invoke(cli, ["ask", QUESTION, *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_cli_help_explains_the_filters():
    for command in ("ask", "search"):
        text = " ".join(runner.invoke(cli, [command, "--help"]).output.split())
        for flag in ("--from", "--to", "--source", "YYYY-MM-DD", "Repeat for several"):
            assert flag in text, (command, flag)
