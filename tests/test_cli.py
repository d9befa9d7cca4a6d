"""The `sourced` command on the fake embedder: help, index, documents, remove, ask, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import CORPUS, ROOT, SEED_ID

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCED_EMBEDDER", "hash")
    monkeypatch.setenv("SOURCED_READER", "fake")
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.chdir(tmp_path)  # no stray .env or ./corpus from the checkout
    return tmp_path


def test_help_explains_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("index", "remove", "documents", "ask", "eval"):
        assert command in result.output
    index_help = runner.invoke(app, ["index", "--help"]).output
    for option in ("--index-dir", "--rebuild", "--prune", "--model", "--chunk-tokens", "SOURCED_INDEX_DIR",
                   "--strict", "--undated-ok"):
        assert option in index_help
    flat = " ".join(index_help.replace("│", " ").split())  # rich wraps and boxes the help
    for default in ("(default ./.sourced)", "(default 192)", "(default 48)", "(default corpus/)"):
        assert default in flat, default


def test_index_twice_gives_same_counts(env):
    first = runner.invoke(app, ["index", str(CORPUS), "-q"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 added, 0 replaced, 0 unchanged")
    second = runner.invoke(app, ["index", str(CORPUS), "-q"])
    assert second.output.startswith("0 added, 0 replaced, 1 unchanged")
    rows = [json.loads(line) for line in runner.invoke(app, ["documents"]).output.splitlines()]
    assert [r["doc_id"] for r in rows] == [SEED_ID]


def test_index_lists_each_skipped_file_and_indexes_the_rest(env):
    folder = env / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Good\nThe bridge reopened on Monday.\n", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (folder / "blob.txt").write_bytes(b"\x00\x01binary")
    (folder / "empty.md").write_text("\n\n", encoding="utf-8")
    (folder / "dated.md").write_text("---\npublished: next tuesday\n---\nTalks.\n", encoding="utf-8")
    result = runner.invoke(app, ["index", str(folder), "-q"])
    assert result.exit_code == 0, result.output
    assert "1 added, 0 replaced, 0 unchanged, 4 skipped, 0 removed;" in result.stdout
    for line in (f"skipped {folder / 'blob.txt'} (not text): it holds NUL bytes (a binary file?)",
                 f"skipped {folder / 'dated.md'} (bad date): published 'next tuesday' is not a "
                 "date (write it as YYYY-MM-DD)",
                 f"skipped {folder / 'empty.md'} (empty document): no text left after cleaning",
                 f"skipped {folder / 'photo.jpg'} (unsupported type): unsupported file type '.jpg'",
                 "Fix those dates, or pass --undated-ok to index such files without a date."):
        assert line in result.stderr, line
    rows = [json.loads(line) for line in runner.invoke(app, ["documents"]).stdout.splitlines()]
    assert [r["doc_id"] for r in rows] == ["good"]  # never the binary file

    undated = runner.invoke(app, ["index", str(folder), "-q", "--undated-ok"])
    assert undated.exit_code == 0, undated.output
    assert "1 added, 0 replaced, 1 unchanged, 3 skipped, 0 removed (1 without their date);" in undated.stdout
    assert (f"indexed {folder / 'dated.md'} without a date: published 'next tuesday' is not a date"
            in undated.stderr)
    rows = [json.loads(line) for line in runner.invoke(app, ["documents"]).stdout.splitlines()]
    assert {r["doc_id"]: r["published"] for r in rows} == {"dated": None, "good": None}


def test_strict_index_commits_nothing_when_a_file_would_be_skipped(env):
    folder = env / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Good\nThe bridge reopened on Monday.\n", encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    result = runner.invoke(app, ["index", str(folder), "-q", "--strict"])
    assert result.exit_code == 1, result.output
    assert f"skipped {folder / 'notes.pdf'} (unsupported type)" in result.stderr
    assert "error: --strict: 1 skipped (listed above); nothing was indexed." in result.stderr
    assert runner.invoke(app, ["documents"]).exit_code == 3  # no index was created
    (folder / "notes.pdf").unlink()
    assert runner.invoke(app, ["index", str(folder), "-q", "--strict"]).exit_code == 0


def test_remove_known_and_unknown(env):
    runner.invoke(app, ["index", str(CORPUS), "-q"])
    result = runner.invoke(app, ["remove", SEED_ID, "not-there"])
    assert result.exit_code == 4
    assert "1 removed" in result.output and "not in the index: not-there" in result.output


def test_documents_without_index_is_a_clear_error(env):
    result = runner.invoke(app, ["documents"])
    assert result.exit_code == 3
    assert "No index at" in result.output and "sourced index" in result.output
    assert "Traceback" not in result.output


def test_bad_path_is_a_clear_error(env):
    result = runner.invoke(app, ["index", str(env / "missing.txt")])
    assert result.exit_code == 1 and "error:" in result.output and "Traceback" not in result.output


def test_invalid_chunk_settings_are_explained(env):
    result = runner.invoke(app, ["index", "--chunk-tokens", "32", "--chunk-overlap", "40"])
    assert result.exit_code == 1 and "chunk_overlap" in result.output


def test_ask_json_and_stdin_lines(env):
    result = runner.invoke(app, ["ask", "How many US troops are in Iraq?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answer"] == "2,500"
    assert {"question", "answer", "confidence", "citations", "passages"} <= answer.keys()
    assert {"doc_id", "title", "url", "quote", "char_start", "char_end"} <= answer["citations"][0].keys()
    result = runner.invoke(app, ["ask"], input="How many US troops are in Iraq?\n\n   \nHow many British troops are in Iraq?\n")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["answer"] for x in lines] == ["2,500", None]


def test_ask_for_a_person_prints_quote_and_source(env):
    result = runner.invoke(app, ["ask", "How many US troops are in Iraq?"])
    assert "2,500" in result.output and "Washington has 2,500 soldiers" in result.output
    assert SEED_ID in result.output and "chars" in result.output


def test_ask_shows_when_sources_disagree(env):
    claim = "The city council approved {n} new electric buses on Monday, the mayor{who} said.\n"
    (env / "a.txt").write_text("Buses A\n" + claim.format(n=40, who=""), encoding="utf-8")
    (env / "b.txt").write_text("Buses B\n" + claim.format(n=25, who="'s office"), encoding="utf-8")
    assert runner.invoke(app, ["index", str(env / "a.txt"), str(env / "b.txt"), "-q"]).exit_code == 0
    result = runner.invoke(app, ["ask", "How many electric buses did the city council approve?"])
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    other = "25" if first == "40" else "40"
    assert "  Sources disagree:" in rest
    assert any(line.startswith(f"  {other}: \"The city council approved {other} ") for line in rest)


def test_a_question_of_bytes_that_are_not_utf8_is_a_clear_error(env):
    # The shell hands undecodable argv bytes over as surrogates; printing the answer raised.
    result = runner.invoke(app, ["ask", "\udcff troops?", "--json"])
    assert result.exit_code == 2, result.output
    assert "not valid UTF-8" in result.output and "Traceback" not in result.output


# Run as `sourced` runs, in a fresh interpreter: at exit it prints which heavy modules loaded.
CHECK_IMPORTS = """
import atexit, sys
heavy = ("torch", "sentence_transformers", "spacy")
atexit.register(lambda: print("loaded:", [m for m in heavy if m in sys.modules], file=sys.stderr))
sys.argv = ["sourced", *sys.argv[1:]]
from service.cli import main
main()
"""


@pytest.mark.parametrize(("args", "message"), [
    (["ask", ""], "error: The question is empty. Ask something, e.g. 'How many US troops are in Iraq?'"),
    (["ask", " \t "], "error: The question is empty."),
    (["ask", "why " * 300], "error: The question is 1,200 characters long; the limit is 1,000. "
                            "Ask it in fewer words."),
    (["search", ""], "error: The question is empty."),
])
def test_a_bad_question_is_refused_before_the_model_loads(env, args, message):
    result = subprocess.run([sys.executable, "-c", CHECK_IMPORTS, *args], capture_output=True,
                            text=True, cwd=ROOT, env={**os.environ, "SOURCED_EMBEDDER": "sentence-transformers"})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "loaded: []" in result.stderr


@pytest.mark.parametrize(("workers", "threads"), [(1, None), (2, "1")])
def test_serve_gives_each_worker_its_share_of_the_cores(env, monkeypatch, workers, threads):
    import uvicorn

    from service import cli

    started = {}
    monkeypatch.setattr(cli, "available_cores", lambda: 2)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.update(
        workers=k.get("workers", 1), threads=os.environ.get("SOURCED_READER_THREADS")))
    for name in ("SOURCED_READER_THREADS", "SOURCED_SERVE_SUPERVISOR_PID"):
        # serve sets them; set first so that monkeypatch removes them again after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = runner.invoke(app, ["serve", "--workers", str(workers)])
    assert result.exit_code == 0, result.output
    # One process reads with both cores; two workers one each, not two threads fighting per core.
    assert started == {"workers": workers, "threads": threads}
