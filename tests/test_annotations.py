"""The reader's token rows, stored at ingest: what spaCy read, packed so that a sentence's rows
stand alone, and the candidate answers enumerated from them."""

from __future__ import annotations

import numpy as np
import pytest

from index.annotations import (CAPITALISED, ENT_BEGIN, ENTS, LIKE_NUM, NP_BEGIN, annotate, pack,
                               unpack)
from index.words import content_words, stem_key, word_key
from service.reader.spans import KINDS, candidates

TROOPS = "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition against ISIS."
ATTACKS = ("US and allied troops have been targeted more than 165 times in the Middle East since "
           "mid-October, in attacks linked to the Israel-Hamas war in Gaza.")
PREVENT = "Currently US troops in Iraq provide assistance to government forces to prevent a re-emergence of ISIS terrorists."


@pytest.fixture(scope="module")
def rows(nlp):
    return dict(zip((TROOPS, ATTACKS, PREVENT), annotate(nlp, [TROOPS, ATTACKS, PREVENT]), strict=True))


def _texts(rows_, text):
    return [(text[c.start : c.end], KINDS[c.kind]) for c in candidates(rows_, text)]


def test_rows_point_into_their_own_sentence(rows):
    for text, r in rows.items():
        words = [text[s:e] for s, e in zip(r["start"], r["end"], strict=True)]
        assert "".join(words) == text.replace(" ", "")
        n = len(r)
        assert np.all((r["head"] >= 0) & (r["head"] < n)) and np.all(r["left"] <= r["right"])


def test_rows_carry_entities_chunks_numbers_and_word_keys(rows):
    r = rows[TROOPS]
    words = [TROOPS[s:e] for s, e in zip(r["start"], r["end"], strict=True)]
    at = {w: i for i, w in enumerate(words)}
    assert r["ent"][at["Iraq"]] == ENTS.index("GPE") and r["flags"][at["Iraq"]] & ENT_BEGIN
    assert r["flags"][at["2,500"]] & LIKE_NUM and r["flags"][at["Washington"]] & CAPITALISED
    assert r["flags"][at["some"]] & NP_BEGIN  # "some 900 troops"
    assert r["key"][at["soldiers"]] == word_key("soldier") == stem_key(content_words("soldiers")[0])
    assert r["key"][at["the"]] == 0 and r["key"][at["."]] == 0


def test_pack_and_unpack_are_inverse(rows):
    parts = list(rows.values())
    flat, counts = pack(parts)
    assert [p.tobytes() for p in unpack(flat, counts)] == [p.tobytes() for p in parts]


def test_numbers_keep_their_qualifiers_even_where_the_tagger_missed_them(rows):
    found = _texts(rows[TROOPS], TROOPS)
    assert ("2,500", "CARDINAL") in found and ("some 900", "NUM") in found
    assert ("more than 165", "CARDINAL") in _texts(rows[ATTACKS], ATTACKS)


def test_phrases_are_whole_words_and_verbatim(rows):
    found = [t for t, _ in _texts(rows[PREVENT], PREVENT)]
    assert "a re-emergence of ISIS terrorists" in found or "re-emergence of ISIS terrorists" in found
    assert "provide assistance to government forces" in found  # the verb and its object, cut at the clause
    assert not any(t.endswith(("-", " to", " of")) or t.startswith("-") for t in found)
    for text, r in rows.items():
        for c in candidates(r, text):
            assert text[c.start : c.end].strip() == text[c.start : c.end] != ""


def test_parsing_a_sentence_does_not_import_torch():
    """spaCy's pipeline runs without PyTorch, so the query path never pays torch's import (about
    2 s of a cold start); torch stays importable for the embedder that needs it."""
    import subprocess
    import sys

    code = ("import sys\nfrom index.annotations import annotate, load_nlp\n"
            f"rows = annotate(load_nlp(), [{TROOPS!r}])\n"
            "assert len(rows[0]) > 10, rows\nassert 'torch' not in sys.modules, 'torch imported'\n"
            "import torch\nprint(torch.ones(2).sum().item())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.0"
