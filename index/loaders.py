"""Read articles into Documents: .txt, .md/.markdown (YAML front matter), .html/.htm, .jsonl.

Bulk loading never stops at a bad file or record: it is skipped and reported as a LoadProblem
with its kind (unsupported type, not text, empty document, bad date, ...). Text must be UTF-8
(or UTF-16/32 with a byte-order mark), or read as Windows-1252 only when it is plausible text in
it: binary files and undecodable bytes are refused, never indexed as gibberish. A ``published``
value that is no date (or more than a day ahead, or before 1900) skips the file, unless the
caller allows it to be indexed undated (``undated_ok``). doc_ids are derived from stable inputs
(relative path, id field, url) so that re-indexing the same corpus replaces documents instead of
duplicating them.

Reading is split in two so that the costly half can run anywhere: ``load_paths`` walks the paths
and reads each file's bytes into ``Piece``s (a whole file, or one line of a JSONL file), and
``read_piece`` decodes, parses and cleans one piece into a document or a problem. Locally they
run in turn; ``sourced index --ray`` hands the pieces to Ray (index/distributed.py) and merges
what comes back here, in the same order, so both give the same documents and problems.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import charset_normalizer
import yaml

from index.cleaning import (
    clean_line,
    clean_text,
    normalize_date,
    normalize_url,
    published_date,
    source_from_url,
)
from index.errors import (
    BadDateError,
    BadMetadataError,
    DocumentFormatError,
    EmptyDocumentError,
    InvalidDocumentIdError,
    NotTextError,
    SourcedError,
    UnsupportedFileTypeError,
)
from index.records import Document, is_valid_doc_id, slugify

__all__ = [
    "SUPPORTED_SUFFIXES",
    "FieldMap",
    "LoadProblem",
    "LoadResult",
    "Loaded",
    "Piece",
    "clean_text",
    "document_from_record",
    "load_file",
    "load_paths",
    "normalize_date",
    "normalize_url",
    "read_piece",
]

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
MAX_TITLE_LINE = 200  # a longer first line is a paragraph, not a title
MAX_DOC_ID = 128  # records.DOC_ID_PATTERN's limit


@dataclass(frozen=True)
class FieldMap:
    """Which JSON keys hold which Document field, for JSONL input."""

    id: str = "id"
    title: str = "title"
    text: str = "text"
    url: str = "url"
    published: str = "published"
    source: str = "source"


# Keys tried, in order, when the mapped key is missing: names common in scraped news dumps.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "published": ("publish_date", "date", "published_at"),
    "text": ("body", "content"),
    "title": ("headline",),
    "url": ("link",),
}


@dataclass(frozen=True)
class LoadProblem:
    """A file or record that was skipped, and why (shown to the user, not raised)."""

    where: str  # "path/file.jsonl:17" or "path/file.html"
    reason: str
    kind: str  # the error's code: "unsupported_type", "not_text", "empty_document", "bad_date", ...

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    undated: list[LoadProblem] = field(default_factory=list)  # loaded, without their bad date


@dataclass(frozen=True)
class Piece:
    """One unit of reading, its bytes already read: a whole file, or one line of a JSONL file.

    Everything ``read_piece`` needs is here, so it runs on a machine without the file."""

    where: str  # "path/file.md", or "path/file.jsonl:17" for a JSONL line
    origin: str  # the file it came from
    suffix: str  # the file's, lowercased
    raw: bytes
    file_id: str | None = None  # doc_id from the path (not for JSONL lines)
    stem: str = ""  # the file's stem, for a title of last resort
    first_line: bool = False  # a JSONL line that may start with a byte-order mark


@dataclass(frozen=True)
class Loaded:
    """A document read from a piece, with the bad dates it was let through with."""

    document: Document
    where: str
    bad_dates: tuple[str, ...] = ()


Read = Loaded | LoadProblem
# Pieces to what they read, in order: read_piece one by one here, or a Ray Data job.
ReadPieces = Callable[[list[Piece], FieldMap, bool], Iterable[Read]]


def _problem(where: str, reason: str | SourcedError, kind: str | None = None) -> LoadProblem:
    if isinstance(reason, SourcedError):
        kind = kind or reason.code
        reason = reason.message.removeprefix(f"{where}: ")
    return LoadProblem(where, reason, kind or DocumentFormatError.code)


class _Collector:
    """Accumulates a LoadResult, keeping the first of documents that share a doc_id."""

    def __init__(self, undated_ok: bool = False) -> None:
        self.result = LoadResult()
        self.undated_ok = undated_ok
        self._first_where: dict[str, str] = {}

    def take(self, item: Read) -> None:
        if isinstance(item, LoadProblem):
            self.result.problems.append(item)
            return
        document, where = item.document, item.where
        first = self._first_where.get(document.doc_id)
        if first is not None:
            self.take(_problem(where, f"duplicate doc_id {document.doc_id!r}, first read from "
                                      f"{first}", "duplicate_id"))
            return
        self._first_where[document.doc_id] = where
        self.result.documents.append(document)
        for reason in item.bad_dates:
            self.result.undated.append(LoadProblem(where, reason, BadDateError.code))


# ---------------------------------------------------------------------------- paths and files


def load_paths(
    paths: Sequence[Path], field_map: FieldMap = FieldMap(), *, undated_ok: bool = False,
    read: ReadPieces | None = None,
) -> LoadResult:
    """Load files and directory trees (recursively, sorted, hidden entries left out; files of
    other types reported as skipped). Only a path that does not exist raises. ``undated_ok``
    loads a document whose ``published`` is no usable date without a date (listed in
    ``undated``) instead of skipping it. ``read`` reads the pieces elsewhere (a Ray cluster);
    by default they are read here, one at a time, as they are found."""
    paths = [Path(path) for path in paths]
    for path in paths:
        if not path.exists():
            raise DocumentFormatError(f"{path}: no such file or directory")
    if read is None:
        return _read_here(_found(paths), field_map, undated_ok)
    collector = _Collector(undated_ok)
    found = list(_found(paths))
    results = iter(read([p for p in found if isinstance(p, Piece)], field_map, undated_ok))
    for item in found:  # the walk's problems stay where they were found among the pieces
        collector.take(item if isinstance(item, LoadProblem) else next(results))
    return collector.result


def load_file(
    path: Path, root: Path | None = None, field_map: FieldMap = FieldMap(), *,
    undated_ok: bool = False,
) -> LoadResult:
    """Load one file; doc_ids of non-JSONL files come from its path relative to ``root``."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, use load_paths" if path.is_dir() else "no such file"
        raise DocumentFormatError(f"{path}: {what}")
    _check_suffix(path)
    return _read_here(_pieces(path, path.parent if root is None else Path(root)), field_map,
                      undated_ok)


