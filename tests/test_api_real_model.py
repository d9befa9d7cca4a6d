"""The HTTP API on the real packaged MiniLM model over the real corpus/ (offline, ~10 s)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.config import Settings
from tests.conftest import SEED_ID, US_TROOPS_QUOTE

pytestmark = pytest.mark.integration


def test_ask_us_troops_in_iraq_over_http(tmp_path):
    settings = Settings(index_dir=tmp_path / "idx")  # default model and corpus_dir
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").json()["documents"] >= 1
        response = client.post("/ask", json={"question": "How many US troops are in Iraq?"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["answer"] == "2,500"
        citation = answer["citations"][0]
        assert (citation["doc_id"], citation["quote"]) == (SEED_ID, US_TROOPS_QUOTE)
        document = client.get(f"/documents/{citation['doc_id']}")
        assert document.status_code == 200
        text = document.json()["text"]
        assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]
        assert text[citation["answer_start"] : citation["answer_end"]] == "2,500"
