"""Loaders: every input format, doc_id stability, text cleaning and metadata normalisation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.errors import BadDateError, DocumentFormatError, InvalidDocumentIdError
from index.loaders import (
    SUPPORTED_SUFFIXES,
    FieldMap,
    LoadProblem,
    clean_text,
    document_from_record,
    load_file,
    load_paths,
    normalize_url,
)
from index.records import is_valid_doc_id

CORPUS = Path(__file__).parents[1] / "corpus"

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en"><head>
<title>Iraq talks resume | Example News</title>
<meta property="og:title" content="Iraq, US resume talks on coalition withdrawal">
<meta property="og:url" content="https://www.example.com/world/iraq-talks/">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2024-02-11T10:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<article>
<h1>Iraq, US resume talks on coalition withdrawal</h1>
<p>Iraq said Sunday it had resumed talks with the United States on the future of the
anti-extremist coalition, expressing hope that they would not be disrupted.</p>
<p>A first round of talks opened on January 27 but was swiftly suspended after a drone attack
killed three US military personnel at a base in Jordan.</p>
<div class="ad">Advertisement</div>
<p>Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition
against ISIS.</p>
</article>
<aside><h3>Related Articles</h3><ul><li><a href="/x">Another story entirely</a></li></ul></aside>
<footer><p>Copyright 2024 Example News. All rights reserved.</p>
<a href="#top">Back to top button</a></footer>
</body></html>
"""


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def write_jsonl(path: Path, lines: list[object]) -> Path:
    rendered = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return write(path, "\n".join(rendered) + "\n")


def only_document(result):
    assert result.problems == []
    assert len(result.documents) == 1
    return result.documents[0]


# ---------------------------------------------------------------------------- seed corpus


def test_seed_article_loads_with_front_matter_title():
    doc = only_document(load_file(CORPUS / "iraq-us-coalition-talks.md"))
    assert doc.title == "Iraq, US resume talks on US-led coalition withdrawal"
    assert "Washington has 2,500 soldiers in Iraq" in doc.text
    assert doc.doc_id == "iraq-us-coalition-talks"
    assert doc.source == "alsiasi.com"
    assert not doc.text.startswith("---")


# ---------------------------------------------------------------------------- .txt


def test_txt_title_is_first_short_line_and_stays_in_text(tmp_path):
    path = write(tmp_path / "talks.txt", "\n\nIraq talks resume\n\nBaghdad said on Sunday.\n")
    doc = only_document(load_file(path))
    assert doc.title == "Iraq talks resume"
    assert doc.text == "Iraq talks resume\n\nBaghdad said on Sunday."
    assert doc.doc_id == "talks"
    assert doc.origin == str(path)
    assert doc.url is None and doc.published is None and doc.source is None


def test_txt_long_first_line_falls_back_to_humanised_stem(tmp_path):
    long_line = "word " * 60
    doc = only_document(load_file(write(tmp_path / "iraq_us-talks.txt", long_line)))
    assert doc.title == "Iraq us talks"