def _read_here(found: Iterable[Piece | LoadProblem], field_map: FieldMap,
               undated_ok: bool) -> LoadResult:
    """Each piece read in this process as it is found, the problems kept in their place."""
    collector = _Collector(undated_ok)
    for item in found:
        collector.take(item if isinstance(item, LoadProblem)
                       else read_piece(item, field_map, undated_ok))
    return collector.result


def _found(paths: Sequence[Path]) -> Iterator[Piece | LoadProblem]:
    """The pieces of every supported file under ``paths``, each file once, and the problems
    met on the way, in the order they are found."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files: Iterator[Path | LoadProblem] = _walk(path, set())
            root = path
        else:
            files, root = _supported([path]), path.parent
        for file in files:
            if isinstance(file, LoadProblem):
                yield file
                continue
            key = file.resolve()
            if key not in seen:  # the same file named twice, e.g. as itself and in its folder
                seen.add(key)
                yield from _pieces(file, root)


def _check_suffix(path: Path) -> None:
    """Reject a file the loaders cannot read, saying what they can."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise UnsupportedFileTypeError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"
        )


def _walk(directory: Path, visited: set[Path]) -> Iterator[Path | LoadProblem]:
    """Supported, non-hidden files under a directory, depth first in name order; other files
    are reported as skipped (hidden ones, ".git" and the like, are left out without a word)."""
    real = directory.resolve()
    if real in visited:  # a symlink loop
        return
    visited.add(real)
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        yield _problem(str(directory), f"cannot list directory: {exc.strerror or exc}",
                       "unreadable")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, visited)
        elif entry.is_file():
            yield from _supported([entry])


def _supported(files: Iterable[Path]) -> Iterator[Path | LoadProblem]:
    """The files the loaders can read; the others are reported as skipped."""
    for file in files:
        try:
            _check_suffix(file)
        except UnsupportedFileTypeError as exc:
            yield _problem(str(file), exc)
        else:
            yield file


