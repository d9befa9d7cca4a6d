"""``sourced eval``: the measurement side registers its command into the ``sourced`` CLI (entry
point ``sourced.commands``, in pyproject.toml), so that service/ never imports eval/.

Imports little at the top: this module is loaded on every ``sourced`` start.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from index.errors import SourcedError
from service.cli_base import IndexDir, edge, load_settings


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)


def _report_writer() -> Callable[..., Path]:
    """``eval.report.write_html``; its libraries (jinja2, matplotlib) come with the eval extra."""
    try:
        from eval.report import write_html
    except ImportError as exc:
        raise SourcedError(
            f"The HTML report needs {exc.name or 'jinja2 and matplotlib'}, which the eval extra "
            "installs: pip install -e '.[eval]' (in the sourced checkout)."
        ) from None
    return write_html


@edge
def evaluate(
    questions: Annotated[Path | None, typer.Argument(help=(
        "JSONL: id, question, answers, answerable, answer_type, evidence (default "
        "eval/seed_dev.jsonl when no --dataset is given)."
    ))] = None,
    datasets: Annotated[list[str] | None, typer.Option("--dataset", metavar="NAME", help=(
        "realtimeqa (dev questions over the news corpus, with and without a date window) or rgb "
        "(RGB en_fact, true vs edited-false passages). Repeat for both."
    ))] = None,
    data: Annotated[Path | None, typer.Option(help="RealTime QA folder (default ../shared/datasets/realtimeqa).")] = None,
    rgb_data: Annotated[Path | None, typer.Option(help="RGB en_fact folder (default ../shared/datasets/rgb_en_fact).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the JSON files.")] = Path("eval/out"),
    report: Annotated[Path | None, typer.Option(help="The HTML report (default OUT/report.html).")] = None,
    window_days: Annotated[int, typer.Option(min=1, max=366, help="RealTime QA date window: days up to and including the question date.")] = 7,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions of each dataset.")] = None,
    index_dir: IndexDir = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50)] = None,
    allow_partial: Annotated[bool, typer.Option(help=(
        "Measure an index an interrupted `sourced index` left incomplete (refused by default: "
        "its figures would not describe the corpus)."))] = False,
) -> None:
    """Measure answer accuracy, EM/F1, citations, abstention, retrieval, conflicts and latency.

    Writes OUT/report.json and a self-contained HTML report (OUT/report.html). With --dataset
    realtimeqa the index defaults to ./.sourced.realtimeqa, built from the corpus if missing.

      sourced eval eval/seed_dev.jsonl

      sourced eval --dataset realtimeqa --dataset rgb --report eval/out/report.html
    """
    write_html = _report_writer()  # before hours of questions, not after
    from eval.run import load_questions, write_report
    from eval.suite import Datasets, run_suite, write_json

    logging.basicConfig(level=logging.WARNING)
    names = list(dict.fromkeys(datasets or []))
    for name in names:
        if name not in ("realtimeqa", "rgb"):
            raise typer.BadParameter(f"unknown dataset {name!r}: use realtimeqa or rgb", param_hint="--dataset")
    if questions is None and not names:
        questions = Path("eval/seed_dev.jsonl")
    chosen = Datasets(window_days=window_days, realtimeqa_dir=data)
    if questions is not None:
        if not questions.is_file():
            raise SourcedError(f"No question file at {questions}.")
        try:
            chosen.file = (questions.stem, load_questions(questions)[:limit])
        except ValueError as exc:
            raise SourcedError(str(exc)) from exc
    if "realtimeqa" in names:  # the data is read before any model loads: a bad path fails fast
        from eval.realtimeqa import load_questions as load_realtimeqa

        chosen.realtimeqa = load_realtimeqa(data, limit)
        index_dir = index_dir or Path(".sourced.realtimeqa")  # not the seed corpus's index
    if "rgb" in names:
        from eval.rgb import load_questions as load_rgb

        chosen.rgb = load_rgb(rgb_data, limit)
    settings = load_settings(index_dir)
    _refuse_partial(settings.index_dir, allow_partial)
    suite = run_suite(settings, chosen, "sourced " + " ".join(sys.argv[1:]), top_k,
                      echo=typer.echo)
    if chosen.file is not None:  # the per-file outputs, as before the suite existed
        paths = write_report(suite.runs[0].report, out)
        typer.echo(f"wrote {paths[0]} and {paths[1]}")
    typer.echo(f"wrote {write_json(suite, out / 'report.json')} and "
               f"{write_html(suite, report or out / 'report.html')}")


def _refuse_partial(index_dir: Path, allow: bool) -> None:
    from index.store import IndexStore

    if allow or not IndexStore.exists(index_dir):
        return
    store = IndexStore.open(index_dir)
    try:
        notice = store.build.notice(index_dir)
    finally:
        store.close()
    if notice:
        raise SourcedError(f"{notice}. Figures over a partial index mislead; pass "
                           "--allow-partial to measure it anyway.")
