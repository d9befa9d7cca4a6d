"""The report: JSON and a self-contained HTML page with the per-question rows, quotes escaped;
and the `sourced eval` command that writes them (fake embedder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from eval.report import write_html
from eval.rgb import RgbReport, RgbRow, summarize
from eval.run import EvalQuestion, run_eval
from eval.suite import NamedRun, new_report, write_json
from service.cli import app
from service.schemas import Answer, Citation
from tests.conftest import CORPUS

HOSTILE = 'Officials said <script>alert("x")</script> 2,500 troops & "more" would stay.'


def _suite():
    doc = {"d1": HOSTILE}
    start = HOSTILE.index("2,500")
    questions = [
        EvalQuestion(id="q-hostile", question="How many troops <b>stay</b>?", answers=["2,500"],
                     answerable=True, answer_type="number", gold_urls=["https://a.example/x"]),
        EvalQuestion(id="q-missed", question="Who leads the coalition?", answers=["Someone"],
                     answerable=True, answer_type="person"),
    ]

    def ask(q: EvalQuestion) -> Answer:
        if q.id == "q-missed":
            return Answer(question=q.question, answer=None, answer_type="person",
                          confidence=0.1, reason="No person answer found.")
        cite = Citation(doc_id="d1", title="Troops <i>report</i>", url="javascript:alert(1)",
                        published="2099-01-05", quote=HOSTILE, char_start=0,
                        char_end=len(HOSTILE), answer_start=start, answer_end=start + 5)
        return Answer(question=q.question, answer="2,500", answer_type="number",
                      confidence=0.87, citations=[cite])

    report = run_eval(questions, ask, doc.get, progress=False)
    suite = new_report("sourced eval --test")
    suite.runs = [NamedRun(name="toy", title="Toy run", description="two questions",
                           report=report)]
    row = RgbRow(id="3", condition="mixed", question="Who won?", answers=["Kerber"],
                 fake_answer="Barty", n_passages=4, predicted="Barty", says="false",
                 cited_kind="false", confidence=0.8, conflict=True, alternatives=["Kerber"],
                 both_shown=True, quote="Barty won.", quote_answer=(0, 5), latency_ms=3.0)
    suite.rgb = RgbReport(summaries=[summarize([row], "mixed")], rows=[row])
    return suite


def test_html_report_shows_every_row_with_the_answer_highlighted_and_escaped(tmp_path: Path):
    path = write_html(_suite(), tmp_path / "out" / "report.html")
    html = path.read_text(encoding="utf-8")
    assert "q-hostile" in html and "q-missed" in html
    assert "No person answer found." in html  # an abstention shows why
    # Article text and questions are data, never markup.
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<b>stay</b>" not in html and "&lt;b&gt;stay&lt;/b&gt;" in html
    assert "<mark>2,500</mark>" in html
    assert 'href="javascript:' not in html  # only http(s) sources become links
    assert "published 2099-01-05" in html
    # Self-contained: charts are embedded, nothing is fetched.
    assert "data:image/png;base64," in html
    assert 'src="http' not in html and "<link" not in html
    assert "RGB en_fact" in html and "Kerber" in html
    # One answer, right, at confidence 0.87: the reliability chart and its gap are shown.
    assert 'alt="reliability of the stated confidence"' in html and "ECE 0.13" in html


def test_json_report_round_trips(tmp_path: Path):
    path = write_json(_suite(), tmp_path / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    run = data["runs"][0]
    assert [r["id"] for r in run["report"]["rows"]] == ["q-hostile", "q-missed"]
    assert run["report"]["rows"][0]["quote_answer"] == [HOSTILE.index("2,500"),
                                                        HOSTILE.index("2,500") + 5]
    assert data["rgb"]["summaries"][0]["n_conflict"] == 1
    assert data["baselines"][0]["em"] == 33.3


def test_sourced_eval_writes_the_json_and_html_report(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SOURCED_EMBEDDER", "hash")
    monkeypatch.setenv("SOURCED_READER", "fake")
    monkeypatch.setenv("SOURCED_CORPUS_DIR", str(CORPUS))
    monkeypatch.chdir(tmp_path)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({
        "id": "t1", "question": "How many US troops are in Iraq?", "answers": ["2,500"],
        "answerable": True, "answer_type": "number"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(questions), "--index-dir", str(tmp_path / "idx"),
                                      "--out", str(tmp_path / "out"),
                                      "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "answer accuracy   1.000 (1/1)" in result.output
    for name in ("eval_report.json", "eval_rows.jsonl", "report.json"):
        assert (tmp_path / "out" / name).is_file()
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "How many US troops are in Iraq?" in html and "<mark>2,500</mark>" in html


def test_sourced_eval_rejects_an_unknown_dataset(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["eval", "--dataset", "squad"])
    assert result.exit_code == 2 and "unknown dataset 'squad'" in result.output


def test_sourced_eval_without_the_eval_extra_says_how_to_install_it(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import eval as eval_package

    for name in ("report", "plots"):  # as if never imported, with matplotlib never installed
        monkeypatch.delitem(sys.modules, f"eval.{name}", raising=False)
        monkeypatch.delattr(eval_package, name, raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(app, ["eval", "--dataset", "rgb", "--rgb-data", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "error: The HTML report needs matplotlib, which the eval extra installs: "
        "pip install -e '.[eval]' (in the sourced checkout)."
    )  # at once: before any data is read or model loaded, and without a traceback