def _pieces(path: Path, root: Path) -> Iterator[Piece | LoadProblem]:
    """A supported file's bytes as pieces (one per JSONL line), or why it cannot be read."""
    where = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            yield from _jsonl_pieces(path)
            return
        raw = path.read_bytes()
        yield Piece(where, where, suffix, raw, file_id=_file_doc_id(path, root), stem=path.stem)
    except OSError as exc:
        yield _problem(where, f"cannot read file: {exc.strerror or exc}", "unreadable")


def _jsonl_pieces(path: Path) -> Iterator[Piece | LoadProblem]:
    with path.open("rb") as lines:
        try:  # one problem for a binary file, not one per "line" of it
            _refuse_binary(lines.read(8192), str(path))
        except NotTextError as exc:
            yield _problem(str(path), exc)
            return
        lines.seek(0)
        for lineno, raw in enumerate(lines, start=1):
            if raw.strip():
                yield Piece(f"{path}:{lineno}", str(path), ".jsonl", raw, first_line=lineno == 1)


def read_piece(piece: Piece, field_map: FieldMap = FieldMap(), undated_ok: bool = False) -> Read:
    """Decode, parse and clean one piece: the document it holds, or why it cannot be indexed."""
    where = piece.where
    bad_dates: list[str] | None = [] if undated_ok else None
    try:
        if piece.suffix == ".jsonl":
            document = _read_record(piece, field_map, bad_dates)
        elif piece.suffix in (".md", ".markdown"):
            document = _read_markdown(piece, bad_dates)
        elif piece.suffix in (".html", ".htm"):
            document = _read_html(piece, bad_dates)
        else:
            document = _read_text(piece)
    except (DocumentFormatError, InvalidDocumentIdError) as exc:
        return _problem(where, exc)
    return Loaded(document, where, tuple(bad_dates or ()))


def _file_doc_id(path: Path, root: Path) -> str:
    """Slug of the path relative to root, without suffix, with "/" as "--"."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            rel = Path(path.name)
    doc_id = "--".join(slugify(part) for part in rel.with_suffix("").parts)
    if len(doc_id) > MAX_DOC_ID:  # deep trees: keep it unique with a hash of the full path
        digest = hashlib.sha1(rel.as_posix().encode()).hexdigest()[:10]
        doc_id = doc_id[: MAX_DOC_ID - 11].rstrip("-") + "-" + digest
    return doc_id


# Byte-order marks declare the encoding; UTF-32's must be tried before UTF-16's (it starts alike).
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
         (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))


def _declared(raw: bytes, where: str) -> str | None:
    """The text of bytes that start with a byte-order mark; None without one."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise NotTextError(
                    f"{where}: it starts with a {name} byte-order mark but is not {name}"
                ) from None
    return None


def _refuse_binary(raw: bytes, where: str) -> None:
    """Text files hold no NUL bytes (UTF-16/32 ones do, and say so with a byte-order mark)."""
    if b"\x00" in raw and not raw.startswith(tuple(bom for bom, _, _ in _BOMS)):
        raise NotTextError(f"{where}: it holds NUL bytes (a binary file?)")


def _decode(raw: bytes, where: str) -> str:
    """Text in its declared encoding, else UTF-8, else Windows-1252 (the usual encoding of older
    news dumps) when charset-normalizer finds the bytes read as plausible text in it: nearly
    any bytes decode as Windows-1252, so decoding alone would let binary files through."""
    declared = _declared(raw, where)
    if declared is not None:
        return declared
    _refuse_binary(raw, where)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = charset_normalizer.from_bytes(raw, cp_isolation=["cp1252"]).best()
    if match is None:
        raise NotTextError(
            f"{where}: its bytes are neither UTF-8 nor Windows-1252 text "
            "(if it is text, save it as UTF-8)"
        )
    return str(match)


def _humanize(stem: str) -> str:
    """A title from a file stem ("iraq_us-talks" -> "Iraq us talks")."""
    words = re.sub(r"[-_\s]+", " ", stem).strip() or stem
    return words[:1].upper() + words[1:]


def _first_line_title(text: str) -> str | None:
    """The first non-empty line when it is short enough to be a title."""
    line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return line if 0 < len(line) <= MAX_TITLE_LINE else None


# ---------------------------------------------------------------------------- formats


def _read_text(piece: Piece) -> Document:
    """A plain-text article; its first short line is the title and stays in the text."""
    return _build(
        _decode(piece.raw, piece.where),
        where=piece.where,
        meta={},
        default_id=lambda _title, _url: piece.file_id,
        default_title=lambda text: _first_line_title(text) or _humanize(piece.stem),
        origin=piece.origin,
    )


