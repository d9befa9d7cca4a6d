"""Text and metadata normalisation shared by the loaders: clean article text, dates and urls."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit, urlunsplit

from dateutil import parser as date_parser

# Web pages copied or scraped to text carry navigation and sharing widgets as lines of their own.
# They are not article content, and left in they end up in chunks and as cited "sources". Each
# list matches a *whole* line (stripped, case-insensitive), so a normal sentence that merely
# contains these words is never dropped.

# Widgets that show up between paragraphs: dropped wherever they stand alone on a line.
STANDALONE_BOILERPLATE: tuple[str, ...] = (
    r"advertisements?",
    r"back to top( button)?",
    r"scroll to continue with content",
    r"story continues below( advertisement)?",
)

# Headings that start the list of other stories after an article: they and everything after go.
CUT_MARKERS: tuple[str, ...] = (
    r"related (articles|stories|posts|content|news|coverage)",
    r"more (stories|articles) from .{1,60}",
    r"you (may|might) also like",
    r"recommended (for you|stories|articles)",
)

# Footer widgets: dropped only as a run of such lines at the very end of the article.
TRAILING_BOILERPLATE: tuple[str, ...] = (
    *STANDALONE_BOILERPLATE,
    r"share( this)?( article| story| post| page)?( on .{1,40})?",
    r"share (on|via) (facebook|twitter|x|whatsapp|linkedin|email|telegram|reddit)",
    r"read more",
    r"read more\s*[:»›>|–—-].{0,150}",  # "Read more: <another headline>"
    r"subscribe( now| today| here)?",
    r"subscribe (to|for) (our|the) (free )?((daily|weekly) )?(newsletters?|podcast|channel)\b"
    r".{0,100}",
    r"sign up (for|to) (our|the) (free )?((daily|weekly) )?newsletters?\b.{0,100}",
    r"click here to subscribe\b.{0,100}",
    r"follow us( on .{1,60})?",
    r"(©|\(c\)|copyright)\s*(©\s*)?\d{4}\b.{0,120}",
    r"all rights reserved",
    r"tags?:.{0,200}",
    r"[-–—_*=~#•·]{3,}",  # separator rules left over from the page layout
)

_PUNCT_TAIL = r"[\s.:!…»›>|]*"


def _whole_line(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Compile patterns so that each must match a whole stripped line."""
    return re.compile(rf"^(?:{'|'.join(patterns)}){_PUNCT_TAIL}$", re.IGNORECASE)


_STANDALONE_RE = _whole_line(STANDALONE_BOILERPLATE)
_CUT_RE = _whole_line(CUT_MARKERS)
_TRAILING_RE = _whole_line(TRAILING_BOILERPLATE)

# C0 and C1 controls except \t and \n (\r is turned into \n first), plus DEL.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
# Line and page breaks in other spellings; "\n" is the only one offsets and line logic assume.
_LINE_BREAK_RE = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_EXTRA_BLANKS_RE = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise whitespace and control characters and drop web boilerplate lines."""
    text = _fix_surrogates(text).lstrip("\ufeff")
    text = _LINE_BREAK_RE.sub("\n", text)
    text = _CONTROL_RE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    lines = _drop_boilerplate(lines)
    text = "\n".join(lines)
    text = _EXTRA_BLANKS_RE.sub("\n\n", text)
    return text.strip("\n")


def clean_line(text: str) -> str:
    """A single line of metadata (title, source): no controls, whitespace runs as one space."""
    return " ".join(_CONTROL_RE.sub("", _fix_surrogates(text)).split())


def _fix_surrogates(text: str) -> str:
    """Join valid surrogate pairs and replace lone surrogates with U+FFFD."""
    if not re.search("[\ud800-\udfff]", text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _drop_boilerplate(lines: list[str]) -> list[str]:
    """Cut at a related-stories heading, drop lone widget lines and a trailing widget block."""
    first_content = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    for i in range(first_content + 1, len(lines)):
        if _CUT_RE.match(lines[i].strip()):
            lines = lines[:i]
            break
    lines = [line for line in lines if not _STANDALONE_RE.match(line.strip())]
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _TRAILING_RE.match(lines[end - 1].strip())):
        end -= 1
    return lines[:end]


def normalize_date(value: object) -> str | None:
    """ISO ``YYYY-MM-DD`` for a date-like value, or None when it cannot be read unambiguously."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    text = value.strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat() if len(text) >= 10 else None
    except ValueError:
        pass
    # Parse with two different defaults: if they disagree, the input lacked a year, month or
    # day, and dateutil would otherwise fill it in from today.
    try:
        first = date_parser.parse(text, default=dt.datetime(2000, 1, 1))
        second = date_parser.parse(text, default=dt.datetime(2001, 2, 2))
    except (ValueError, OverflowError, TypeError):
        return None
    if first.date() != second.date():
        return None
    return first.date().isoformat()


EARLIEST_PUBLISHED = dt.date(1900, 1, 1)
FUTURE_SLACK = dt.timedelta(days=1)  # time zones: "today" somewhere is tomorrow here


def published_date(value: object, today: dt.date | None = None) -> str | None:
    """The ISO date of a ``published`` value, None when there is none; ``ValueError`` saying why
    a value is no usable date: unreadable, more than a day in the future, or before 1900."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    iso = normalize_date(value)
    if iso is None:
        shown = repr(value[:60]) if isinstance(value, str) else repr(value)
        raise ValueError(f"published {shown} is not a date (write it as YYYY-MM-DD)")
    date = dt.date.fromisoformat(iso)
    if date > (today or dt.date.today()) + FUTURE_SLACK:
        raise ValueError(f"published {iso} is more than a day in the future")
    if date < EARLIEST_PUBLISHED:
        raise ValueError(f"published {iso} is before 1900")
    return iso


def normalize_url(url: str) -> str:
    """Scheme, lower-case host and path of a url, without query, fragment or trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = "https://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[": keep it as written rather than fail the import
        return url
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a non-numeric port: keep the host alone
        port = None
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


def source_from_url(url: str) -> str | None:
    """Publisher host of a url ("https://www.cnn.com/x" -> "cnn.com"), or None."""
    try:
        host = urlsplit(normalize_url(url)).hostname or ""
    except ValueError:
        return None
    host = host.removeprefix("www.")
    return host or None
