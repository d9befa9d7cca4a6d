"""The HTML report: one self-contained file (charts embedded as PNG data URIs, no scripts or
styles fetched), rendered with Jinja2 and autoescaping, so quotes from articles are shown as
text, never interpreted as markup.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from eval import plots
from eval.suite import SuiteReport

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _split(quote: str | None, span: tuple[int, int] | list[int] | None) -> tuple[str, str, str]:
    """A quote cut around the answer: (before, answer, after); all before when there is none."""
    if not quote:
        return "", "", ""
    if not span or not 0 <= span[0] <= span[1] <= len(quote):
        return quote, "", ""
    a, b = span
    return quote[:a], quote[a:b], quote[b:]


def _http_url(url: str | None) -> str | None:
    """Only http(s) links: a corpus record's "javascript:" url must not become a live link."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def render_html(report: SuiteReport) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, num=_num, split_quote=_split, http_url=_http_url)
    charts = {
        "by_type": plots.by_type(report.runs),
        "latency": plots.latency(report.runs),
        "calibration": plots.calibration(report.runs),
        "hits": plots.hits_by_rank(report.runs),
        "comparison": plots.comparison(
            [r for r in report.runs if r.report.summary.n_with_gold_urls]),
        "rgb": plots.rgb(report.rgb),
    }
    return env.get_template("report.html.j2").render(r=report, charts=charts)


def write_html(report: SuiteReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
