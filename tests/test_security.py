"""Authentication, protected reads, the body size limit and the rate limit."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from index.errors import AuthNotConfiguredError
from service.api.limits import TokenBuckets
from service.config import Settings
from service.engine import Engine
from tests.test_api import LIBRARY, NO_KEY, assert_error, settings_for

SECRET = "s3cr3t-Key-7f1c2a"  # distinctive, so a leak is easy to find in the logs
WRONG = "wr0ng-Key-9d8e7b"
READS = ["/ask?q=Why%3F", "/search?q=bridge", "/documents", "/documents/harbour", "/metrics"]
OPEN = ["/health", "/ready", "/", "/static/app.js", "/openapi.json"]


def make_client(tmp_path, nlp, **overrides) -> tuple[TestClient, Engine]:
    settings = settings_for(tmp_path, api_key=SECRET).model_copy(update=overrides)
    engine = Engine(settings, nlp=nlp)
    return TestClient(create_app(settings, engine)), engine


@pytest.fixture
def protected(tmp_path, nlp):
    client, engine = make_client(tmp_path, nlp, protect_reads=True)
    with client:
        yield client
    engine.close()


def test_defaults_are_safe():
    settings = Settings()
    assert settings.protect_reads is False
    assert settings.max_body_bytes == 2_500_000 and settings.rate_limit_per_minute == 120


def test_a_refusal_never_tells_whether_a_document_exists(protected):
    for headers in ({}, {"X-API-Key": WRONG}, {"Authorization": f"Bearer {WRONG}"},
                    {"Authorization": "Basic Zm9vOmJhcg=="}, {"X-API-Key": ""}):
        refusals = []
        for doc_id in ("harbour", "no-such-doc", "..%2Fetc%2Fpasswd"):
            for method in ("GET", "DELETE"):
                response = protected.request(method, f"/documents/{doc_id}", headers=headers)
                assert_error(response, 401, "unauthorized", NO_KEY)
                refusals.append((response.content, response.headers["www-authenticate"]))
        response = protected.post("/documents", json=LIBRARY, headers=headers)
        assert_error(response, 401, "unauthorized", NO_KEY)
        assert len(set(refusals)) == 1  # byte for byte the same answer for all three ids


def test_protected_reads_need_the_key_and_probes_stay_open(protected):
    for path in READS:
        assert_error(protected.get(path), 401, "unauthorized", NO_KEY)
        assert protected.get(path, headers={"X-API-Key": SECRET}).status_code == 200, path
        assert protected.get(path, headers={"Authorization": f"Bearer {SECRET}"}).status_code == 200
    assert_error(protected.post("/ask", json={"question": "Why?"}), 401, "unauthorized")
    for path in OPEN:
        assert protected.get(path).status_code == 200, path
    spec = protected.get("/openapi.json").json()
    assert "401" in spec["paths"]["/search"]["get"]["responses"]
    assert "401" not in spec["paths"]["/health"]["get"]["responses"]


def test_reads_are_open_by_default_and_protect_reads_needs_a_key(tmp_path, nlp, monkeypatch):
    client, engine = make_client(tmp_path, nlp)
    with client:
        for path in READS:
            assert client.get(path).status_code == 200, path
        spec = client.get("/openapi.json").json()
        assert "401" not in spec["paths"]["/search"]["get"]["responses"]
    engine.close()
    monkeypatch.setenv("SOURCED_PROTECT_READS", "true")
    assert Settings().protect_reads is True
    with pytest.raises(AuthNotConfiguredError, match="needs SOURCED_API_KEY"):
        create_app(Settings(embedder="hash", reader="fake"))


def test_the_key_never_reaches_the_logs(tmp_path, nlp, caplog):
    client, engine = make_client(tmp_path, nlp)
    caplog.set_level(logging.DEBUG)  # every logger, every level
    with client:
        assert client.post("/documents", json=LIBRARY, headers={"X-API-Key": SECRET}).is_success
        assert client.get("/ask", params={"q": "Why?"},
                          headers={"Authorization": f"Bearer {SECRET}"}).is_success
        assert client.delete("/documents/harbour", headers={"X-API-Key": WRONG}).status_code == 401
        assert client.post("/documents", json=LIBRARY,
                           headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401
    engine.close()
    access = [r for r in caplog.records if r.name == "sourced.access"]
    assert len(access) == 4  # the requests were logged ...
    for record in caplog.records:  # ... and no key anywhere: message, arguments, extras
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        assert SECRET not in text and WRONG not in text


def test_body_size_limit_is_a_setting(tmp_path, nlp):
    client, engine = make_client(tmp_path, nlp, max_body_bytes=10_000)
    with client:
        big = {**LIBRARY, "text": "The pier opened in 1901. " * 500}
        assert_error(client.post("/documents", json=big, headers={"X-API-Key": SECRET}), 413,
                     "content_too_large", "The request body is larger than the 0.01 MB limit.")
        assert client.post("/documents", json=LIBRARY, headers={"X-API-Key": SECRET}).is_success
    engine.close()


def test_rate_limit_answers_429_with_retry_after(tmp_path, nlp):
    client, engine = make_client(tmp_path, nlp, rate_limit_per_minute=3)
    with client:
        for _ in range(3):
            assert client.get("/documents").status_code == 200
        limited = client.get("/search", params={"q": "bridge"})
        assert_error(limited, 429, "rate_limited",
                     "Too many requests: the limit is 3 a minute per client. Retry in 20 s.")
        assert limited.headers["retry-after"] == "20"
        for path in ("/health", "/ready", "/metrics"):  # probes and scrapers are never limited
            assert client.get(path).status_code == 200
        other = TestClient(client.app, client=("198.51.100.23", 40000))  # a bucket of its own
        assert other.get("/documents").status_code == 200
    engine.close()


def test_a_program_on_the_same_machine_is_not_throttled_unless_asked(tmp_path, nlp):
    client, engine = make_client(tmp_path, nlp, rate_limit_per_minute=3)
    with client:
        for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
            local = TestClient(client.app, client=(host, 40000))
            assert [local.get("/documents").status_code for _ in range(5)] == [200] * 5, host
        stranger = TestClient(client.app, client=("198.51.100.23", 40000))
        assert [stranger.get("/documents").status_code for _ in range(4)] == [200] * 3 + [429]
    engine.close()
    client, engine = make_client(tmp_path, nlp, rate_limit_per_minute=3, rate_limit_loopback=True)
    with client:
        local = TestClient(client.app, client=("127.0.0.1", 40000))
        limited = [local.get("/documents") for _ in range(4)][-1]
        assert_error(limited, 429, "rate_limited",
                     "Too many requests: the limit is 3 a minute per client. Retry in 20 s.")
    engine.close()


def test_openapi_states_the_rate_limit_and_who_is_exempt(tmp_path, nlp):
    spec = create_app(settings_for(tmp_path)).openapi()
    for path in ("/ask", "/search"):
        described = spec["paths"][path]["get"]["responses"]["429"]
        assert "SOURCED_RATE_LIMIT_PER_MINUTE (default 120" in described["description"]
        assert "Loopback clients (127.0.0.0/8, ::1) are not limited" in described["description"]
        assert "Retry-After" in described["headers"]


def test_token_buckets_refill_and_forget():
    now = [0.0]
    buckets = TokenBuckets(per_minute=2, max_keys=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == pytest.approx([0.0, 0.0, 30.0])
    now[0] = 15.0
    assert buckets.take("a") == pytest.approx(15.0)  # half a token back: wait for the other half
    now[0] = 45.0
    assert buckets.take("a") == 0.0
    buckets.take("b"), buckets.take("c")  # "a" is the least recently seen: forgotten
    assert "a" not in buckets._buckets and len(buckets._buckets) == 2
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=0)
