"""The ``rag`` command line: stats, index, search, ask, eval, ui.

This is an edge: it reads :class:`~rag.settings.Settings` from the environment, turns
:class:`~rag.errors.RagError` into one-line messages (exit code 1) and prints JSON with ``--json``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from .errors import RagError
from .settings import Settings


def _env_defaults() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def edge(fn):
    """Run a command; a RagError (or a bad setting) becomes ``error: …`` on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RagError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _dump(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _pipeline(ctx: click.Context):
    from .pipeline import Pipeline

    if "pipeline" not in ctx.obj:
        ctx.obj["pipeline"] = Pipeline(_settings(ctx))
    return ctx.obj["pipeline"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paper-rag")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ask questions about machine-learning papers and get answers with checked citations."""
    _env_defaults()
    ctx.ensure_object(dict)
    try:
        ctx.obj["settings"] = Settings()
    except ValidationError as e:  # a bad RAG_* value
        err = e.errors()[0]
        click.echo(f"error: invalid setting RAG_{str(err['loc'][0]).upper()}: {err['msg']}", err=True)
        sys.exit(2)


# ---------------------------------------------------------------- stats

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--index/--no-index", "with_index", default=False, help="Also report the index (loads the embedding model).")
@click.pass_context
@edge
def stats(ctx, as_json: bool, with_index: bool) -> None:
    """Count the entries and papers of every source in the manifest."""
    from .corpus import load_corpus

    corpus = load_corpus(Path(_settings(ctx).manifest))
    s = corpus.stats()
    if with_index:
        store = _pipeline(ctx).store(create=False)
        s["index"] = {**store.info(), **store.health()}
    if as_json:
        _dump(s)
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"Corpus: {_settings(ctx).manifest}")
    t.add_column("source")
    t.add_column("format")
    t.add_column("venue")
    t.add_column("entries", justify="right")
    for src in corpus.sources:
        t.add_row(src.label, src.format, " ".join(str(x) for x in (src.venue, src.year) if x) or "-", str(s["sources"][src.label]))
    t.add_row("[b]total[/b]", "", "", f"[b]{s['entries']}[/b]")
    con.print(t)
    con.print(f"papers after merging duplicates: [b]{s['papers']}[/b]")
    con.print("types: " + ", ".join(f"{k} {v}" for k, v in s["types"].items()))
    con.print("venues: " + ", ".join(f"{k} {v}" for k, v in s["venues"].items()))
    if with_index:
        con.print("index: " + ", ".join(f"{k} {v}" for k, v in s["index"].items()))
    for p in corpus.problems:
        con.print(f"[yellow]skipped[/yellow] {p}")


# ---------------------------------------------------------------- index

@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["session_page", "openreview_md", "paper_feed", "jsonl", "csv"]),
              help="Format of the given files (detected when omitted).")
