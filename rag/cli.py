"""The ``rag`` command line: stats, index, search, ask, eval, ui.

This is an edge: it reads :class:`~rag.settings.Settings` from the environment, turns
:class:`~rag.errors.RagError` into one-line messages (exit code 1) and prints JSON with ``--json``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from .errors import IndexStateError, RagError, StoreUnavailableError
from .generate import GENERATORS
from .sanitize import terminal_safe
from .settings import FIELD_SECTION, Settings, unknown_env_vars


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
            _echo(f"error: {' '.join(str(e).split())}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _echo(text: object = "", **kw) -> None:
    """click.echo without terminal control sequences (titles and abstracts come from source files)."""
    click.echo(terminal_safe(text), **kw)


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes only C0


def _dump(obj) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str)
    click.echo(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _allow_outside(ctx: click.Context, allow: bool) -> None:
    """``--allow-outside``: read manifest sources outside the manifest's folder in this run."""
    if allow:
        ctx.obj["settings"] = _settings(ctx).model_copy(update={"allow_outside_sources": True})


_ALLOW_OUTSIDE = click.option("--allow-outside", is_flag=True,
                              help="Read (and register) source files outside the manifest's folder.")


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _pipeline(ctx: click.Context):
    from .pipeline import Pipeline

    if "pipeline" not in ctx.obj:
        ctx.obj["pipeline"] = Pipeline(_settings(ctx))
    return ctx.obj["pipeline"]


COMMANDS_GROUP = "rag.commands"  # entry points adding commands (``rag ui`` comes from the ui package)


def _plugin_commands() -> dict[str, str]:
    """Command name → ``module:attr`` of the ``rag.commands`` entry points: the installed package's,
    else (an editable install made before an entry point was added) those pyproject.toml declares."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=COMMANDS_GROUP)}
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not found and pyproject.is_file():
        import tomllib

        with pyproject.open("rb") as f:
            found = dict(tomllib.load(f).get("project", {}).get("entry-points", {}).get(COMMANDS_GROUP, {}))
    return found


class PluginGroup(click.Group):
    """A click group that also offers the commands other packages register as entry points,
    imported only when one of them is run (or listed in ``--help``)."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *_plugin_commands()})

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in (plugins := _plugin_commands()):
            from importlib import import_module

            module, _, attr = plugins[name].partition(":")
            cmd = getattr(import_module(module), attr)
        return cmd


def pipeline_of(ctx: click.Context):
    """The pipeline of this command run (created on first use), for commands of other packages."""
    return _pipeline(ctx)


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paper-rag")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ask questions about machine-learning papers and get answers with checked citations."""
    _env_defaults()
    ctx.ensure_object(dict)
    for msg in unknown_env_vars():
        click.echo(f"warning: {msg}", err=True)
    try:
        ctx.obj["settings"] = Settings()
    except ValidationError as e:  # a bad RAG_* value
        err = e.errors()[0]
        name = next((str(x) for x in err["loc"] if x in FIELD_SECTION), str(err["loc"][-1]))  # loc: (section, field, …)
        click.echo(f"error: invalid setting RAG_{name.upper()}: {err['msg']}", err=True)
        sys.exit(2)


