"""What the UI's events do, independent of the layout: the chat turn (validation, follow-up
resolution, streaming, errors as chat messages), the papers view and the index panel."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator

import gradio as gr

from rag.errors import RagError
from rag.followup import Turn, resolve
from rag.models import PRESENTATION_TYPES, Paper

from . import render
from .compare import chat_table_markdown
from .map import answer_topics_md, paper_topics_html, topic_id

log = logging.getLogger("ui")

ANY = "Any"
TYPE_ORDER = {t: i for i, t in enumerate(PRESENTATION_TYPES)}


def _user(text: str) -> dict:
    return {"role": "user", "content": render.md_escape(text)}  # markup in a question is shown, not rendered


def _bot(text: str) -> dict:
    return {"role": "assistant", "content": text}


def ui_filters(venues=None, year=None, types=None, topic=None) -> dict:
    """The filter controls' values as retrieval filters (empty ones left out)."""
    out: dict = {}
    if topic_id(topic) is not None:
        out["topic"] = topic_id(topic)
    venues = [v for v in (venues or []) if v and v != ANY] if isinstance(venues, (list, tuple)) else ([venues] if venues and venues != ANY else [])
    if venues:
        out["venue"] = venues
    y = str(year).strip() if year not in (None, "") else ""
    if y and y != ANY:
        out["year"] = y
    types = [t for t in (types or []) if t] if isinstance(types, (list, tuple)) else ([types] if types else [])
    if types:
        out["type"] = types
    return out


def describe_filters(filters: dict) -> str:
    parts = []
    for key in ("venue", "year", "type", "topic"):
        v = filters.get(key)
        if v:
            parts.append(f"{key} {'/'.join(map(str, v)) if isinstance(v, list) else v}")
    return ", ".join(parts)


