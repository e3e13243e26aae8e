"""The Compare tab: pick 2–8 papers (or take them from the last answer's sources or the papers
view), get the comparison table, click a cell to see its source sentence highlighted in the
abstract. Also the table under a chat answer to a compare/contrast question.

Uses the rag public API only (``Pipeline.compare`` and its :class:`~rag.comparison.Table`)."""

from __future__ import annotations

import logging

import gradio as gr

from rag.comparison import LABELS, MAX_PAPERS, is_comparison_question
from rag.errors import RagError
from rag.support import clean_source_text, split_sentences

from .render import esc, md_escape

log = logging.getLogger("ui")

MIN_PICK = 2
EMPTY_DETAIL = '<div class="rag-empty">Click a cell of the table to see the sentence it comes from, highlighted in the abstract.</div>'
EMPTY_TABLE = '<div class="rag-empty">Pick 2 to 8 papers and press Compare.</div>'
CSS = """
#rag-cmp-table td, #rag-cmp-table th { vertical-align: top; min-width: 120px; max-width: 300px; }
#rag-cmp-table td span, #rag-cmp-table th span { font-family: var(--font); font-size: 0.9em; }
#rag-cmp-detail { max-width: 980px; }
.rag-cmp-abstract { font-size: 0.92em; line-height: 1.5; }
.rag-cmp-abstract mark { background: #fef08a; color: #111827; padding: 0 2px; border-radius: 2px; }
.rag-cmp-cell { font-weight: 600; margin: 4px 0; }
"""


def paper_choices(papers) -> list[tuple[str, str]]:
    """(label, id) pairs for the picker: the title with venue and year."""
    out = []
    for p in sorted(papers, key=lambda p: p.title.lower()):
        where = " ".join(str(x) for x in (p.venue, p.year) if x)
        out.append((f"{p.title} ({where})" if where else p.title, p.id))
    return out


def table_rows(table) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts for the table component (a model-written cell is marked ✎)."""
    rows = []
    for r in table.rows:
        cells = [r.title]
        for c in table.columns:
            cell = r.cells[c]
            cells.append((cell.text + (" ✎" if cell.by == "model" else "")) if cell.text else "–")
        rows.append(cells)
    return table.header(), rows


def highlighted_abstract(abstract: str, sentence: str) -> str:
    """The abstract as HTML with ``sentence`` marked (escaped throughout)."""
    parts = []
    for s in split_sentences(clean_source_text(abstract)):
        parts.append(f"<mark>{esc(s)}</mark>" if sentence and s == sentence else esc(s))
    return " ".join(parts)


def cell_detail(table_dict: dict | None, abstracts: dict[str, str], row: int, col: int) -> str:
    """The detail of the clicked cell: what it says, who wrote it, and its sentence in the abstract."""
    if not table_dict or row < 0 or row >= len(table_dict["rows"]):
        return EMPTY_DETAIL
    r = table_dict["rows"][row]
    columns = table_dict["columns"]
    if col <= 0 or col > len(columns):  # the title column: the abstract alone
        return (f'<div class="rag-card-title">{esc(r["title"])}</div>'
                f'<p class="rag-cmp-abstract">{highlighted_abstract(abstracts.get(r["id"], ""), "")}</p>')
    key = columns[col - 1]
    cell = r["cells"][key]
    by = "shortened by the model, checked against the abstract" if cell["by"] == "model" else "extracted from the abstract"
    if not cell["text"]:
        what = '<div class="rag-muted">The abstract does not say.</div>'
    elif cell["sentence"]:
        what = f'<div class="rag-cmp-cell">{esc(cell["text"])}</div><div class="rag-muted">{esc(by)}</div>'
    else:
        what = f'<div class="rag-cmp-cell">{esc(cell["text"])}</div><div class="rag-muted">from the paper\'s record</div>'
    return (f'<div class="rag-card-title">{esc(r["title"])}</div><div class="rag-subhead">{esc(LABELS.get(key, key))}</div>{what}'
            f'<p class="rag-cmp-abstract" id="rag-cmp-abstract">{highlighted_abstract(abstracts.get(r["id"], ""), cell["sentence"])}</p>')


class CompareService:
    """The Compare tab's events around a pipeline."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def choices(self) -> list[tuple[str, str]]:
        try:
            return paper_choices(self.pipeline.catalog().papers)
        except RagError:
            return []

    def run(self, ids, columns: str, shorten: bool):
        """(table update, table state, abstracts state, status, detail) for the picked papers."""
        ids = [i for i in (ids or []) if i]
        if not MIN_PICK <= len(ids) <= MAX_PAPERS:
            return gr.update(value=None), None, {}, f"Pick {MIN_PICK} to {MAX_PAPERS} papers ({len(ids)} picked).", EMPTY_DETAIL
        default = self.pipeline.settings.answer.backend
        backend = (default if default != "extractive" else "local") if shorten else "extractive"
        try:
            table = self.pipeline.compare(ids, columns=(columns or "").strip() or None, backend=backend)
        except RagError as e:
            return gr.update(value=None), None, {}, f"⚠️ {md_escape(str(e))}", EMPTY_DETAIL
        except Exception:
            log.exception("comparing %s failed", ids)
            return gr.update(value=None), None, {}, "⚠️ Comparing failed; see the server log.", EMPTY_DETAIL
        headers, rows = table_rows(table)
        status = f"**{len(table.rows)} papers** compared · cells {'shortened by ' + table.backend if table.backend != 'extractive' else 'extracted'}" \
                 " · click a cell to see its source sentence"
        status += "".join(f"\n\nℹ️ {md_escape(n)}" for n in table.notes)
        abstracts = {r.id: r.paper.abstract for r in table.rows}
        return gr.Dataframe(value={"data": rows, "headers": headers}), table.to_dict(), abstracts, status, EMPTY_DETAIL

    def select(self, table_dict, abstracts, evt: gr.SelectData) -> str:
        try:
            row, col = evt.index
            return cell_detail(table_dict, abstracts or {}, int(row), int(col))
        except (TypeError, ValueError, KeyError, IndexError):
            return EMPTY_DETAIL


