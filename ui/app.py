"""The Gradio app: :func:`create_app` builds it around a pipeline; :func:`launch` serves it.

Tabs: **Ask** (chat with streamed answers, the cited papers beside them, backend, k and filter
controls), **Papers** (browse and filter the corpus, similar papers; no language model), **Map**
(the topics of the corpus on a 2-D map, trends; see :mod:`ui.map`) and **Index** (what is indexed,
and an update from the sources with progress).

Queueing: a question is dispatched in the browser to one of two events by the chosen backend.
``chat`` (extractive and configured-server answers) runs several at a time; ``chat_local`` runs
one at a time (``concurrency_limit=1``), so users of the local model, whose llama.cpp object is
not thread-safe, wait in Gradio's queue and see their position. A lock in
:class:`~ui.chat.ChatService` guards the local model as well, for API callers who send a local
question to ``chat``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.generate import GENERATORS  # noqa: E402
from rag.models import PRESENTATION_TYPES  # noqa: E402

from . import compare as compare_ui  # noqa: E402
from . import render  # noqa: E402
from .chat import ANY, ChatService  # noqa: E402
from .map import map_tab, topic_choices  # noqa: E402

CHAT_CONCURRENCY = 4  # extractive / configured-server answers at once
QUEUE_SIZE = 64
BACKEND_LABELS = {"local": "Local model", "openai": "Configured server", "extractive": "Extractive (no model)"}
BACKEND_CHOICES = [(BACKEND_LABELS.get(name, name), name) for name in GENERATORS]
EXAMPLES = [
    "Which papers study pruning neural networks at initialization?",
    "Which papers analyze what protein language models learn about protein structure?",
    "Who wrote the paper on score-based generative modeling with SDEs?",
]

# Send the question to the event of its backend (see the module docstring).
DISPATCH_JS = """
(backend) => {
  const id = backend === "local" ? "rag-go-local" : "rag-go-fast";
  const el = document.getElementById(id);
  const btn = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
  if (btn) { btn.click(); }
  return [];
}
"""

CSS = """
.gradio-container { max-width: 1600px !important; }
#rag-title h1 { margin-bottom: 0; }
#rag-title p { margin-top: 2px; color: var(--body-text-color-subdued); }
#rag-sources { max-height: 640px; overflow-y: auto; }
.rag-sources { display: flex; flex-direction: column; gap: 10px; }
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
            background: var(--background-fill-secondary); }
.rag-card-title { font-weight: 600; font-size: 1.02em; line-height: 1.3; }
.rag-card-title a, .rag-li-title a { color: var(--link-text-color); text-decoration: none; }
.rag-card-title a:hover, .rag-li-title a:hover { text-decoration: underline; }
.rag-n { color: var(--color-accent); font-weight: 700; margin-right: 4px; }
.rag-authors { font-size: 0.88em; margin: 3px 0; color: var(--body-text-color-subdued); }
.rag-badges { display: inline-flex; flex-wrap: wrap; gap: 4px; margin: 3px 0; }
.rag-badge { font-size: 0.75em; padding: 1px 7px; border-radius: 10px; background: var(--background-fill-primary);
             border: 1px solid var(--border-color-primary); white-space: nowrap; }