_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
_H1_RE = re.compile(r"^\s{0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")


def _read_markdown(piece: Piece, bad_dates: list[str] | None) -> Document:
    """A Markdown article with optional YAML front matter (title, url, published, source, id)."""
    where = piece.where
    front_matter, body = _split_front_matter(_decode(piece.raw, where), where)
    meta = _fields(front_matter, FieldMap())
    meta.pop("text", None)  # the body is the text, whatever the front matter says
    return _build(
        body,
        where=where,
        meta=meta,
        default_id=lambda _title, _url: piece.file_id,
        default_title=lambda text: _markdown_heading(text) or _humanize(piece.stem),
        origin=piece.origin,
        bad_dates=bad_dates,
    )


def _split_front_matter(content: str, where: str) -> tuple[dict[str, Any], str]:
    """Front matter mapping and body; no front matter gives an empty mapping."""
    lines = content.lstrip("\ufeff").split("\n")
    if lines[0].rstrip() != "---":
        return {}, content
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise DocumentFormatError(
            f"{where}: front matter opened with '---' on line 1 is never closed by a '---' line"
        )
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise DocumentFormatError(f"{where}: malformed YAML front matter{at}: {problem}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentFormatError(
            f"{where}: front matter must be a mapping of keys to values, got {type(meta).__name__}"
        )
    return meta, "\n".join(lines[end + 1 :])


def _markdown_heading(text: str) -> str | None:
    """Text of the first level-1 ATX heading outside code fences."""
    in_fence = False
    for line in text.split("\n"):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _H1_RE.match(line)):
            return match.group(1)
    return None


def _read_html(piece: Piece, bad_dates: list[str] | None) -> Document:
    """Main text of a web page (trafilatura) plus its title, url, date and site name."""
    raw, where = piece.raw, piece.where
    _refuse_binary(raw, where)  # the encoding is trafilatura's to read: it honours <meta charset>
    trafilatura = _import_trafilatura()
    # trafilatura is a heuristic parser fed arbitrary pages: whatever it raises means "unreadable".
    try:
        html = trafilatura.utils.decode_file(raw)  # honours the page's declared charset
        text = trafilatura.extract(
            html,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            output_format="txt",
        )
        metadata = trafilatura.extract_metadata(html)
    except Exception as exc:  # noqa: BLE001
        raise DocumentFormatError(f"{where}: HTML could not be parsed: {exc}") from exc
    if not text or not text.strip():
        raise EmptyDocumentError(f"{where}: no article text found in the HTML")
    meta = {
        "title": metadata.title,
        "url": metadata.url,
        "published": metadata.date,
        "source": metadata.sitename,
    }
    # trafilatura separates paragraphs with one newline; a blank line matches the other formats.
    return _build(
        text.replace("\n", "\n\n"),
        where=where,
        meta={key: value for key, value in meta.items() if value},
        default_id=lambda _title, _url: piece.file_id,
        default_title=lambda text: _first_line_title(text) or _humanize(piece.stem),
        origin=piece.origin,
        bad_dates=bad_dates,
    )


def _import_trafilatura() -> ModuleType:
    """trafilatura, imported on first use so the other formats work without it."""
    try:
        import trafilatura
        import trafilatura.utils
    except ImportError as exc:
        raise SourcedError(
            f"reading HTML needs trafilatura, which failed to import: {exc} "
            "(its dependency justext needs the lxml_html_clean package)"
        ) from exc
    return trafilatura


