"""The HTTP API on the fake embedder: answers, documents, writes, and every bad input as a 4xx."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api import create_app
from service.config import Settings
from service.engine import Engine

KEY = {"X-API-Key": "test-key"}
JSON_HEADERS = {"Content-Type": "application/json"}
ARTICLES = {
    "iraq-talks.md": """---
title: Iraq, US resume talks on coalition withdrawal
url: https://example.com/iraq
published: 2024-02-11
---
Iraq said Sunday it had resumed talks with the United States.

“The meetings will take place on a regular basis,” General Yehia Rasool, military \
spokesman for Iraq’s prime minister, said in a statement.

Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition \
against ISIS.
""",
    "harbour.md": "# Harbour bridge reopens\n\nThe harbour bridge reopened on Monday after "
    "repairs that cost 12 million euros.\n",
    "markup.md": "# A page about markup\n\nSome pages contain <script>alert(1)</script> in text.\n",
}
LIBRARY = {
    "title": "Springfield library vote",
    "text": "The Springfield council voted on Tuesday to approve a library budget.\n\n"
    "The mayor said the library would open in March 2025.",
}
EMPTY = "The question is empty. Ask something, e.g. 'How many US troops are in Iraq?'"
BAD_QUESTIONS = [  # body, code, detail: all 422
    # Empty and blank are one mistake: one code, one sentence (the CLI's too).
    ({"question": ""}, "empty_question", EMPTY),
    ({"question": " \t\n "}, "empty_question", EMPTY),
    # Python keeps U+FEFF in ``str.split()``; the schema calls it blank, and so must the server,
    # also when the filters leave no article (a schema fuzz run found it answered with a 200).
    ({"question": "\ufeff \x1c"}, "empty_question", EMPTY),
    ({"question": "\ufeff", "sources": ["nowhere.example"]}, "empty_question", EMPTY),
    ({"question": "x" * 1234}, "question_too_long",
     "The question is 1,234 characters long; the limit is 1,000. Ask it in fewer words."),
    ({"question": "Why?", "top_k": 0}, "invalid_request",
     "top_k: Input should be greater than or equal to 1"),
    ({"question": "Why?", "top_k": 51}, "invalid_request",
     "top_k: Input should be less than or equal to 50"),
    ({}, "invalid_request", "question: Field required"),
    ({"question": ["Why?"]}, "invalid_request", "question: Input should be a valid string"),
    ([1, 2], "invalid_request",
     "body: Input should be a valid dictionary or object to extract fields from"),
]
TOO_BIG = "The request body is larger than the 2.5 MB limit."
NO_KEY = "Missing or wrong API key: send it in the X-API-Key header."
BAD_ID = ("doc_id: use up to 128 letters, digits, '.', '_' or '-', starting with a letter or "
          "digit, without '..'")


def settings_for(tmp_path, api_key: str | None = "test-key") -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake", corpus_dir=corpus, api_key=api_key,
                    rate_limit_per_minute=0)  # tests/test_security.py tests the limit


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(settings_for(tmp_path_factory.mktemp("api")))) as c:
        yield c


@pytest.fixture
def writer(tmp_path, nlp):
    """A fresh index per test, on an injected engine (reusing the session's spaCy pipeline)."""
    settings = settings_for(tmp_path)
    engine = Engine(settings, nlp=nlp)
    with TestClient(create_app(settings, engine)) as c:
        yield c
    engine.close()


def assert_error(response, status: int, code: str, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and set(body) == {"detail", "code"}
    if detail is not None:
        assert body["detail"] == detail


def assert_citations_verify(client: TestClient, answer: dict) -> None:
    for c in answer["citations"]:
        text = client.get(f"/documents/{c['doc_id']}").json()["text"]
        assert text[c["char_start"] : c["char_end"]] == c["quote"]
        assert text[c["answer_start"] : c["answer_end"]] == answer["answer"]


def test_ask_answers_with_a_quote_that_verifies(client):
    response = client.post("/ask", json={"question": "How many US troops are in Iraq?"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["answer"] == "2,500" and answer["reason"] is None and answer["confidence"] >= 0.5
    assert {"question", "answer_type", "citations", "passages", "timings"} <= answer.keys()
    assert answer["citations"][0]["doc_id"] == "iraq-talks"
    assert answer["citations"][0]["quote"].startswith("Washington has 2,500 soldiers")
    assert_citations_verify(client, answer)
    same = client.get("/ask", params={"q": "How many US troops are in Iraq?", "top_k": 3}).json()
    assert same["answer"] == "2,500" and same["citations"] == answer["citations"]


def test_unanswerable_question_abstains_with_reason_and_passages(client):
    answer = client.post("/ask", json={"question": "How many British troops are in Iraq?"}).json()
    assert answer["answer"] is None and answer["citations"] == []
    assert answer["reason"] and answer["passages"]


@pytest.mark.parametrize(("body", "code", "detail"), BAD_QUESTIONS)
def test_bad_questions_are_422_with_stable_messages(client, body, code, detail):
    assert_error(client.post("/ask", json=body), 422, code, detail)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["question", "top_k", "q"]), inner),
    max_leaves=6,
)
ASKS = st.fixed_dictionaries({"question": st.text(max_size=40), "top_k": st.integers(-3, 60)})


@settings(max_examples=60,
          deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON | ASKS)
def test_no_json_body_makes_a_5xx(client, body):
    response = client.post("/ask", content=json.dumps(body), headers=JSON_HEADERS)
    assert response.status_code in (200, 422)


@pytest.mark.parametrize(("params", "code", "detail"), [
    ({"q": ""}, "empty_question", EMPTY),
    ({"q": "x" * 1001}, "question_too_long",
     "The question is 1,001 characters long; the limit is 1,000. Ask it in fewer words."),
    ({}, "invalid_request", "q: Field required"),
    ({"q": "Why?", "top_k": "ten"}, "invalid_request",
     "top_k: Input should be a valid integer, unable to parse string as an integer"),
])
def test_bad_get_ask_is_422(client, params, code, detail):
    assert_error(client.get("/ask", params=params), 422, code, detail)


def test_malformed_json_wrong_type_and_oversize_bodies(client):
    bad = client.post("/ask", content=b'{"question": ', headers=JSON_HEADERS)
    assert_error(bad, 400, "invalid_json")
    assert bad.json()["detail"].startswith("The body is not valid JSON: Expecting value")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        assert_error(client.post("/ask", content=b"question=Why", headers=headers), 415,
                     "unsupported_media_type",
                     "The request body must be JSON (Content-Type: application/json).")
    huge = b'{"question": "' + b"x" * 2_500_000 + b'"}'
    assert_error(client.post("/ask", content=huge, headers=JSON_HEADERS), 413,
                 "content_too_large", TOO_BIG)
    streamed = client.post("/ask", content=iter([huge[:1_000_000]] * 3), headers=JSON_HEADERS)
    assert "content-length" not in streamed.request.headers
    assert_error(streamed, 413, "content_too_large", TOO_BIG)
    oversize_doc = client.post("/documents", content=huge, headers={**KEY, **JSON_HEADERS})
    assert_error(oversize_doc, 413, "content_too_large", TOO_BIG)


def test_documents_paging_and_lookup(client):
    first = client.get("/documents", params={"limit": 2}).json()
    assert (first["count"], first["offset"], first["limit"]) == (3, 0, 2)
    assert [d["doc_id"] for d in first["data"]] == ["harbour", "iraq-talks"]
    rest = client.get("/documents", params={"offset": 2, "limit": 2}).json()
    assert [d["doc_id"] for d in rest["data"]] == ["markup"] and "text" not in rest["data"][0]
    assert_error(client.get("/documents", params={"limit": 0}), 422, "invalid_request",
                 "limit: Input should be greater than or equal to 1")
    doc = client.get("/documents/markup").json()
    assert "<script>alert(1)</script>" in doc["text"] and doc["chars"] == len(doc["text"])
    assert_error(client.get("/documents/nope"), 404, "document_not_found",
                 "No document with id 'nope'.")
    for path_like in ("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "a..b", "-x", "%2Fetc%2Fpasswd"):
        response = client.get(f"/documents/{path_like}")
        assert_error(response, 422, "invalid_doc_id")
        assert response.json()["detail"].startswith("Invalid doc_id ")
    assert_error(client.get("/no/such/route"), 404, "not_found", "Not Found")
    assert_error(client.put("/ask"), 405, "method_not_allowed", "Method Not Allowed")


def test_search_returns_ranked_passages(client):
    results = client.get("/search", params={"q": "bridge repairs", "k": 2}).json()
    assert results["count"] == len(results["passages"]) <= 2
    assert results["passages"][0]["doc_id"] == "harbour"
    assert_error(client.get("/search", params={"q": "x", "k": 0}), 422, "invalid_request",
                 "k: Input should be greater than or equal to 1")


def test_health_ready_docs_and_web_form(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["index_complete"] is True
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["documents"] == 3 and ready["sentences"] >= 3
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/ask"]["post"]["operationId"] == "ask-ask"
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<label for="question">' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_writes_need_a_configured_and_matching_key(client, tmp_path):
    disabled = "Writes are disabled: set SOURCED_API_KEY to enable them."
    with TestClient(create_app(settings_for(tmp_path, api_key=None))) as no_key:
        response = no_key.post("/documents", json=LIBRARY, headers=KEY)
        assert_error(response, 403, "writes_disabled", disabled)
        assert_error(no_key.delete("/documents/harbour"), 403, "writes_disabled", disabled)
    for headers in ({}, {"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}):
        response = client.post("/documents", json=LIBRARY, headers=headers)
        assert_error(response, 401, "unauthorized", NO_KEY)
        for doc_id in ("harbour", "unknown"):  # the same answer: existence is not revealed
            response = client.delete(f"/documents/{doc_id}", headers=headers)
            assert_error(response, 401, "unauthorized", NO_KEY)
    assert client.get("/documents/harbour").status_code == 200


def test_add_replace_delete_and_restart(writer, tmp_path, nlp):
    question = {"question": "When will the library open?"}
    assert writer.post("/ask", json=question).json()["answer"] is None
    created = writer.post("/documents", json=LIBRARY, headers=KEY)
    assert created.status_code == 201
    assert created.headers["location"] == "/documents/springfield-library-vote"
    answer = writer.post("/ask", json=question).json()
    assert answer["answer"] == "March 2025"
    assert answer["citations"][0]["doc_id"] == "springfield-library-vote"
    assert_citations_verify(writer, answer)
    changed = {**LIBRARY, "doc_id": "springfield-library-vote",
               "text": LIBRARY["text"].replace("March", "June")}
    replaced = writer.post("/documents", json=changed, headers={"Authorization": "Bearer test-key"})
    assert replaced.status_code == 200 and replaced.json()["text"] == changed["text"]
    assert writer.post("/ask", json=question).json()["answer"] == "June 2025"
    assert writer.get("/ready").json()["documents"] == 4
    path_like = writer.post("/documents", headers=KEY,
                            json={**LIBRARY, "doc_id": "../../etc/passwd"})
    assert_error(path_like, 422, "invalid_request", BAD_ID)
    blank = writer.post("/documents", json={**LIBRARY, "title": "  "}, headers=KEY)
    assert_error(blank, 422, "invalid_request",
                 "title: String should have at least one character that is not a space")
    undated = writer.post("/documents", json={**LIBRARY, "published": "next tuesday"}, headers=KEY)
    assert_error(undated, 422, "bad_date",  # never stored silently without its date
                 "document: published 'next tuesday' is not a date (write it as YYYY-MM-DD)")
    assert writer.delete("/documents/harbour", headers=KEY).status_code == 204
    assert_error(writer.get("/documents/harbour"), 404, "document_not_found")
    assert_error(writer.delete("/documents/harbour", headers=KEY), 404, "document_not_found",
                 "No document with id 'harbour'.")
    settings = settings_for(tmp_path)
    engine = Engine(settings, nlp=nlp)
    with TestClient(create_app(settings, engine)) as restarted:  # the same index dir, reopened
        text = restarted.get("/documents/springfield-library-vote").json()["text"]
        assert text == changed["text"]
        assert restarted.get("/documents/harbour").status_code == 404
    engine.close()


def _boom(*_args):
    raise RuntimeError("secret stack detail")


def test_not_ready_is_503_and_unexpected_errors_are_a_bare_500(tmp_path, monkeypatch):
    engine = Engine(settings_for(tmp_path))
    monkeypatch.setattr(engine, "start", lambda **_: None)  # the index never loads
    with TestClient(create_app(engine.settings, engine)) as c:
        assert c.get("/health").json() == {"status": "ok"}
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert_error(c.post("/ask", json={"question": "Why?"}), 503, "index_not_found")
    monkeypatch.setattr(engine, "ask", _boom)
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        response = c.post("/ask", json={"question": "Why?"})
        assert_error(response, 500, "internal", "Internal error")
        assert "secret" not in response.text