.rag-when { white-space: normal !important; }
.rag-type-oral { background: #fde68a; border-color: #f59e0b; color: #78350f; }
.rag-type-spotlight { background: #bfdbfe; border-color: #3b82f6; color: #1e3a8a; }
.rag-type-poster { background: #e5e7eb; border-color: #9ca3af; color: #374151; }
.rag-abstract summary, .rag-rest summary { cursor: pointer; font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-abstract p, .rag-abstract-text { font-size: 0.9em; line-height: 1.45; margin: 6px 0 0 0; }
.rag-sources mark, .rag-meta-evidence mark { background: #fef08a; color: #111827; padding: 0 2px; border-radius: 2px; }
.rag-meta-evidence { font-size: 0.88em; margin: 4px 0; }
.rag-rest ol, .rag-similar ol { margin: 6px 0 0 0; padding-left: 22px; font-size: 0.9em; }
.rag-rest li, .rag-similar li { margin-bottom: 4px; }
.rag-refused { padding: 8px 10px; border-radius: 6px; background: #fee2e2; color: #7f1d1d; }
.rag-empty, .rag-muted { color: var(--body-text-color-subdued); font-size: 0.9em; }
.rag-error { color: #b91c1c; }
.rag-subhead { font-weight: 600; margin: 8px 0 4px 0; }
#rag-p-table span.text, #rag-p-table span.header { font-family: var(--font); }
#rag-index-panel { max-width: 760px; }
.rag-link { font-size: 0.75em; margin-left: 4px; }
@media (max-width: 900px) {  /* phones: the conversation first, then its sources, then the settings */
  #rag-chat-col { order: 1; } #rag-sources-col { order: 2; } #rag-controls { order: 3; }
}
"""


def _theme():
    # system fonts: the browser fetches nothing from outside the app
    fonts = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", font=fonts, font_mono=mono)


def create_app(pipeline) -> gr.Blocks:
    """The Gradio Blocks app around ``pipeline`` and its settings (nothing is served until :func:`launch`)."""
    settings = pipeline.settings
    svc = ChatService(pipeline)
    venues = sorted(svc.venues())
    years = [ANY] + [str(y) for y in sorted(svc.years(), reverse=True)]
    default_backend = settings.answer.backend
    topics = topic_choices(svc.topics())

    with gr.Blocks(title="Ask the papers", analytics_enabled=False, fill_width=True) as app:
        app.rag_service = svc  # for tests and embedding applications
        conversation = gr.State(None)
        gr.Markdown("# Ask the papers\nQuestions about the indexed ML papers, answered with checked citations.",
                    elem_id="rag-title")
        cmp_svc = compare_ui.CompareService(pipeline)
        with gr.Tabs(elem_id="rag-tabs") as tabs:
            # ---------------------------------------------------------------- Ask
            with gr.Tab("Ask", id="ask", elem_id="rag-tab-ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=250, elem_id="rag-controls"):
                        backend = gr.Radio(BACKEND_CHOICES, value=default_backend, label="Answer with", elem_id="rag-backend")
                        backend_md = gr.Markdown(render.backend_info(settings.answer, default_backend), elem_id="rag-backend-info")
                        k = gr.Slider(1, 20, value=settings.retrieval.k, step=1, label="Papers to retrieve (k)", elem_id="rag-k")
                        gr.Markdown("**Filters**")
                        venue = gr.Dropdown(venues, value=[], multiselect=True, label="Venue", elem_id="rag-venue")
                        year = gr.Dropdown(years, value=ANY, allow_custom_value=True, label="Year",
                                           info="a year, a range like 2021-2022, or >=2022", elem_id="rag-year")
                        ptype = gr.CheckboxGroup(list(PRESENTATION_TYPES), value=[], label="Presentation type", elem_id="rag-type")
                        topic = gr.Dropdown(topics, value=ANY, allow_custom_value=True, label="Topic", elem_id="rag-topic",
                                            info="from the Map tab")
                        read_q = gr.Checkbox(value=settings.retrieval.read_query_filters, label="Read filters from the question",
                                             info="“ICLR 2021 orals on …”, “papers by …”", elem_id="rag-read-filters")
                        new_chat = gr.Button("New conversation", variant="secondary", size="sm", elem_id="rag-new")
                    with gr.Column(scale=3, min_width=420, elem_id="rag-chat-col"):
                        chatbot = gr.Chatbot(label="Conversation", height=560, elem_id="rag-chat", latex_delimiters=[],
                                             feedback_options=None, buttons=["copy"], layout="bubble",
                                             placeholder="Ask about the papers: methods, results, who wrote what, which were orals…")
                        with gr.Row():
                            msg = gr.Textbox(show_label=False, placeholder="Ask a question about the papers…", scale=6,
                                             max_lines=6, autofocus=True, elem_id="rag-question", submit_btn=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rag-send")
                        gr.Examples(EXAMPLES, inputs=[msg], label="Try")
                    with gr.Column(scale=2, min_width=320, elem_id="rag-sources-col"):
                        gr.Markdown("### Sources")
                        compare_sources = gr.Button("Compare these papers", size="sm", elem_id="rag-compare-sources")
                        sources = gr.HTML(render.SOURCES_PLACEHOLDER, elem_id="rag-sources", js_on_load=None)
                go_fast = gr.Button("ask", visible="hidden", elem_id="rag-go-fast")
                go_local = gr.Button("ask locally", visible="hidden", elem_id="rag-go-local")

            # ---------------------------------------------------------------- Papers
            with gr.Tab("Papers", id="papers", elem_id="rag-tab-papers"):
                with gr.Row():
                    p_venue = gr.Dropdown(venues, value=[], multiselect=True, label="Venue", scale=1, elem_id="rag-p-venue")
                    p_year = gr.Dropdown(years, value=ANY, allow_custom_value=True, label="Year", scale=1, elem_id="rag-p-year")
                    p_type = gr.CheckboxGroup(list(PRESENTATION_TYPES), value=[], label="Presentation type", scale=2,
                                              elem_id="rag-p-type")
                    p_text = gr.Textbox(label="Title or author contains", scale=2, elem_id="rag-p-text")
                    p_topic = gr.Dropdown(topics, value=ANY, allow_custom_value=True, label="Topic", scale=2, elem_id="rag-p-topic")
                p_count = gr.Markdown(elem_id="rag-p-count")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        p_table = gr.Dataframe(headers=render.PAPER_HEADERS, datatype="str", type="array", interactive=False,
                                               wrap=True, max_height=560, column_widths=["42%", "24%", "8%", "7%", "9%", "10%"],
                                               label="Papers (select a row for details and similar papers)", elem_id="rag-p-table")
                    with gr.Column(scale=2):
                        p_id = gr.Textbox(label="Paper id", elem_id="rag-p-id")
                        p_k = gr.Slider(1, 20, value=5, step=1, label="Similar papers", elem_id="rag-p-k")
                        p_detail = gr.HTML('<div class="rag-empty">Select a paper in the table to see it and its most similar papers.</div>',
                                           elem_id="rag-p-detail", js_on_load=None)
                        p_similar = gr.HTML("", elem_id="rag-p-similar", js_on_load=None)
                        p_compare = gr.Button("Add to comparison", size="sm", elem_id="rag-p-compare")

            # ---------------------------------------------------------------- Compare
            with gr.Tab("Compare", id="compare", elem_id="rag-tab-compare"):
                cmp = compare_ui.build(cmp_svc)

            map_ui = map_tab(pipeline)

            # ---------------------------------------------------------------- Index
            with gr.Tab("Index", id="index", elem_id="rag-tab-index"), gr.Column(elem_id="rag-index-panel"):
                gr.Markdown("### The index\nAnswers come from these papers. Updating reads the sources in the manifest "
                            "and embeds only new or changed papers; questions keep working meanwhile.")
                idx_info = gr.Markdown(elem_id="rag-index-info")
                with gr.Row():
                    idx_update = gr.Button("Update the index from the sources", variant="primary", scale=0, min_width=280,
                                           elem_id="rag-index-update")
                    idx_refresh = gr.Button("Refresh", scale=0, min_width=100, elem_id="rag-index-refresh")
                idx_report = gr.Markdown(elem_id="rag-index-report")

        # ---------------------------------------------------------------- events
        chat_inputs = [msg, chatbot, conversation, backend, k, venue, year, ptype, topic, read_q]
        chat_outputs = [chatbot, sources, conversation, msg]
        gr.on([msg.submit, send.click], fn=None, inputs=[backend], outputs=None, js=DISPATCH_JS, queue=False,
              api_visibility="private")
        go_fast.click(svc.respond, chat_inputs, chat_outputs, api_name="chat", concurrency_limit=CHAT_CONCURRENCY,
                      concurrency_id="chat", show_progress="minimal")
        go_local.click(svc.respond, chat_inputs, chat_outputs, api_name="chat_local", concurrency_limit=1,
                       concurrency_id="local-model", show_progress="full")
        new_chat.click(lambda: ([], render.SOURCES_PLACEHOLDER, None, ""), None, [chatbot, sources, conversation, msg],
                       queue=False, api_visibility="private")
        chatbot.clear(lambda: (render.SOURCES_PLACEHOLDER, None), None, [sources, conversation], queue=False,
                      api_visibility="private")
        backend.change(lambda b: render.backend_info(settings.answer, b), backend, backend_md, queue=False, api_visibility="private")

        browse_inputs = [p_venue, p_year, p_type, p_text, p_topic]
        gr.on([app.load, p_venue.change, p_year.change, p_type.change, p_text.submit, p_topic.input], svc.browse, browse_inputs,
              [p_table, p_count], api_name="papers", concurrency_limit=CHAT_CONCURRENCY, concurrency_id="browse")

        def pick(rows, evt: gr.SelectData):
            try:
                return rows[evt.index[0]][-1]
            except (IndexError, TypeError, KeyError):
                return gr.skip()

        p_table.select(pick, p_table, p_id, queue=False, api_visibility="private")
        gr.on([p_id.change, p_k.release], svc.paper, [p_id, p_k], [p_detail, p_similar], api_name="similar",
              concurrency_limit=CHAT_CONCURRENCY, concurrency_id="browse")

        map_ui.wire(tabs=tabs, topic=topic, conversation=conversation)
        compare_sources.click(lambda st: (compare_ui.ids_from_conversation(st), gr.Tabs(selected="compare")), conversation,
                              [cmp["pick"], tabs], queue=False, api_visibility="private").then(
            cmp_svc.run, [cmp["pick"], cmp["columns"], cmp["shorten"]], cmp["outputs"], concurrency_limit=1, concurrency_id="compare")
        p_compare.click(compare_ui.add_id, [cmp["pick"], p_id], cmp["pick"], queue=False, api_visibility="private")

        gr.on([app.load, idx_refresh.click], svc.index_info, None, idx_info, api_name="index_info", concurrency_limit=None)

        def update(progress=gr.Progress()):
            report = svc.update_index(progress)
            vs = sorted(svc.venues())
            ys = [ANY] + [str(y) for y in sorted(svc.years(), reverse=True)]
            return (report, svc.index_info(), gr.update(choices=vs), gr.update(choices=vs), gr.update(choices=ys),
                    gr.update(choices=ys))

        idx_update.click(update, None, [idx_report, idx_info, venue, p_venue, year, p_year], api_name="update_index",
                         concurrency_limit=1, concurrency_id="index")

    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CHAT_CONCURRENCY)
    return app


def launch(app: gr.Blocks, settings, host: str | None = None, port: int | None = None, *, block: bool = True,
           quiet: bool = False):
    """Serve ``app`` on ``host:port`` (default: the ``ui`` settings section's, 127.0.0.1:7860). Auth is on
    when ``settings.ui_username`` and ``settings.ui_password`` are both set. No files are served beyond
    Gradio's own assets. With ``block=False`` it returns once the server is up."""
    auth = None
    if settings.ui_username and settings.ui_password is not None and settings.ui_password.get_secret_value():
        auth = (settings.ui_username, settings.ui_password.get_secret_value())
    return app.launch(
        server_name=host or settings.ui_host,
        server_port=port or settings.ui_port,
        auth=auth,
        auth_message="Sign in to ask the papers." if auth else None,
        share=False,
        inbrowser=False,
        show_error=False,
        prevent_thread_lock=not block,
        quiet=quiet,
        allowed_paths=[],
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=["api"],
        css=CSS + compare_ui.CSS,
        theme=_theme(),
    )
