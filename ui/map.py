"""The Map tab: every paper on a 2-D map coloured by topic (plotly), a search box that highlights
matches, a topic picker that shows the topic's papers and its venue/year/type bars and can scope the
next chat question to it, the papers cited by the last answer marked, and the corpus's trends
(orals/spotlights per topic, topics that grew or shrank between years and venues).

Everything comes from rag's public API: ``Pipeline.topics()`` (a :class:`rag.topics.TopicMap`), the
functions of :mod:`rag.topics` and the pipeline's paper records. :func:`map_tab` builds the
components inside the app's ``gr.Tabs``; :meth:`MapTab.wire` connects them to the Ask tab.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rag import Pipeline
from rag.errors import RagError
from rag.topics import OUTLIER, TopicMap, shifts

from . import render

log = logging.getLogger("ui")

ANY_TOPIC = "Any"
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
MIN_GROUP = 20  # years and venues with fewer papers are left out of the grew/shrank table
LABELLED = 14  # topics whose label is written on the map (the largest)
TOPIC_HEADERS = ["Title", "Venue", "Year", "Type", "Id"]
SHIFT_HEADERS = ["Topic", "From", "To", "Share before", "Share after", "Change (points)"]


def topic_choice(t) -> str:
    return f"{t.id} · {t.label} ({t.size})"


def topic_choices(tm: TopicMap | None) -> list[str]:
    return [ANY_TOPIC] + ([topic_choice(t) for t in tm.topics] if tm else [])


def topic_id(choice) -> int | None:
    """The topic id of a picker value (``"3 · Label (12)"`` or ``"3"``); None for Any or nothing."""
    text = str(choice or "").strip()
    if not text or text == ANY_TOPIC:
        return None
    head = text.split("·", 1)[0].strip()
    try:
        return int(head)
    except ValueError:
        return None


def cited_ids(state) -> list[str]:
    """The ids of the papers the last answer cited (from the conversation state)."""
    papers = (state or {}).get("papers") or []
    return [p["id"] for p in papers if isinstance(p, dict) and p.get("n") is not None and p.get("id")]


def _hover(p) -> str:
    where = " ".join(str(x) for x in (p.venue, p.year) if x) or "no venue"
    return f"<b>{render.esc(p.title)}</b><br>{render.esc(where)} · {render.esc(p.type or 'no type')}"


def map_figure(tm: TopicMap, by_id: dict, *, search: str = "", selected: int | None = None,
               cited: list[str] | tuple = ()) -> go.Figure:
    """The map: a trace per topic (outliers grey), labels at the topics' centres, search matches
    ringed, cited papers starred; with a topic selected the others fade."""
    fig = go.Figure()
    groups = [(t.id, t.label, t.paper_ids) for t in tm.topics] + [(OUTLIER, "outliers", tm.outliers)]
    for tid, label, ids in groups:
        ids = [i for i in ids if i in tm.points and i in by_id]
        if not ids:
            continue
        color = "#c7c7c7" if tid == OUTLIER else PALETTE[tid % len(PALETTE)]
        faded = selected is not None and tid != selected
        fig.add_trace(go.Scatter(
            x=[tm.points[i][0] for i in ids], y=[tm.points[i][1] for i in ids], mode="markers",
            name=f"{tid} · {label}" if tid != OUTLIER else "outliers", customdata=ids,
            marker={"size": 6 if not faded else 5, "color": color, "opacity": 0.15 if faded else 0.8},
            hovertext=[_hover(by_id[i]) for i in ids], hoverinfo="text"))
    needle = (search or "").strip().lower()
    if needle:
        hits = [i for i, p in by_id.items() if i in tm.points and (needle in p.title.lower() or needle in p.abstract.lower()
                                                                   or any(needle in a.lower() for a in p.authors))]
        fig.add_trace(go.Scatter(x=[tm.points[i][0] for i in hits], y=[tm.points[i][1] for i in hits], mode="markers",
                                 name=f"matches “{search.strip()}” ({len(hits)})", hovertext=[_hover(by_id[i]) for i in hits],
                                 hoverinfo="text", marker={"size": 11, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "#111827"}}))
    cited = [i for i in cited if i in tm.points and i in by_id]
    if cited:
        fig.add_trace(go.Scatter(x=[tm.points[i][0] for i in cited], y=[tm.points[i][1] for i in cited], mode="markers",
                                 name="cited by the last answer", hovertext=[_hover(by_id[i]) for i in cited], hoverinfo="text",
                                 marker={"size": 16, "symbol": "star", "color": "#facc15", "line": {"width": 1.5, "color": "#111827"}}))
    shown = sorted(tm.topics, key=lambda t: -t.size)[:LABELLED]
    if selected is not None:
        shown = [t for t in tm.topics if t.id == selected] or shown
    for t in shown:
        fig.add_annotation(x=t.x, y=t.y, text=render.esc(t.label), showarrow=False,
                           font={"size": 12 if t.id == selected else 10, "color": "#111827"},
                           bgcolor="rgba(255,255,255,0.75)", borderpad=2)
    fig.update_layout(height=620, margin={"l": 10, "r": 10, "t": 10, "b": 10}, hovermode="closest",
                      legend={"font": {"size": 10}, "itemsizing": "constant"}, plot_bgcolor="white",
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def topic_bars(tm: TopicMap, tid: int) -> go.Figure:
    """The topic's papers by venue, year and presentation type."""
    t = tm.topic(tid)
    fig = make_subplots(rows=1, cols=3, subplot_titles=("venue", "year", "type"))
    for col, key in enumerate(("venue", "year", "type"), start=1):
        counts = t.counts.get(key, {})
        fig.add_trace(go.Bar(x=list(counts), y=list(counts.values()), marker_color=PALETTE[tid % len(PALETTE)],
                             showlegend=False, name=key), row=1, col=col)
    fig.update_xaxes(type="category")
    fig.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, plot_bgcolor="white")
    return fig


