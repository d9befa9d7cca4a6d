"""The ``sourced`` command: a thin layer over the engine. Errors become exit codes at its edge
(``cli_base.edge``), once. Commands of the packages above service/ register themselves through
the ``sourced.commands`` entry points (``sourced eval``: ``eval/cli.py``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from index.errors import SourcedError
from service.cli_base import IndexDir, edge, load_settings
from service.config import Settings, available_cores
from service.questions import check_question

if TYPE_CHECKING:
    from index.loaders import LoadResult

app = typer.Typer(
    help="sourced: answers questions over news articles, with the exact sentence they came from.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Filters shared by `ask` and `search` (service/filters.py). Dates are checked by click, so a
# typo is a usage error (exit 2) before any model loads.
FromDate = Annotated[
    dt.datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], metavar="DATE", help=(
        "Only articles published on or after DATE (YYYY-MM-DD). Undated articles are left out."
    )),
]
ToDate = Annotated[
    dt.datetime | None,
    typer.Option("--to", formats=["%Y-%m-%d"], metavar="DATE", help=(
        "Only articles published on or before DATE (YYYY-MM-DD, inclusive). Undated articles "
        "are left out."
    )),
]
Sources = Annotated[
    list[str] | None,
    typer.Option("--source", metavar="SRC", help=(
        "Only articles from SRC, e.g. cnn.com (a url or www. host works too; subdomains "
        "match). Repeat for several."
    )),
]
def _filters(start: dt.datetime | None, end: dt.datetime | None, sources: list[str] | None):
    from service.filters import Filters

    return Filters(start, end, tuple(sources or ()))  # type: ignore[arg-type]


def _engine(settings: Settings):  # imported lazily: loading torch costs seconds, --help should not
    from service.engine import Engine

    return Engine(settings)


@app.command()
@edge
def index(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders of .txt .md .html .jsonl (default corpus/).")] = None,
    index_dir: IndexDir = None,
    rebuild: Annotated[bool, typer.Option(help="Build a fresh index and swap it in when complete.")] = False,
    prune: Annotated[bool, typer.Option(help="Remove indexed documents not found in PATHS.")] = False,
    model: Annotated[str | None, typer.Option(help="Embedding model name or path (default all-MiniLM-L6-v2).")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Chunk budget in tiktoken tokens (default 192).")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Overlap between chunks in tokens (default 48).")] = None,
    strict: Annotated[bool, typer.Option(help=(
        "Any skipped file is an error (exit 1): all files are checked first, and nothing is "
        "indexed unless every one can be."
    ))] = False,
    undated_ok: Annotated[bool | None, typer.Option("--undated-ok", help=(
        "Index a file whose published date is unreadable ('next tuesday'), more than a day "
        "ahead or before 1900 without a date, instead of skipping it (it then drops out of "
        "date-filtered questions). Also SOURCED_UNDATED_OK=1."
    ))] = None,
    batch_docs: Annotated[int | None, typer.Option(min=1, max=10_000, help=(
        "Documents per committed batch (default 32): a killed run loses at most one batch."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help=(
        "Read, clean and process the files on a Ray cluster (auto, HOST:PORT, ray://...; also "
        "SOURCED_RAY_ADDRESS); this process still commits them. Needs the [ray] extra."))] = None,
    ray_actors: Annotated[int | None, typer.Option(min=1, max=1024, help=(
        "With --ray: actors processing documents at once (default 2)."))] = None,
    ray_batch_docs: Annotated[int | None, typer.Option(min=1, max=10_000, help=(
        "With --ray: documents per Ray batch (default 8)."))] = None,
) -> None:
    """Add new documents, replace changed ones, skip unchanged ones.

    Document ids are stable (from the file path, or a JSONL record's id or url), so indexing the
    same files twice creates no duplicates. Each batch is committed atomically: an interrupted
    run keeps the previous index loadable. Files that cannot be indexed (unsupported type, not
    text, empty, a bad date or other metadata) are skipped and listed with the reason; the rest
    are indexed. Example: sourced index corpus/ news.jsonl
    """
    from index.indexer import rebuild as rebuild_index
    from index.loaders import load_paths

    settings = load_settings(index_dir, model=model, chunk_tokens=chunk_tokens,
                             chunk_overlap=chunk_overlap, undated_ok=undated_ok, batch_docs=batch_docs,
                             ray_address=ray, ray_actors=ray_actors, ray_batch_docs=ray_batch_docs)
    if not quiet:
        typer.echo(f"reading {', '.join(str(p) for p in paths or [settings.corpus_dir])}...", err=True)
    read, process = _on_ray(settings, progress=not quiet) if settings.ray_address else (None, None)
    # Read and checked before the model loads: a --strict refusal costs no indexing.
    loaded = load_paths(paths or [settings.corpus_dir], undated_ok=settings.undated_ok, read=read)
    _echo_skipped(loaded)
    if strict and loaded.problems:
        raise SourcedError(
            f"--strict: {len(loaded.problems)} skipped (listed above); nothing was indexed."
        )
    engine = _engine(settings)
    if rebuild:
        report = rebuild_index(engine.indexer, loaded.documents, progress=not quiet, process=process)
    else:
        report = engine.index_documents(loaded.documents, prune=prune, progress=not quiet,
                                        save_arrays=True, process=process)
    undated = f" ({len(loaded.undated)} without their date)" if loaded.undated else ""
    typer.echo(
        f"{len(report.added)} added, {len(report.replaced)} replaced, {report.unchanged} unchanged, "
        f"{len(loaded.problems)} skipped, {len(report.removed)} removed{undated}; "
        f"{report.chunks} chunks, {report.sentences} sentences in {report.seconds:.1f}s "
        f"-> {settings.index_dir}"
    )


def _on_ray(settings: Settings, progress: bool):
    """Files read and documents processed on the Ray cluster at ``settings.ray_address``
    (index/distributed.py): ``load_paths``'s ``read`` and ``Indexer.run``'s ``process``."""
    from functools import partial

    from index.distributed import RayProcess, RayRead
    from index.ray_env import connect
    from service.engine import make_embedder

    connect(settings.ray_address or "auto")
    process = RayProcess(partial(make_embedder, settings), settings.chunk_settings,
                         actors=settings.ray_actors, ray_batch=settings.ray_batch_docs,
                         commit_docs=settings.batch_docs, progress=progress)
    return RayRead(progress=progress), process


def _echo_skipped(loaded: LoadResult) -> None:
    """Each skipped file with its reason, and each file indexed without its date (stderr)."""
    for problem in loaded.problems:
        typer.secho(f"skipped {problem.where} ({problem.label}): {problem.reason}", fg="yellow", err=True)
    for note in loaded.undated:
        typer.secho(f"indexed {note.where} without a date: {note.reason}", fg="yellow", err=True)
    if any(p.kind == "bad_date" for p in loaded.problems):
        typer.secho("Fix those dates, or pass --undated-ok to index such files without a date.",
                    fg="yellow", err=True)


@app.command()
@edge
def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to remove.")],
    index_dir: IndexDir = None,
) -> None:
    """Remove documents from the index by id (see `sourced documents`)."""
    from service.engine import Engine

    settings = load_settings(index_dir)
    unknown = Engine(settings).indexer.remove(doc_ids)
    for doc_id in unknown:
        typer.secho(f"not in the index: {doc_id}", fg="yellow", err=True)
    typer.echo(f"{len(doc_ids) - len(unknown)} removed")
    if unknown:
        raise typer.Exit(4)


@app.command()
@edge
def documents(
    index_dir: IndexDir = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """List indexed documents (id, title, characters), as JSON lines."""
    from index.store import IndexStore

    store = IndexStore.open(load_settings(index_dir).index_dir)
    try:
        for row in store.list_documents(offset, limit):
            typer.echo(json.dumps(row, ensure_ascii=False))
    finally:
        store.close()


@app.command()
@edge
def ask(
    question: Annotated[str | None, typer.Argument(help="The question. Omit it to read one question per line from stdin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (JSON Lines for stdin).")] = False,
    top_k: Annotated[int | None, typer.Option(min=1, max=50, help="Chunks to retrieve (default 5).")] = None,
    published_from: FromDate = None,
    published_to: ToDate = None,
    sources: Sources = None,
    index_dir: IndexDir = None,
    server: Annotated[str | None, typer.Option(metavar="URL", envvar="SOURCED_SERVER", help=(
        "Ask a running `sourced serve` (e.g. http://127.0.0.1:8000) instead of loading the "
        "index here: an answer in milliseconds, no start-up."
    ))] = None,
) -> None:
    """Answer a question from the indexed articles, citing the sentence it came from.

    Builds the index from corpus/ first if there is none. Examples:

      sourced ask "How many US troops are in Iraq?"

      sourced ask "How many US troops are in Iraq?" --server http://127.0.0.1:8000

      sourced ask "Who won the vote?" --from 2022-01-01 --to 2022-01-07 --source cnn.com

      printf 'Who is the spokesman?\\nWhen did talks open?\\n' | sourced ask --json
    """
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(index_dir)
    if question is not None:  # before the model loads: a mistake is answered at once
        check_question(question, settings.max_question_chars)
    filters = _filters(published_from, published_to, sources)
    if server is not None:
        from service.remote import RemoteAsker

        asker = RemoteAsker(server)
    else:
        asker = _start(_engine(settings))
    if question is not None:
        answer = asker.ask(question, top_k, filters)
        typer.echo(answer.model_dump_json() if as_json else _human(answer))
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            typer.echo(asker.ask(line.strip(), top_k, filters).model_dump_json())
        except SourcedError as exc:  # one bad line must not end a batch
            typer.echo(json.dumps({"question": line.strip(), "error": exc.message, "code": exc.code}))


@app.command()
@edge
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=50, help="Passages (default 5).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON of GET /search.")] = False,
    published_from: FromDate = None,
    published_to: ToDate = None,
    sources: Sources = None,
    index_dir: IndexDir = None,
) -> None:
    """Show the passages retrieval ranks highest for QUERY, without extracting an answer.

    Example: sourced search "coalition withdrawal talks" --from 2024-02-01 --source example.com
    """
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(index_dir)
    check_question(query, settings.max_question_chars)
    filters = _filters(published_from, published_to, sources)
    engine = _start(_engine(settings))
    passages = engine.search(query, k, filters)
    if as_json:
        from service.api.schemas import SearchResults

        results = SearchResults(query=query, count=len(passages), passages=passages)
        typer.echo(results.model_dump_json())
        return
    if not passages:
        typer.echo(f"No passages match the filters: {filters.describe()}." if filters.active
                   else "No passages.")
    for rank, p in enumerate(passages, 1):
        where = f"[{p.doc_id}, chars {p.char_start}-{p.char_end}]"
        typer.echo(f"{rank}. {_dated(p.title, p.published)} {where} score {p.score:.3f}")
        if p.url:
            typer.echo(f"   {p.url}")
        typer.echo(f"   \"{_snippet(p.text)}\"")


def _start(engine):
    """Load the index (building it from corpus/ if there is none) and say so on stderr when
    an interrupted `sourced index` left it incomplete."""
    engine.start(build_if_missing=True)
    notice = engine.build.notice(engine.settings.index_dir) if engine.build else None
    if notice:
        typer.secho(notice, fg="yellow", err=True)
    return engine


def _dated(title: str, published: str | None) -> str:
    """A source's title with its publication date: readers weigh news by when it was written."""
    return f"{title} (published {published})" if published else f"{title} (no publication date)"


def _snippet(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + "..."


def _human(answer: Any) -> str:
    lines = []
    if answer.answer is None:
        lines.append(f"Not found in these articles. ({answer.reason})")
        for p in answer.passages[:2]:
            lines.append(f"  nearest: {_dated(p.title, p.published)} [{p.doc_id}] \"{_snippet(p.text)}\"")
    elif answer.computation is not None:
        lines.append(answer.answer)
        lines.append(f"  computed: {answer.computation.expression}")
        for o in answer.computation.operands:
            lines.append(f"  {o.answer}: \"{o.quote}\"")
            lines.append(f"    — {_dated(o.title, o.published)} [{o.doc_id}, chars {o.char_start}-{o.char_end}]")
    else:
        c = answer.citations[0]
        lines.append(answer.answer)
        lines.append(f"  \"{c.quote}\"")
        lines.append(f"  — {_dated(c.title, c.published)} [{c.doc_id}, chars {c.char_start}-{c.char_end}]")
        if c.url:
            lines.append(f"  {c.url}")
        for h in answer.history:
            lines.append(f"  earlier: {h.answer} ({_dated(h.title, h.published)}) \"{_snippet(h.quote, 100)}\"")
        if answer.conflict:
            lines.append("  Sources disagree:")
            for alt in answer.alternatives:
                lines.append(f"  {alt.answer}: \"{alt.quote}\"")
                lines.append(f"    — {_dated(alt.title, alt.published)} [{alt.doc_id}, chars {alt.char_start}-{alt.char_end}]")
    if answer.notice:
        lines.append(f"  note: {answer.notice}")
    lines.append(f"  confidence {answer.confidence:.2f}, {answer.timings.total_ms:.0f} ms")
    return "\n".join(lines)


@app.command()
@edge
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help=(
        "Server processes over the same index (default: the CPU cores). Each answers on its "
        "own core; the index's arrays are shared through the page cache; writes stay "
        "serialised. The rate limit and /metrics are per process."))] = None,
    index_dir: IndexDir = None,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help=(
        "Serve on a Ray cluster with Ray Serve (auto, HOST:PORT, ray://...; also "
        "SOURCED_RAY_ADDRESS): the index split into --shards, each with --replicas. Reads only."
    ))] = None,
    shards: Annotated[int, typer.Option(min=1, max=1024, help="With --ray: shards of the index.")] = 1,
    replicas: Annotated[int, typer.Option(min=1, max=1024, help="With --ray: replicas per shard.")] = 1,
) -> None:
    """Serve the HTTP API and the web form (API docs at /docs).

    Builds the index from corpus/ first if there is none.

    Writes (POST and DELETE /documents) need SOURCED_API_KEY set.

    Examples: sourced serve --port 8080 --workers 2

      sourced serve --ray auto --shards 4 --replicas 2
    """
    import uvicorn

    from service.api import create_app
    from service.api.app import SUPERVISOR_PID

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    settings = load_settings(index_dir, ray_address=ray)
    workers = workers or available_cores()
    engine = _engine(settings)
    typer.echo(f"loading the index at {settings.index_dir} (built from {settings.corpus_dir} if missing)...")
    _start(engine)  # here, so errors are one line, not a traceback
    if settings.ray_address:
        engine.close()
        from index.ray_env import connect

        connect(settings.ray_address)
        from service.cluster import serve_forever

        return serve_forever(settings, host, port, shards, replicas, echo=typer.echo)
    writes = "enabled" if settings.api_key else "disabled (set SOURCED_API_KEY to enable them)"
    typer.echo(f"serving on http://{host}:{port}/ with {workers} worker{'s' * (workers > 1)} "
               f"(API docs at /docs); writes {writes}. Ctrl+C stops.")
    if workers == 1:
        try:
            uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning")
        finally:
            engine.close()
        return
    engine.close()  # the index exists and its arrays are on disk: each worker maps them
    os.environ["SOURCED_INDEX_DIR"] = str(settings.index_dir.resolve())
    if settings.reader_threads is None:  # each worker its share of the cores
        os.environ["SOURCED_READER_THREADS"] = str(max(1, available_cores() // workers))
    os.environ[SUPERVISOR_PID] = str(os.getpid())  # workers exit when this process dies
    uvicorn.run("service.api.app:app_from_environment", factory=True, workers=workers, host=host,
                port=port, log_level="warning")


def _register_commands() -> None:
    """Add the commands other packages declare (``[project.entry-points."sourced.commands"]``
    in pyproject.toml: a ``register(app)`` function each). Their modules must import little:
    this runs on every start, ``--help`` included."""
    for entry_point in entry_points(group="sourced.commands"):
        entry_point.load()(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