class ChatService:
    """One per app. ``local_lock`` keeps the local model to one question at a time even when it is
    reached through an endpoint other than the serialized ``chat_local`` one."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.settings = pipeline.settings.answer  # the question limit and the default backend
        self.local_lock = threading.Lock()

    # ------------------------------------------------------------------ corpus facts

    def papers(self) -> list[Paper]:
        return list(self.pipeline.catalog().papers)

    def venues(self) -> set[str]:
        try:
            return set(self.pipeline.catalog().venues)
        except RagError:
            return set()

    def years(self) -> list[int]:
        try:
            return self.pipeline.catalog().years()
        except RagError:
            return []

    # ------------------------------------------------------------------ the chat turn

    def topics(self):
        """The index's topics if they are computed (the Map tab computes them), else None."""
        try:
            return self.pipeline.topics(compute=False)
        except RagError:
            return None

    def respond(self, message, history, state, backend, k, venues, year, types, topic=None, read_filters=True) -> Iterator[tuple]:
        """Yields (chat history, sources HTML, conversation state, question box) as the answer streams."""
        history = list(history or [])
        text = message if isinstance(message, str) else ""
        question = re.sub(r"\s+", " ", text).strip()
        if not question:
            yield history + [_bot(render.EMPTY_QUESTION)], gr.skip(), state, ""
            return
        limit = self.settings.max_question_chars
        if len(question) > limit:
            shown = question[:200] + "…"
            yield history + [_user(shown), _bot(render.too_long(len(question), limit))], gr.skip(), state, text
            return
        history.append(_user(question))
        name = backend or self.settings.backend
        working = "*Searching the papers…*" if name == "extractive" else \
            f"*Searching the papers; the {'local model' if name == 'local' else 'model server'} then writes the answer…*"
        yield history + [_bot(working)], gr.skip(), state, ""
        note = ""
        try:
            res = resolve(question, Turn.from_dict(state), self.venues())
            note = res.note
            filters = {**ui_filters(venues, year, types, topic), **res.filters}
            k = int(k) if k else None
            acquired = False
            if name == "local":
                acquired = self.local_lock.acquire(blocking=False)
                if not acquired:
                    yield history + [_bot(render.streaming_markdown(
                        "", note=note, status="*The local model is answering another question; yours is next in line…*"))], gr.skip(), state, ""
                    self.local_lock.acquire()
                    acquired = True
            try:
                ans = None
                acc = ""
                extra = {} if read_filters in (None, True) else {"read_filters": False}  # the box "Read filters from the question"
                stream = self.pipeline.stream(res.question, backend=name, k=k, **filters, **extra)
                try:
                    for item in stream:
                        if isinstance(item, str):
                            acc += item
                            yield history + [_bot(render.streaming_markdown(acc, note=note))], gr.skip(), state, ""
                        else:
                            ans = item
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            finally:
                if acquired:
                    self.local_lock.release()
            if ans is None:
                raise RuntimeError("the answer stream ended without an answer")
            final = render.answer_markdown(ans, note=note, filters_text=describe_filters(filters))
            read = getattr(ans.retrieved, "read_filters", None)
            if read is not None and read.describe():
                final += (f"\n\n🔎 *Filters read from your question: {render.md_escape(read.describe())}. Untick "
                          "“Read filters from the question” to search without them.*")
            final += answer_topics_md(self.topics(), [c.paper.id for c in ans.citations])
            final += chat_table_markdown(self.pipeline, question, ans)  # a compare/contrast question: the table under it
            new_state = Turn(res.question, render.shown_papers(ans), res.filters).to_dict()
            yield history + [_bot(final)], render.sources_html(ans), new_state, ""
        except RagError as e:  # an error clears the Sources panel: stale sources would look like this answer's
            msg = str(e).strip() or type(e).__name__
            yield history + [_bot(f"⚠️ {render.md_escape(msg[:1].upper() + msg[1:])}")], render.SOURCES_PLACEHOLDER, state, ""
        except Exception:
            log.exception("answering %r failed", question)
            yield history + [_bot(render.GENERIC_ERROR)], render.SOURCES_PLACEHOLDER, state, ""

    # ------------------------------------------------------------------ papers view

    def browse(self, venues, year, types, text, topic=None) -> tuple[list[list], str]:
        """Rows of the papers that match the filters and the title/author text."""
        try:
            r = self.pipeline.catalog()
            needle = (text or "").strip().lower()
            papers = [p for p in r.matching(**ui_filters(venues, year, types, topic)) if not needle or needle in p.title.lower()
                      or any(needle in a.lower() for a in p.authors) or needle == p.id]
        except RagError as e:
            return [], f"⚠️ {render.md_escape(str(e))}"
        papers.sort(key=lambda p: (p.venue or "~", -(p.year or 0), TYPE_ORDER.get(p.type or "", 9), p.title.lower()))
        what = describe_filters(ui_filters(venues, year, types, topic))
        count = f"**{len(papers)}** of {len(r.papers)} papers" + (f" · {render.md_escape(what)}" if what else "")
        if needle:
            count += f" · matching “{render.md_escape(text.strip())}”"
        return render.paper_rows(papers), count

    def paper(self, paper_id: str, k) -> tuple[str, str]:
        """The paper's card and its similar papers (no language model)."""
        pid = (paper_id or "").strip()
        if not pid:
            return '<div class="rag-empty">Select a paper in the table to see it and its most similar papers.</div>', ""
        try:
            p = self.pipeline.catalog().paper(pid)
            if p is None:
                return f'<div class="rag-empty">No paper with id {render.esc(pid)} in the index.</div>', ""
            hits = self.pipeline.similar(pid, int(k or 5))
            return render.paper_detail_html(p) + paper_topics_html(self.topics(), pid), render.similar_html(p, hits)
        except RagError as e:
            return f'<div class="rag-error">⚠️ {render.esc(str(e))}</div>', ""
        except Exception:
            log.exception("similar papers for %s failed", pid)
            return f'<div class="rag-error">{render.esc(render.GENERIC_ERROR)}</div>', ""

    # ------------------------------------------------------------------ index panel

    def index_info(self) -> str:
        try:
            info = self.pipeline.catalog().info()
            try:
                sources = len(self.pipeline.corpus().sources)
            except RagError:
                sources = None
            return render.index_info_md(info, sources)
        except RagError as e:
            return f"⚠️ {render.md_escape(str(e))}"
        except Exception:
            log.exception("reading the index info failed")
            return render.GENERIC_ERROR

    def update_index(self, progress=None) -> str:
        """Bring the index in line with the sources, reporting progress; then use it."""
        def report(done: int, total: int, what: str) -> None:
            if progress is not None:
                progress((done, max(total, 1)), desc=what, unit="papers")

        try:
            if progress is not None:
                progress(0, desc="Reading the sources")
            rep = self.pipeline.index(progress=report)
            self.pipeline.refresh()
            return render.index_report_md(rep)
        except RagError as e:
            return f"⚠️ {render.md_escape(str(e))}"
        except Exception:
            log.exception("updating the index failed")
            return "⚠️ Updating the index failed; see the server log."