def trends_figure(tm: TopicMap, top: int = 20) -> go.Figure:
    """Per topic (the largest ``top``): the share of its papers that are orals, spotlights, posters
    (bars), and the share from each venue and each year (heat map)."""
    topics = sorted(tm.topics, key=lambda t: -t.size)[:top][::-1]
    names = [f"{t.id} · {t.label}" for t in topics]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.5, 0.5], horizontal_spacing=0.02,
                        subplot_titles=("presentation type", "venue and year"))
    for kind, color in (("Oral", "#f59e0b"), ("Spotlight", "#3b82f6"), ("Poster", "#9ca3af")):
        fig.add_trace(go.Bar(y=names, x=[t.counts.get("type", {}).get(kind, 0) / max(t.size, 1) for t in topics],
                             name=kind, orientation="h", marker_color=color), row=1, col=1)
    cols = [(key, v) for key in ("venue", "year") for v in sorted({v for t in tm.topics for v in t.counts.get(key, {})}) if v != "unknown"]
    z = [[t.counts.get(key, {}).get(v, 0) / max(t.size, 1) for key, v in cols] for t in topics]
    fig.add_trace(go.Heatmap(z=z, x=[v for _, v in cols], y=names, colorscale="Blues", zmin=0, zmax=1, showscale=False,
                             hovertemplate="%{y}<br>%{x}: %{z:.0%} of its papers<extra></extra>"), row=1, col=2)
    fig.update_xaxes(tickformat=".0%", row=1, col=1)
    fig.update_xaxes(type="category", row=1, col=2)
    fig.update_layout(barmode="stack", height=max(300, 22 * len(topics) + 80), margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      plot_bgcolor="white", legend={"orientation": "h", "y": -0.08})
    return fig


def shift_rows(tm: TopicMap, papers: list) -> list[list]:
    """Topics that grew or shrank between the years and between the venues of the corpus."""
    rows = shifts(tm, papers, "year", min_group=MIN_GROUP) + shifts(tm, papers, "venue", min_group=MIN_GROUP)
    rows.sort(key=lambda r: -abs(r["change"]))
    return [[f"{r['topic']} · {r['label']}", r["from"], r["to"], f"{r['share_from']:.1%}", f"{r['share_to']:.1%}",
             f"{100 * r['change']:+.1f}"] for r in rows[:15]]


def topic_summary_md(t) -> str:
    counts = " · ".join(", ".join(f"{k} {v}" for k, v in t.counts.get(key, {}).items()) for key in ("venue", "year", "type"))
    return (f"**Topic {t.id}: {render.md_escape(t.label)}** ({t.size} papers)  \n"
            f"Top terms: {render.md_escape(', '.join(t.terms))}  \n{render.md_escape(counts)}")


def paper_topics_html(tm: TopicMap | None, paper_id: str) -> str:
    """A paper's topic and its nearest other topics (for the papers view)."""
    if tm is None or paper_id not in tm.assignment:
        return ""
    t = tm.topic_of(paper_id)
    own = f"{t.id} · {render.esc(t.label)}" if t else "none (an outlier)"
    near = ", ".join(f"{n.id} · {render.esc(n.label)}" for n in tm.nearest_topics(paper_id))
    return (f'<div class="rag-topics rag-muted" data-topic="{t.id if t else OUTLIER}">Topic: <b>{own}</b>'
            + (f"<br>Nearest topics: {near}" if near else "") + "</div>")


def answer_topics_md(tm: TopicMap | None, paper_ids: list[str]) -> str:
    """The small line under an answer naming the topics of its cited papers."""
    if tm is None or not paper_ids:
        return ""
    from rag.topics import cited_topics

    names = [f"{render.md_escape(t['label'])} (topic {t['id']})" for t in cited_topics(tm, paper_ids)]
    return f"\n\n<sub>Topics: {'; '.join(names)}</sub>" if names else ""


# ---------------------------------------------------------------------------------------------- the tab