# ---------------------------------------------------------------- stats

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--index/--no-index", "with_index", default=False, help="Also read the index and report its health (loads the embedding model).")
@_ALLOW_OUTSIDE
@click.pass_context
@edge
def stats(ctx, as_json: bool, with_index: bool, allow_outside: bool) -> None:
    """Count the entries and papers of every source in the manifest."""
    from .corpus import load_corpus

    _allow_outside(ctx, allow_outside)
    corpus = load_corpus(Path(_settings(ctx).corpus.manifest), allow_outside=_settings(ctx).corpus.allow_outside_sources)
    s = corpus.stats()
    broken = None
    if with_index:
        try:
            pipe = _pipeline(ctx)
            with pipe.store_errors():
                store = pipe.store(create=False)
                s["index"] = {**store.info(), **store.health()}
        except (IndexStateError, StoreUnavailableError) as e:  # reported after the corpus, exit 1
            broken = " ".join(str(e).split())
            s["index"] = {"error": broken}
    if as_json:
        _dump(s)
        if broken:
            _echo(f"error: {broken}", err=True)
            sys.exit(1)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console()
    t = Table(title=f"Corpus: {_settings(ctx).corpus.manifest}")
    t.add_column("source")
    t.add_column("format")
    t.add_column("venue")
    t.add_column("entries", justify="right")
    for src in corpus.sources:
        n = "unreadable" if src.label in corpus.failed else str(s["sources"][src.label])
        t.add_row(*(escape(terminal_safe(x)) for x in (src.label, src.format, " ".join(str(x) for x in (src.venue, src.year) if x) or "-", n)))
    t.add_row("[b]total[/b]", "", "", f"[b]{s['entries']}[/b]")
    con.print(t)
    con.print(f"papers after merging duplicates: [b]{s['papers']}[/b]")
    con.print("types: " + escape(terminal_safe(", ".join(f"{k} {v}" for k, v in s["types"].items()))))
    con.print("venues: " + escape(terminal_safe(", ".join(f"{k} {v}" for k, v in s["venues"].items()))))
    for p in corpus.problems:
        con.print(f"[yellow]skipped[/yellow] {escape(terminal_safe(p))}", soft_wrap=True)
    if with_index and not broken:
        con.print("index: " + escape(", ".join(f"{k} {v}" for k, v in s["index"].items())))
    if broken:
        _echo(f"error: {broken}", err=True)
        sys.exit(1)


# ---------------------------------------------------------------- index

@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["session_page", "openreview_md", "paper_feed", "jsonl", "csv"]),
              help="Format of the given files (detected when omitted).")
@click.option("--venue", help="Venue of the given files' papers, where the files do not say.")
@click.option("--year", type=int, help="Year of the given files' papers, where the files do not say.")
@click.option("--full", is_flag=True, help="Re-embed everything (and drop an index built with another model, or move a damaged one aside).")
@click.option("--prune", is_flag=True, help="Also delete the papers of sources that cannot be read (kept by default).")
@_ALLOW_OUTSIDE
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@edge
def index(ctx, paths, fmt, venue, year, full: bool, prune: bool, allow_outside: bool, as_json: bool) -> None:
    """Build or update the index from the manifest. PATHS are registered as new sources first."""
    from .pipeline import tqdm_progress

    _allow_outside(ctx, allow_outside)
    pipe = _pipeline(ctx)
    for src in pipe.add_sources(list(paths), fmt, venue=venue, year=year):
        if not as_json:
            _echo(f"source {src.label}: {src.path} ({src.format})", err=True)
    rep = pipe.index(full=full, prune=prune, progress=tqdm_progress())
    for note in pipe.embedder.notes:
        _echo(f"note: {note}", err=True)
    for label, why in rep.failed.items():
        if prune:
            _echo(f"warning: source {label!r} was not read ({why}); its papers were removed (--prune)", err=True)
        elif rep.kept.get(label):
            _echo(f"warning: source {label!r} was not read ({why}); its {rep.kept[label]} indexed papers are kept: fix the file, "
                  "or delete them on purpose with `rag index --prune` or by removing its manifest entry", err=True)
        else:
            _echo(f"warning: source {label!r} was not read ({why}); nothing of it is indexed", err=True)
    if as_json:
        _dump({"added": rep.added, "updated": rep.updated, "removed": rep.removed, "unchanged": rep.unchanged,
               "papers": rep.papers, "seconds": round(rep.seconds, 2), "skipped": rep.problems,
               "failed": rep.failed, "kept": rep.kept, "rerank_embedded": rep.rerank_embedded})
        return
    for p in rep.problems:
        _echo(f"skipped: {p}", err=True)
    _echo(f"{rep.papers} papers indexed: {rep.added} added, {rep.updated} updated, {rep.removed} removed, "
               f"{rep.unchanged} unchanged ({rep.chunks_embedded} chunks embedded in {rep.seconds:.1f} s)")
    if rep.rerank_embedded:
        _echo(f"{rep.rerank_embedded} papers embedded by the rerank model")


# ---------------------------------------------------------------- search