def test_txt_in_windows_1252_is_decoded(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Caf\u00e9 \u201cquotes\u201d\n".encode("cp1252"))
    assert only_document(load_file(path)).text == "Caf\u00e9 \u201cquotes\u201d"


# ---------------------------------------------------------------------------- .md


def test_markdown_front_matter_sets_metadata_and_is_not_text(tmp_path):
    path = write(
        tmp_path / "a.md",
        "---\n"
        "title: Talks resume\n"
        "url: https://www.example.com/talks/\n"
        "published: 2024-02-11\n"
        "id: iraq-talks-2024\n"
        "---\n"
        "# A heading\n\nBody text.\n",
    )
    doc = only_document(load_file(path))
    assert doc.title == "Talks resume"
    assert doc.url == "https://www.example.com/talks/"
    assert doc.published == "2024-02-11"  # YAML gives a date object
    assert doc.source == "example.com"  # from the url, without www.
    assert doc.doc_id == "iraq-talks-2024"
    assert doc.text == "# A heading\n\nBody text."


def test_markdown_front_matter_datetime_and_date_alias(tmp_path):
    path = write(tmp_path / "a.md", "---\ndate: 2022-08-19T10:00:00Z\n---\nBody.\n")
    assert only_document(load_file(path)).published == "2022-08-19"


def test_markdown_without_front_matter_takes_first_h1(tmp_path):
    content = "Intro line\n\n```\n# not a heading\n```\n# Real Title #\n"
    path = write(tmp_path / "b.markdown", content)
    doc = only_document(load_file(path))
    assert doc.title == "Real Title"
    assert doc.text.startswith("Intro line")


def test_markdown_without_heading_uses_stem(tmp_path):
    doc = only_document(load_file(write(tmp_path / "iraq-talks.md", "Just a paragraph.\n")))
    assert doc.title == "Iraq talks"


@pytest.mark.parametrize(
    "content",
    [
        "---\ntitle: [unclosed\n---\nBody\n",  # invalid YAML
        "---\ntitle: x\nBody without closing line\n",  # never closed
        "---\n- a\n- list\n---\nBody\n",  # not a mapping
    ],
)
def test_malformed_front_matter_is_a_problem_naming_the_file(tmp_path, content):
    path = write(tmp_path / "bad.md", content)
    result = load_file(path)
    assert result.documents == []
    [problem] = result.problems
    assert problem.where == str(path)
    assert "front matter" in problem.reason


def test_front_matter_with_path_like_id_is_rejected(tmp_path):
    path = write(tmp_path / "evil.md", "---\nid: ../../etc/passwd\n---\nBody.\n")
    [problem] = load_file(path).problems
    assert "invalid doc id" in problem.reason


# ---------------------------------------------------------------------------- .html


def test_html_main_text_without_boilerplate_and_metadata(tmp_path):
    doc = only_document(load_file(write(tmp_path / "news" / "talks.html", ARTICLE_HTML)))
    assert "Washington has 2,500 soldiers in Iraq" in doc.text
    assert "Iraq said Sunday" in doc.text
    junk = ("cookies", "Home", "Related Articles", "Another story", "Back to top", "Copyright")
    for phrase in (*junk, "Advertisement"):
        assert phrase not in doc.text
    assert "\n\n" in doc.text  # paragraphs separated by a blank line
    assert doc.title == "Iraq, US resume talks on coalition withdrawal"
    assert doc.url == "https://www.example.com/world/iraq-talks/"
    assert doc.published == "2024-02-11"
    assert doc.source == "Example News"
    assert doc.doc_id == "talks"


def test_html_without_article_text_is_a_problem(tmp_path):
    path = write(tmp_path / "empty.htm", "<html><head><title>x</title></head><body></body></html>")
    result = load_file(path)
    assert result.documents == []
    assert result.problems == [
        LoadProblem(str(path), "no article text found in the HTML", "empty_document")
    ]


# ---------------------------------------------------------------------------- .jsonl


def test_jsonl_bad_lines_are_reported_with_line_numbers(tmp_path):
    path = write_jsonl(
        tmp_path / "news.jsonl",
        [
            {"id": "a1", "title": "First", "text": "First story."},
            "{not json",
            "",
            "[1, 2]",
            {"id": "a3", "title": "No text"},
            {"id": "a4", "title": "Fourth", "text": "Fourth story."},
        ],
    )
    result = load_file(path)
    assert [d.doc_id for d in result.documents] == ["a1", "a4"]
    assert [p.where for p in result.problems] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    reasons = [p.reason for p in result.problems]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "expected a JSON object, got an array"
    assert reasons[2].startswith("record has no text")
    assert result.documents[0].origin == str(path)


def test_jsonl_id_rules(tmp_path):
    url = "https://WWW.Example.com/world/iraq-talks/?utm=x#top"
    path = write_jsonl(
        tmp_path / "My News.jsonl",
        [
            {"id": 42, "title": "Has id", "text": "x"},
            {"title": "Iraq, US resume talks", "url": url, "text": "y"},
            {"title": "Neither id nor url", "text": "z"},
        ],
    )
    result = load_file(path)
    assert result.problems == []
    docs = result.documents
    digest = hashlib.sha1(b"https://www.example.com/world/iraq-talks").hexdigest()[:10]
    assert [d.doc_id for d in docs] == ["42", f"iraq-us-resume-talks-{digest}", "my-news-3"]
    assert docs[1].source == "example.com"


def test_jsonl_url_id_ignores_query_fragment_and_trailing_slash():
    def doc_id(url: str) -> str:
        return document_from_record({"title": "T", "text": "x", "url": url}, where="f:1").doc_id

    assert doc_id("https://example.com/a/?q=1") == doc_id("https://EXAMPLE.com/a#frag")


def test_jsonl_path_like_id_is_rejected(tmp_path):
    with pytest.raises(InvalidDocumentIdError):
        document_from_record({"id": "../../etc/passwd", "text": "x"}, where="f.jsonl:1")
    path = write_jsonl(tmp_path / "n.jsonl", [{"id": "../../etc/passwd", "text": "x"}])
    result = load_file(path)
    assert result.documents == []
    assert result.problems[0].where == f"{path}:1"
    assert "invalid doc id" in result.problems[0].reason


def test_jsonl_field_map_and_aliases():
    fields = FieldMap(id="guid", title="name", text="article")
    doc = document_from_record(
        {"guid": "g-1", "name": "Mapped", "article": "Body.", "publish_date": "Aug 19, 2022"},
        where="f.jsonl:1",
        field_map=fields,
    )
    assert (doc.doc_id, doc.title, doc.text) == ("g-1", "Mapped", "Body.")
    assert doc.published == "2022-08-19"
    aliased = document_from_record(
        {"headline": "Aliased", "body": "Body text.", "date": "2022/08/19"}, where="f.jsonl:2"
    )
    assert (aliased.title, aliased.text) == ("Aliased", "Body text.")
    assert aliased.published == "2022-08-19"


def test_record_without_title_uses_start_of_text():
    doc = document_from_record({"id": "x", "text": "Short first line\nMore."}, where="f:1")
    assert doc.title == "Short first line"


@pytest.mark.parametrize(
    "record",
    [
        {"text": "   \n\t\n"},
        {"text": ["a", "list"]},
        {"title": "t"},
        {"text": "x", "title": {"a": 1}},
    ],
)
def test_unusable_record_raises_format_error(record):
    with pytest.raises(DocumentFormatError):
        document_from_record(record, where="f.jsonl:1")


# ---------------------------------------------------------------------------- paths and ids


def test_directory_walk_ids_order_and_skips(tmp_path):
    root = tmp_path / "corpus"
    write(root / "world" / "iraq talks.md", "Talks.\n")
    write(root / "b.txt", "B.\n")
    write(root / "a.txt", "A.\n")
    write(root / ".hidden.txt", "hidden\n")
    write(root / ".git" / "x.txt", "hidden dir\n")
    pdf = write(root / "notes.pdf", "unsupported: reported, not indexed\n")
    result = load_paths([root])
    assert result.problems == [LoadProblem(str(pdf), f"unsupported file type '.pdf'; supported: "
                                           f"{', '.join(SUPPORTED_SUFFIXES)}", "unsupported_type")]
    assert [d.doc_id for d in result.documents] == ["a", "b", "world--iraq-talks"]


def test_loading_twice_gives_the_same_ids(tmp_path):
    write(tmp_path / "c" / "x" / "one.txt", "One.\n")
    feed = [{"title": "T", "url": "https://a.com/1", "text": "t"}]
    write_jsonl(tmp_path / "c" / "feed.jsonl", feed)
    first = [d.doc_id for d in load_paths([tmp_path / "c"]).documents]
    second = [d.doc_id for d in load_paths([tmp_path / "c"]).documents]
    assert first == second and len(first) == 2
    assert all(is_valid_doc_id(doc_id) for doc_id in first)


def test_duplicate_ids_keep_the_first(tmp_path):
    write(tmp_path / "d" / "story.md", "From markdown.\n")
    later = write(tmp_path / "d" / "story.txt", "From text.\n")
    result = load_paths([tmp_path / "d"])
    assert [d.text for d in result.documents] == ["From markdown."]
    [problem] = result.problems
    assert problem.where == str(later)
    assert "duplicate doc_id 'story'" in problem.reason


def test_file_named_again_inside_its_directory_is_loaded_once(tmp_path):
    path = write(tmp_path / "e" / "one.txt", "One.\n")
    result = load_paths([tmp_path / "e", path])
    assert len(result.documents) == 1 and result.problems == []


def test_deep_path_ids_stay_valid(tmp_path):
    deep = tmp_path / "r" / ("long-folder-name-" * 4) / ("another-long-name-" * 4) / "story.txt"
    doc = only_document(load_paths([write(deep, "x\n").parents[2]]))
    assert is_valid_doc_id(doc.doc_id)


def test_an_unsupported_file_named_is_skipped_and_a_missing_path_raises(tmp_path):
    pdf = write(tmp_path / "paper.pdf", "x")
    txt = write(tmp_path / "a.txt", "A.\n")
    result = load_paths([pdf, txt])  # one bad file never stops the others
    assert [d.doc_id for d in result.documents] == ["a"]
    [problem] = result.problems
    assert problem.kind == "unsupported_type" and problem.where == str(pdf)
    assert re.match(r"unsupported file type '\.pdf'.*\.jsonl", problem.reason)
    with pytest.raises(DocumentFormatError, match="unsupported"):
        load_file(pdf)
    with pytest.raises(DocumentFormatError, match="no such file"):
        load_paths([tmp_path / "missing"])
    assert ".md" in SUPPORTED_SUFFIXES


def test_empty_file_is_a_problem_in_bulk(tmp_path):
    path = write(tmp_path / "f" / "empty.txt", "\n  \n\t\n")
    result = load_paths([tmp_path / "f"])
    assert result.documents == []
    assert result.problems == [LoadProblem(str(path), "no text left after cleaning", "empty_document")]


# ---------------------------------------------------------------------------- clean_text


def test_clean_text_drops_trailing_related_articles_and_back_to_top():
    text = (
        "Iraq said Sunday it had resumed talks.\n\n"
        "Washington has 2,500 soldiers in Iraq.\n\n"
        "Share this article\n"
        "Related Articles\n"
        "Some other headline\n"
        "Yet another headline\n"
        "Back to top button\n"
    )
    assert clean_text(text) == (
        "Iraq said Sunday it had resumed talks.\n\nWashington has 2,500 soldiers in Iraq."
    )


def test_clean_text_drops_trailing_footer_block_and_lone_ads():
    text = (
        "First paragraph.\n\nAdvertisement\n\nSecond paragraph.\n\n"
        "Read more: Another story about Iraq\nSubscribe\n© 2024 Example News\n"
    )
    assert clean_text(text) == "First paragraph.\n\nSecond paragraph."


def test_clean_text_keeps_sentences_that_mention_boilerplate_words():
    text = (
        "Related articles in the report described the advertisement.\n"
        "Subscribers will pay more, the company said.\n"
        "Read more about it in the report, he said.\n"
        "Share prices fell."
    )
    assert clean_text(text) == text


def test_clean_text_preserves_unicode_tabs_and_single_blank_lines():
    text = "Café –\tЖурнал 日本 🙂\n\n\tIndented line\nnext"
    assert clean_text(text) == text


def test_clean_text_normalises_whitespace_and_controls():
    raw = "\ufeff\n\n  \r\nTitle  \r\nLine\x00 two\x07\rthree\n\n\n\n\nEnd\x0cPage \n\n"
    assert clean_text(raw) == "Title\nLine two\nthree\n\nEnd\nPage"


def test_clean_text_replaces_lone_surrogates_and_joins_pairs():
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("smile \ud83d\ude00") == "smile \U0001f600"


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\n", "\r", "\t", " "])))
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


# ---------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022/08/19", "2022-08-19"),
        ("2022-08-19T10:00:00Z", "2022-08-19"),
        ("Aug 19, 2022", "2022-08-19"),
        ("19 August 2022", "2022-08-19"),
        ("Fri, 19 Aug 2022 10:00:00 GMT", "2022-08-19"),
        (dt.datetime(2022, 8, 19, 10, 0), "2022-08-19"),
        (dt.date(2022, 8, 19), "2022-08-19"),
        ("", None),  # no value is no date, not a bad one
        ("  ", None),
    ],
)
def test_published_is_normalised(value, expected):
    doc = document_from_record({"id": "x", "text": "t", "published": value}, where="f:1")
    assert doc.published == expected