def _read_record(piece: Piece, field_map: FieldMap, bad_dates: list[str] | None) -> Document:
    """One JSONL line's article."""
    where = piece.where
    try:
        record = json.loads(piece.raw.decode("utf-8-sig" if piece.first_line else "utf-8"))
    except UnicodeDecodeError:
        raise NotTextError(f"{where}: line is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise DocumentFormatError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise DocumentFormatError(f"{where}: invalid JSON: nested too deeply") from None
    if not isinstance(record, dict):
        raise DocumentFormatError(f"{where}: expected a JSON object, got {_json_type(record)}")
    return document_from_record(record, where=where, field_map=field_map, origin=piece.origin,
                                bad_dates=bad_dates)


def _json_type(value: object) -> str:
    """JSON's name for a decoded value's type."""
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


# ---------------------------------------------------------------------------- records

_WHERE_LINE_RE = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")


def document_from_record(
    record: dict,
    *,
    where: str,
    field_map: FieldMap = FieldMap(),
    origin: str | None = None,
    bad_dates: list[str] | None = None,
) -> Document:
    """Build a Document from a JSON-like mapping; raises DocumentFormatError when unusable.

    ``where`` ("news.jsonl:17") names the record in messages. A record with neither id nor url
    gets the doc_id ``<file-stem>-<line>`` from it, so give each record a distinct ``where``.
    A ``published`` value that is no usable date raises ``BadDateError``, unless ``bad_dates``
    is a list: then the reason is appended to it and the document has no date.
    """
    if not isinstance(record, Mapping):
        raise DocumentFormatError(f"{where}: expected a JSON object, got {_json_type(record)}")
    meta = _fields(record, field_map)
    text = meta.pop("text", None)
    if text is None:
        keys = ", ".join(repr(k) for k in (field_map.text, *FIELD_ALIASES["text"]))
        raise DocumentFormatError(f"{where}: record has no text (looked for {keys})")
    if not isinstance(text, str):
        raise DocumentFormatError(f"{where}: text must be a string, got {_json_type(text)}")

    def default_id(title: str, url: str | None) -> str:
        if url:
            digest = hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()[:10]
            return f"{slugify(title)[:40].strip('-') or 'doc'}-{digest}"
        if match := _WHERE_LINE_RE.match(where):
            return f"{slugify(Path(match['file']).stem)}-{match['line']}"
        return slugify(where)

    return _build(
        text,
        where=where,
        meta=meta,
        default_id=default_id,
        default_title=lambda text: _first_line_title(text) or _shorten(text),
        origin=origin,
        bad_dates=bad_dates,
    )


def _fields(record: Mapping[str, Any], field_map: FieldMap) -> dict[str, Any]:
    """Document fields present in a record, found through the field map and its aliases."""
    return {
        name: value
        for name in ("id", "title", "text", "url", "published", "source")
        if (value := _pick(record, name, getattr(field_map, name))) is not None
    }


def _pick(record: Mapping[str, Any], name: str, key: str) -> Any:
    """The record's value for a field: its mapped key, else the first alias present."""
    for candidate in (key, *FIELD_ALIASES.get(name, ())):
        if record.get(candidate) is not None:
            return record[candidate]
    return None


def _shorten(text: str, limit: int = 100) -> str:
    """The start of a text, cut at a word boundary, as a stand-in title."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# ---------------------------------------------------------------------------- assembly


def _build(
    text: str,
    *,
    where: str,
    meta: Mapping[str, Any],
    default_id: Callable[[str, str | None], str],
    default_title: Callable[[str], str],
    origin: str | None,
    bad_dates: list[str] | None = None,
) -> Document:
    """Clean and validate text and metadata (id, title, url, published, source) into a Document."""
    text = clean_text(text)
    if not text.strip():
        raise EmptyDocumentError(f"{where}: no text left after cleaning")
    title = _one_line(_as_str(meta.get("title"), "title", where)) or default_title(text)
    url = (_as_str(meta.get("url"), "url", where) or "").strip() or None
    source = _one_line(_as_str(meta.get("source"), "source", where))
    raw_id = meta.get("id")
    if raw_id is None:
        doc_id = default_id(title, url)
    else:
        doc_id = (_as_str(raw_id, "id", where) or "").strip()
        if not is_valid_doc_id(doc_id):
            raise InvalidDocumentIdError(
                f"{where}: invalid doc id {doc_id!r}: use up to 128 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit, without '..'"
            )
    return Document(
        doc_id=doc_id,
        text=text,
        title=title,
        url=url,
        published=_published(meta.get("published"), where, bad_dates),
        source=source or (source_from_url(url) if url else None),
        origin=origin,
    )


def _published(value: Any, where: str, bad_dates: list[str] | None) -> str | None:
    """The ISO date; a bad one raises ``BadDateError``, or is noted in ``bad_dates`` and dropped."""
    try:
        return published_date(value)
    except ValueError as exc:
        if bad_dates is None:
            raise BadDateError(f"{where}: {exc}") from None
        bad_dates.append(str(exc))
        return None


def _as_str(value: Any, name: str, where: str) -> str | None:
    """A scalar metadata value as a string; lists, mappings and the like are errors."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadMetadataError(f"{where}: {name} must be a string, got {type(value).__name__}")


def _one_line(value: str | None) -> str | None:
    """Whitespace-collapsed, control-free single line, or None when empty."""
    return None if value is None else clean_line(value) or None