@dataclass
class MapTab:
    """The Map tab's components and the service behind them."""

    pipeline: Pipeline
    tab: gr.Tab
    search: gr.Textbox
    picker: gr.Dropdown
    ask_btn: gr.Button
    plot: gr.Plot
    status: gr.Markdown
    info: gr.Markdown
    bars: gr.Plot
    papers: gr.Dataframe
    trends: gr.Plot
    shifts: gr.Dataframe

    def _topics(self, progress=None) -> TopicMap:
        return self.pipeline.topics(progress=progress)

    def render(self, search, choice, state, progress=gr.Progress()):
        """Everything the tab shows (computing the topics first if the index changed)."""
        try:
            tm = self._topics(progress=lambda msg: progress(None, desc=f"Topics: {msg}…"))
            r = self.pipeline.catalog()
            tid = topic_id(choice)
            if tid is not None and tid not in {t.id for t in tm.topics}:
                tid = None
            fig = map_figure(tm, r.by_id, search=search or "", selected=tid, cited=cited_ids(state))
            status = (f"**{len(tm.topics)}** topics of {tm.papers} papers · {len(tm.outliers)} outliers"
                      + (f" · {len(cited_ids(state))} cited by the last answer (★)" if cited_ids(state) else ""))
            picker = gr.update(choices=topic_choices(tm), value=topic_choice(tm.topic(tid)) if tid is not None else ANY_TOPIC)
            if tid is None:
                info, bars, rows = "Pick a topic to see its papers and ask about it.", None, []
            else:
                t = tm.topic(tid)
                info, bars = topic_summary_md(t), topic_bars(tm, tid)
                rows = [[p.title, p.venue or "", p.year or "", p.type or "", p.id] for p in (r.by_id[i] for i in t.paper_ids if i in r.by_id)]
            return (fig, status, picker, info, bars, rows, trends_figure(tm), shift_rows(tm, list(r.papers)),
                    gr.update(interactive=tid is not None), gr.update(choices=topic_choices(tm)))
        except RagError as e:
            return (None, f"⚠️ {render.md_escape(str(e))}", gr.skip(), "", None, [], None, [], gr.update(interactive=False), gr.skip())
        except Exception:
            log.exception("rendering the map failed")
            return (None, render.GENERIC_ERROR, gr.skip(), "", None, [], None, [], gr.update(interactive=False), gr.skip())

    def wire(self, *, tabs, topic, conversation) -> None:
        """Connect to the Ask tab: its topic filter ``topic`` and the ``conversation`` state."""
        outputs = [self.plot, self.status, self.picker, self.info, self.bars, self.papers, self.trends, self.shifts, self.ask_btn, topic]
        inputs = [self.search, self.picker, conversation]
        gr.on([self.tab.select, self.search.submit, self.picker.input], self.render, inputs, outputs, api_name="map",
              concurrency_limit=1, concurrency_id="map")

        def scope(choice):
            if topic_id(choice) is None:
                return gr.skip(), gr.skip()
            return gr.update(value=choice), gr.Tabs(selected="ask")

        self.ask_btn.click(scope, self.picker, [topic, tabs], queue=False, api_visibility="private")


def map_tab(pipeline) -> MapTab:
    """Build the Map tab (call inside the app's ``gr.Tabs``)."""
    with gr.Tab("Map", id="map", elem_id="rag-tab-map") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                with gr.Row():
                    search = gr.Textbox(label="Highlight papers containing", placeholder="e.g. diffusion, Bengio… (Enter)",
                                        scale=3, elem_id="rag-map-search")
                    picker = gr.Dropdown([ANY_TOPIC], value=ANY_TOPIC, label="Topic", scale=3, elem_id="rag-map-topic",
                                         allow_custom_value=True)
                    ask_btn = gr.Button("Ask about this topic", variant="primary", scale=1, interactive=False,
                                        elem_id="rag-map-ask")
                status = gr.Markdown("Open this tab to draw the map of the corpus.", elem_id="rag-map-status")
                plot = gr.Plot(label="Papers by topic (hover for title, venue, type)", elem_id="rag-map-plot")
            with gr.Column(scale=2, min_width=340):
                info = gr.Markdown(elem_id="rag-map-info")
                bars = gr.Plot(label="The topic by venue, year and type", elem_id="rag-map-bars")
                papers = gr.Dataframe(headers=TOPIC_HEADERS, datatype="str", type="array", interactive=False, wrap=True,
                                      max_height=320, label="The topic's papers", elem_id="rag-map-papers")
        gr.Markdown("### Trends")
        with gr.Row(equal_height=False):
            trends = gr.Plot(label="Per topic: orals and spotlights, venues and years", elem_id="rag-map-trends")
            shifts_df = gr.Dataframe(headers=SHIFT_HEADERS, datatype="str", type="array", interactive=False, wrap=True,
                                     label="Topics that grew or shrank between years and venues", elem_id="rag-map-shifts")
    return MapTab(pipeline, tab, search, picker, ask_btn, plot, status, info, bars, papers, trends, shifts_df)