TOMORROW = dt.date.today() + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("next tuesday", "published 'next tuesday' is not a date (write it as YYYY-MM-DD)"),
        ("2022", "published '2022' is not a date (write it as YYYY-MM-DD)"),  # not invented
        ("Aug 2022", "published 'Aug 2022' is not a date (write it as YYYY-MM-DD)"),
        (2022, "published 2022 is not a date (write it as YYYY-MM-DD)"),
        ("2999-01-01", "published 2999-01-01 is more than a day in the future"),
        ("1850-03-01", "published 1850-03-01 is before 1900"),
    ],
)
def test_a_published_value_that_is_no_usable_date_is_refused_or_dropped(value, reason):
    record = {"id": "x", "text": "t", "published": value}
    with pytest.raises(BadDateError) as refused:
        document_from_record(record, where="f.jsonl:1")
    assert refused.value.message == f"f.jsonl:1: {reason}"
    bad_dates: list[str] = []
    doc = document_from_record(record, where="f.jsonl:1", bad_dates=bad_dates)
    assert doc.published is None and bad_dates == [reason]


def test_tomorrow_is_not_the_future_yet():  # somewhere it is already tomorrow
    doc = document_from_record({"id": "x", "text": "t", "published": TOMORROW.isoformat()},
                               where="f:1")
    assert doc.published == TOMORROW.isoformat()