@click.option("--venue", help="Venue of the given files' papers, where the files do not say.")
@click.option("--year", type=int, help="Year of the given files' papers, where the files do not say.")
@click.option("--full", is_flag=True, help="Re-embed everything (and drop an index built with another model).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@edge
def index(ctx, paths, fmt, venue, year, full: bool, as_json: bool) -> None:
    """Build or update the index from the manifest. PATHS are registered as new sources first."""
    from .pipeline import tqdm_progress

    pipe = _pipeline(ctx)
    for src in pipe.add_sources(list(paths), fmt, venue=venue, year=year):
        if not as_json:
            click.echo(f"source {src.label}: {src.path} ({src.format})", err=True)
    rep = pipe.index(full=full, progress=tqdm_progress())
    for note in getattr(pipe.embedder, "notes", []):
        click.echo(f"note: {note}", err=True)
    if as_json:
        _dump({"added": rep.added, "updated": rep.updated, "removed": rep.removed, "unchanged": rep.unchanged,
               "papers": rep.papers, "seconds": round(rep.seconds, 2), "skipped": rep.problems})
        return
    for p in rep.problems:
        click.echo(f"skipped: {p}", err=True)
    click.echo(f"{rep.papers} papers indexed: {rep.added} added, {rep.updated} updated, {rep.removed} removed, "
               f"{rep.unchanged} unchanged ({rep.chunks_embedded} chunks embedded in {rep.seconds:.1f} s)")


# ---------------------------------------------------------------- search

def _filter_options(fn):
    for opt in reversed([
        click.option("--venue", multiple=True, help="Only papers of this venue (repeatable)."),
        click.option("--year", help="Year or range: 2021, 2020-2022, >=2021."),
        click.option("--type", "ptype", multiple=True, help="Oral, Spotlight or Poster (repeatable)."),
        click.option("--author", help="Only papers with an author name containing this text."),
        click.option("--source", multiple=True, help="Only papers from this source label (repeatable)."),
    ]):
        fn = opt(fn)
    return fn


def _filters(venue, year, ptype, author, source) -> dict:
    return {k: v for k, v in {"venue": list(venue), "year": year, "type": list(ptype), "author": author,
                              "source": list(source)}.items() if v}


def _paper_json(p) -> dict:
    return {"id": p.id, "title": p.title, "authors": list(p.authors), "venue": p.venue, "year": p.year, "type": p.type}


@main.command()
@click.argument("query")
@click.option("--k", "k", type=click.IntRange(1, 100), default=None, help="Number of papers (default: RAG_K).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", help="Retriever.")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def search(ctx, query, k, mode, venue, year, ptype, author, source, as_json) -> None:
    """Print the papers that best match QUERY."""
    pipe = _pipeline(ctx)
    hits = pipe.retrieve(query, k, mode=mode, **_filters(venue, year, ptype, author, source))
    if as_json:
        _dump([{"rank": h.rank, "score": round(h.score, 4), **_paper_json(h.paper), "passage": (h.passages or [""])[0]} for h in hits])
        return
    if not hits:
        click.echo("no papers match")
    for h in hits:
        p = h.paper
        meta = " · ".join(str(x) for x in (p.venue, p.year, p.type) if x)
        click.echo(f"{h.rank}. {p.title}  [{meta or 'no venue'}]  ({h.score:.3f})")
        if p.authors:
            click.echo(f"   {', '.join(p.authors)}")
        click.echo(f"   id {p.id}")


@main.command()
@click.argument("paper_id")
@click.option("--k", "k", type=click.IntRange(1, 100), default=5)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def similar(ctx, paper_id, k, as_json) -> None:
    """Print the papers nearest to PAPER_ID."""
    hits = _pipeline(ctx).similar(paper_id, k)
    if as_json:
        _dump([{"rank": h.rank, "score": round(h.score, 4), **_paper_json(h.paper)} for h in hits])
        return
    for h in hits:
        click.echo(f"{h.rank}. {h.paper.title} ({h.score:.3f})  id {h.paper.id}")


# ---------------------------------------------------------------- eval

@main.command(name="eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--backend", type=click.Choice(["local", "openai", "extractive"]), multiple=True,
              help="Also score answers with this backend (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def eval_cmd(ctx, questions, backend, as_json) -> None:
    """Score retrieval (hybrid, dense, keyword) and optionally answers on a question file; on a
    comparison label file (eval/compare_labels.jsonl) score comparison tables instead."""
    from .comparison_eval import is_label_file

    if is_label_file(questions):
        _eval_compare(ctx, questions, backend, as_json)
        return
    from .evaluate import eval_retrieval, format_retrieval, load_questions

    qs = load_questions(questions)
    pipe = _pipeline(ctx)
    res = {"questions": str(questions), "n": len(qs), "retrieval": eval_retrieval(pipe.retriever, qs)}
    if backend:
        from .evaluate import eval_answers, format_answers

        res["answers"] = {b: eval_answers(pipe, qs, b) for b in backend}
    if as_json:
        _dump(res)
        return
    click.echo(f"{questions}: {len(qs)} questions")
    click.echo(format_retrieval(res["retrieval"]))
    if backend:
        click.echo()
        click.echo(format_answers(res["answers"]))


# ---------------------------------------------------------------- compare

@main.command(name="compare")
@click.argument("paper_ids", nargs=-1)
@click.option("--question", help="Compare the papers relevant to this question instead of given ids.")
@click.option("--columns", help='Comma-separated columns (default: problem,method,data,result); others are questions, e.g. "method,which datasets?".')
@click.option("--backend", type=click.Choice(["local", "openai", "extractive"]), default=None,
              help="Shorten cells with this model, each checked against the abstract (default: RAG_BACKEND).")
@click.option("--json", "fmt", flag_value="json", help="Print JSON: {columns, rows: [{id, title, cells}]}.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Print a Markdown table.")
@click.pass_context
@edge
def compare_cmd(ctx, paper_ids, question, columns, backend, fmt) -> None:
    """Compare papers side by side: PAPER_ID … (2 to 8) or --question."""
    from .errors import ConfigError

    if bool(paper_ids) == bool(question):
        raise ConfigError("give paper ids or --question, not both" if paper_ids else "give paper ids or --question")
    table = _pipeline(ctx).compare(question or list(paper_ids), columns=columns, backend=backend)
    for note in table.notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        _dump(table.to_dict())
    elif fmt == "csv":
        click.echo(table.to_csv(), nl=False)
    elif fmt == "markdown":
        click.echo(table.to_markdown())
    else:
        from rich.console import Console
        from rich.table import Table as RichTable

        t = RichTable(show_lines=True)
        for h in table.header():
            t.add_column(h)
        for texts in table.cell_texts():
            t.add_row(*[x or "–" for x in texts])
        Console().print(t)


def _eval_compare(ctx, path, backend, as_json) -> None:
    from .comparison_eval import eval_compare, format_compare, load_labels

    labels = load_labels(path)
    res = {b: eval_compare(_pipeline(ctx), labels, b) for b in dict.fromkeys(("extractive", *backend))}
    if as_json:
        _dump({"labels": str(path), "n": len(labels), "compare": res})
        return
    click.echo(f"{path}: {len(labels)} labelled papers (comparison tables, 5 papers each)")
    click.echo(format_compare(res))
    for name, r in res.items():
        for m in r["misses"]:
            click.echo(f"  miss [{name}] {m['id']} {m['column']}: wants {m['key_terms']} in {m['cell'][:150]!r}")


# ---------------------------------------------------------------- ui

@main.command(name="ui")
@click.option("--host", default=None, help="Interface to bind (default: RAG_UI_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: RAG_UI_PORT, 7860).")
@click.pass_context
@edge
def ui_cmd(ctx, host, port) -> None:
    """Start the chat UI (Gradio) at http://HOST:PORT; builds the index first if there is none."""
    from ui.app import create_app, launch  # lazy: rag never imports ui at module level

    settings = _settings(ctx)
    host = host or settings.ui_host
    port = port or settings.ui_port
    if host not in ("127.0.0.1", "localhost", "::1") and not (settings.ui_username and settings.ui_password):
        click.echo(f"warning: serving on {host} without a password; set RAG_UI_USERNAME and RAG_UI_PASSWORD", err=True)
    app = create_app(_pipeline(ctx), settings)
    click.echo(f"Chat UI on http://{host}:{port} (Ctrl+C to stop)", err=True)
    try:
        launch(app, settings, host, port, quiet=True)
    except OSError as e:
        click.echo(f"error: cannot serve on {host}:{port}: {e}", err=True)
        sys.exit(1)


# ---------------------------------------------------------------- ask

@main.command()
@click.argument("question")
@click.option("--backend", type=click.Choice(["local", "openai", "extractive"]), default=None,
              help="Answer backend (default: RAG_BACKEND).")
@click.option("--k", "k", type=click.IntRange(1, 100), default=None, help="Papers to retrieve (default: RAG_K).")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
@edge
def ask(ctx, question, backend, k, venue, year, ptype, author, source, as_json) -> None:
    """Answer QUESTION from the indexed papers, with checked citations."""
    from .answering import Answer

    pipe = _pipeline(ctx)
    filters = _filters(venue, year, ptype, author, source)
    if as_json:
        a = pipe.answer(question, backend=backend, k=k, **filters)
        if a.fallback:
            click.echo(f"{'warning' if a.backend_failed else 'note'}: {a.fallback}", err=True)
        _dump(a.to_dict())
        return
    a = None
    for item in pipe.stream(question, backend=backend, k=k, **filters):
        if isinstance(item, Answer):
            a = item
        else:
            click.echo(item, nl=False)
            sys.stdout.flush()
    click.echo()
    if a is None:
        return
    if a.fallback:  # a failing backend is a warning; a model whose answer was unsupported only a note
        click.echo(f"{'warning' if a.backend_failed else 'note'}: {a.fallback}", err=True)
    if a.citations:
        click.echo("\nSources:")
        for c in a.citations:
            p = c.paper
            meta = " · ".join(str(x) for x in (" ".join(str(v) for v in (p.venue, p.year) if v), p.type) if x)
            click.echo(f"[{c.n}] {p.title}" + (f"  ({meta})" if meta else ""))
            if p.authors:
                click.echo(f"    {', '.join(p.authors)}")
    if a.unsupported:
        click.echo(f"({len(a.unsupported)} sentence(s) of the model's answer were dropped as unsupported)", err=True)