def build(svc: CompareService) -> dict:
    """The Compare tab's components (call inside a ``gr.Tab``)."""
    with gr.Row():
        pick = gr.Dropdown(svc.choices(), value=[], multiselect=True, max_choices=MAX_PAPERS, scale=4,
                           label=f"Papers to compare ({MIN_PICK}–{MAX_PAPERS}; type to search titles)", elem_id="rag-cmp-pick")
        columns = gr.Textbox(label="Columns (optional)", placeholder="problem, method, data, result, which datasets?", scale=2,
                             elem_id="rag-cmp-columns")
    with gr.Row():
        shorten = gr.Checkbox(False, label="Shorten cells with the model (each phrase checked against the abstract)",
                              elem_id="rag-cmp-shorten")
        go = gr.Button("Compare", variant="primary", scale=0, min_width=140, elem_id="rag-cmp-go")
    status = gr.Markdown(elem_id="rag-cmp-status")
    table = gr.Dataframe(value=None, datatype="str", type="array", interactive=False, wrap=True, max_height=560,
                         label="Comparison (click a cell)", elem_id="rag-cmp-table")
    detail = gr.HTML(EMPTY_DETAIL, elem_id="rag-cmp-detail", js_on_load=None)
    state, abstracts = gr.State(None), gr.State({})
    outputs = [table, state, abstracts, status, detail]
    go.click(svc.run, [pick, columns, shorten], outputs, api_name="compare", concurrency_limit=1, concurrency_id="compare")
    table.select(svc.select, [state, abstracts], detail, queue=False, api_visibility="private")
    return {"pick": pick, "columns": columns, "shorten": shorten, "go": go, "outputs": outputs}


def ids_from_conversation(state) -> list[str]:
    """The papers of the last answer (cited first), at most :data:`MAX_PAPERS`."""
    papers = (state or {}).get("papers") or []
    return [p["id"] for p in papers if p.get("id")][:MAX_PAPERS]


def add_id(current, pid) -> list[str]:
    ids = [i for i in (current or []) if i]
    pid = (pid or "").strip()
    if pid and pid not in ids and len(ids) < MAX_PAPERS:
        ids.append(pid)
    return ids


def chat_table_markdown(pipeline, question: str, ans) -> str:
    """For a compare/contrast question: the extractive table of the answer's cited papers, as
    Markdown to put under the answer (empty otherwise)."""
    if not is_comparison_question(question) or getattr(ans, "refused", True):
        return ""
    ids = list(dict.fromkeys(c.paper.id for c in ans.citations))[:MAX_PAPERS]
    if len(ids) < MIN_PICK:
        return ""
    try:
        table = pipeline.compare(ids, backend="extractive")
    except RagError as e:
        return f"\n\n⚠️ {md_escape(str(e))}"
    return "\n\n**Side by side** (each cell from the paper's abstract):\n\n" + table.to_markdown()