def test_bad_dates_skip_the_file_unless_undated_ok(tmp_path):
    md = write(tmp_path / "c" / "talks.md", "---\npublished: next tuesday\n---\nTalks.\n")
    write_jsonl(tmp_path / "c" / "feed.jsonl", [{"id": "old", "text": "Old.", "published": "1850-03-01"},
                                                {"id": "new", "text": "New.", "published": "2022-01-05"}])
    strict = load_paths([tmp_path / "c"])
    assert [d.doc_id for d in strict.documents] == ["new"]
    assert [(p.where, p.kind) for p in strict.problems] == [
        (f"{tmp_path / 'c' / 'feed.jsonl'}:1", "bad_date"), (str(md), "bad_date")]
    lenient = load_paths([tmp_path / "c"], undated_ok=True)
    assert {d.doc_id: d.published for d in lenient.documents} == {
        "old": None, "new": "2022-01-05", "talks": None}
    assert lenient.problems == []
    assert [p.reason for p in lenient.undated] == [
        "published 1850-03-01 is before 1900",
        "published 'next tuesday' is not a date (write it as YYYY-MM-DD)"]


# ---------------------------------------------------------------------------- what is text


def test_binary_and_undecodable_files_are_skipped_never_indexed(tmp_path):
    folder = tmp_path / "mixed"
    write(folder / "good.txt", "Good\nThe bridge reopened.\n")
    (folder / "nul.txt").write_bytes(b"Looks like text\x00\x00\x01\x02 but is not")
    # Nearly any bytes decode as Windows-1252: these must still not count as text.
    noise = bytes(b for b in os.urandom(8000) if b)[:3000]
    (folder / "noise.md").write_bytes(noise)
    (folder / "image.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "blob.jsonl").write_bytes(b"\x00" * 100 + b"\n" * 50)
    result = load_paths([folder])
    assert [d.doc_id for d in result.documents] == ["good"]
    reasons = {Path(p.where).name: (p.kind, p.reason) for p in result.problems}
    assert reasons == {
        "blob.jsonl": ("not_text", "it holds NUL bytes (a binary file?)"),
        "image.html": ("not_text", "it holds NUL bytes (a binary file?)"),
        "noise.md": ("not_text", "its bytes are neither UTF-8 nor Windows-1252 text "
                                 "(if it is text, save it as UTF-8)"),
        "nul.txt": ("not_text", "it holds NUL bytes (a binary file?)"),
    }


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_read_in_its_encoding(tmp_path, codec):
    path = tmp_path / "bom.txt"
    path.write_bytes("Caf\u00e9 talks\nThe bridge reopened.\n".encode(codec))
    assert only_document(load_file(path)).text == "Caf\u00e9 talks\nThe bridge reopened."


def test_a_byte_order_mark_that_lies_is_not_text(tmp_path):
    path = tmp_path / "liar.txt"
    path.write_bytes(b"\xff\xfe" + b"\x00\xd8")  # UTF-16 LE mark, then a lone surrogate
    [problem] = load_file(path).problems
    assert (problem.kind, problem.reason) == (
        "not_text", "it starts with a UTF-16 byte-order mark but is not UTF-16")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://WWW.Example.COM/a/b/?x=1#f", "https://www.example.com/a/b"),
        ("http://example.com/", "http://example.com"),
        ("example.com/path", "https://example.com/path"),
        ("https://example.com:8443/p", "https://example.com:8443/p"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_a_malformed_url_in_a_record_is_kept_not_a_crash():
    # urlsplit raises on an unclosed IPv6 bracket; one bad row must not stop a bulk import.
    doc = document_from_record({"text": "Some text.", "url": "http://[::1/x"}, where="f:1")
    assert doc.url == "http://[::1/x" and doc.source is None


def test_pieces_read_elsewhere_merge_back_as_read_here(tmp_path):
    """``read`` (a Ray cluster in production) may read the pieces anywhere, in any order
    internally: what load_paths returns is the same documents and problems, in order."""
    from index.loaders import read_piece
    from tests.conftest import write_messy_corpus

    corpus = write_messy_corpus(tmp_path / "messy")
    calls = []

    def backwards(pieces, field_map, undated_ok):
        calls.append(len(pieces))
        return [read_piece(p, field_map, undated_ok) for p in reversed(pieces)][::-1]

    for undated_ok in (False, True):
        here = load_paths([corpus], undated_ok=undated_ok)
        elsewhere = load_paths([corpus], undated_ok=undated_ok, read=backwards)
        assert elsewhere == here
    assert calls and calls[0] == 13  # 6 files and 7 JSONL lines; unsupported files are no piece
    kinds = [(Path(p.where).name, p.kind) for p in here.problems]
    assert ("photo.png", "unsupported_type") in kinds and ("blob.txt", "not_text") in kinds
    assert ("feed.jsonl:5", "duplicate_id") in kinds and ("empty.md", "empty_document") in kinds
    late = "published 'next tuesday' is not a date (write it as YYYY-MM-DD)"
    assert [p.reason for p in here.undated] == [late, "published 1850-03-01 is before 1900"]