def _filter_options(fn):
    for opt in reversed([
        click.option("--venue", multiple=True, help="Only papers of this venue (repeatable)."),
        click.option("--year", help="Year or range: 2021, 2020-2022, >=2021."),
        click.option("--type", "ptype", multiple=True, help="Oral, Spotlight or Poster (repeatable)."),
        click.option("--author", help="Only papers with an author name containing this text."),
        click.option("--source", multiple=True, help="Only papers from this source label (repeatable)."),
        click.option("--topic", multiple=True, type=int, help="Only papers of this topic id from `rag topics` (repeatable)."),
    ]):
        fn = opt(fn)
    return fn


def _filters(venue, year, ptype, author, source, topic=()) -> dict:
    return {k: v for k, v in {"venue": list(venue), "year": year, "type": list(ptype), "author": author,
                              "source": list(source), "topic": list(topic)}.items() if v}


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
def search(ctx, query, k, mode, venue, year, ptype, author, source, topic, as_json) -> None:
    """Print the papers that best match QUERY."""
    pipe = _pipeline(ctx)
    hits = pipe.retrieve(query, k, mode=mode, **_filters(venue, year, ptype, author, source, topic))
    if as_json:
        _dump([{"rank": h.rank, "score": round(h.score, 4), **_paper_json(h.paper), "passage": (h.passages or [""])[0]} for h in hits])
        return
    read = getattr(hits, "read_filters", None)
    if read:
        click.echo(f"filters read from your question: {read.describe()} (searched: {read.text!r})", err=True)
    if not hits:
        _echo("no papers match")
    for h in hits:
        p = h.paper
        meta = " · ".join(str(x) for x in (p.venue, p.year, p.type) if x)
        _echo(f"{h.rank}. {p.title}  [{meta or 'no venue'}]  ({h.score:.3f})")
        if p.authors:
            _echo(f"   {', '.join(p.authors)}")
        _echo(f"   id {p.id}")


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
        _echo(f"{h.rank}. {h.paper.title} ({h.score:.3f})  id {h.paper.id}")


# ---------------------------------------------------------------- eval

@main.command(name="eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--backend", type=click.Choice(list(GENERATORS)), multiple=True,
              help="Also score answers with this backend (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def eval_cmd(ctx, questions, backend, as_json) -> None:
    """Score retrieval (hybrid beside its baselines: keyword, dense, rank fusion) and optionally answers on a
    question file; on a comparison label file (eval/compare_labels.jsonl) score comparison tables instead."""
    from .comparison_eval import is_label_file

    if is_label_file(questions):
        _eval_compare(ctx, questions, backend, as_json)
        return
    from .evaluate import eval_retrieval, format_retrieval, load_questions

    qs = load_questions(questions)
    pipe = _pipeline(ctx)
    res: dict = {"questions": str(questions), "n": len(qs),
                 "retrieval": eval_retrieval(pipe.retriever, qs, searchers={"hybrid": lambda text, k: pipe.retrieve(text, k)})}
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
@click.option("--backend", type=click.Choice(list(GENERATORS)), default=None,
              help="Shorten cells with this model, each checked against the abstract (default: RAG_COMPARE_MODEL, auto: the openai backend when it answers questions, else none).")
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


# ---------------------------------------------------------------- ask

@main.command()
@click.argument("question")
@click.option("--backend", type=click.Choice(list(GENERATORS)), default=None,
              help="Answer backend (default: RAG_BACKEND).")
@click.option("--k", "k", type=click.IntRange(1, 100), default=None, help="Papers to retrieve (default: RAG_K).")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
@edge
def ask(ctx, question, backend, k, venue, year, ptype, author, source, topic, as_json) -> None:
    """Answer QUESTION from the indexed papers, with checked citations."""
    from .answering import Answer

    pipe = _pipeline(ctx)
    filters = _filters(venue, year, ptype, author, source, topic)
    if as_json:
        a = pipe.answer(question, backend=backend, k=k, **filters)
        if a.fallback:
            _echo(f"{'warning' if a.backend_failed else 'note'}: {a.fallback}", err=True)
        _dump({**a.to_dict(), "topics": _cited_topics(pipe, a)})
        return
    a = None
    for item in pipe.stream(question, backend=backend, k=k, **filters):
        if isinstance(item, Answer):
            a = item
        else:
            _echo(item, nl=False)
            sys.stdout.flush()
    _echo()
    if a is None:
        return
    if a.fallback:  # a failing backend is a warning; a model whose answer was unsupported only a note
        _echo(f"{'warning' if a.backend_failed else 'note'}: {a.fallback}", err=True)
    if a.citations:
        _echo("\nSources:")
        for c in a.citations:
            p = c.paper
            meta = " · ".join(str(x) for x in (" ".join(str(v) for v in (p.venue, p.year) if v), p.type) if x)
            _echo(f"[{c.n}] {p.title}" + (f"  ({meta})" if meta else ""))
            if p.authors:
                _echo(f"    {', '.join(p.authors)}")
            _echo(f"    {p.link}")
    if a.related:
        _echo("\nRelated papers (on the topic; not quoted as an answer):")
        for p in a.related:
            _echo(f"- {p.title}  {p.link}")
    cited = _cited_topics(pipe, a)
    if cited:
        _echo("Topics: " + "; ".join(f"{t['label']} (topic {t['id']})" for t in cited))
    if a.unsupported:
        _echo(f"({len(a.unsupported)} sentence(s) of the model's answer were dropped as unsupported)", err=True)


# ---------------------------------------------------------------- doctor

@main.command()
@click.option("--no-llm", is_flag=True, help="Skip the local model probe (the slowest check).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def doctor(ctx, no_llm: bool, as_json: bool) -> None:
    """Check the install: embedding model, local model, Chroma store, index, browser for the UI tests."""
    from dataclasses import asdict

    from .doctor import run_checks

    checks = []
    for c in run_checks(_pipeline(ctx), local_model=not no_llm):
        checks.append(c)
        if not as_json:
            click.echo(c.line())
    if as_json:
        _dump([asdict(c) for c in checks])
    if any(c.status == "fail" for c in checks):
        sys.exit(1)


# ---------------------------------------------------------------- topics

def _topic_map(pipe, as_json: bool = False):
    say = None if as_json else (lambda msg: click.echo(f"topics: {msg}…", err=True))
    return pipe.topics(progress=say)


def _cited_topics(pipe, a) -> list[dict]:
    """The topics of an answer's cited papers, in citation order: ``[{"id", "label", "papers"}]``."""
    from .topics import cited_topics

    return cited_topics(_topic_map(pipe, True), [c.paper.id for c in a.citations]) if a.citations else []


@main.command()
@click.argument("topic_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@edge
def topics(ctx, topic_id, as_json: bool) -> None:
    """List the corpus's topics (label, size, top terms, counts), or the papers of TOPIC_ID."""
    pipe = _pipeline(ctx)
    tm = _topic_map(pipe, as_json)
    if topic_id is not None:
        t = tm.topic(topic_id)
        papers = [pipe.retriever.by_id[pid] for pid in t.paper_ids if pid in pipe.retriever.by_id]
        if as_json:
            _dump({**t.summary(), "counts": t.counts, "papers": [_paper_json(p) for p in papers]})
            return
        click.echo(f"topic {t.id}: {t.label} ({t.size} papers)")
        click.echo(f"terms: {', '.join(t.terms)}")
        for p in papers:
            meta = " · ".join(str(x) for x in (p.venue, p.year, p.type) if x)
            click.echo(f"- {p.title}  [{meta or 'no venue'}]  id {p.id}")
        return
    if as_json:
        _dump(tm.summary())
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{len(tm.topics)} topics of {tm.papers} papers ({len(tm.outliers)} outliers)")
    for col in ("id", "size", "label", "top terms", "venues · years · types"):
        t.add_column(col, justify="right" if col in ("id", "size") else "left")
    for tp in tm.topics:
        counts = " · ".join(", ".join(f"{k} {v}" for k, v in tp.counts.get(key, {}).items()) for key in ("venue", "year", "type"))
        t.add_row(str(tp.id), str(tp.size), tp.label, ", ".join(tp.terms[:6]), counts)
    Console().print(t)
