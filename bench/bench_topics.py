"""Topics of the corpus: time a full recompute (UMAP + HDBSCAN + labels + 2-D map, first call in a
fresh process, numba's compilation included, then again warm) beside a k-means baseline on the same
vectors with the same number of clusters; quality as NPMI coherence of each one's top-10 terms over
the abstracts, the outlier share and the 10 largest topics; then the Map tab's render time in
Chromium (tab click → every paper drawn).

Run: ``.venv/bin/python -m bench.bench_topics`` (uses ``RAG_INDEX_DIR``; builds the index if missing).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"


def map_render_seconds(pipeline, runs: int = 3) -> list[float]:
    """Seconds from clicking the Map tab to every paper drawn, in a fresh page each run."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import free_port
    from ui.app import create_app, launch

    app = create_app(pipeline)
    port = free_port()
    launch(app, pipeline.settings.ui, "127.0.0.1", port, block=False, quiet=True)
    n = pipeline.topics().papers
    out = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1480, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("#rag-question textarea")
                t0 = time.perf_counter()
                page.get_by_role("tab", name="Map").click()
                page.wait_for_function("(n) => document.querySelectorAll('#rag-map-plot .scatterlayer .point').length >= n", arg=n)
                out.append(time.perf_counter() - t0)
                page.close()
            browser.close()
    finally:
        app.close()
    return out


def main() -> str:
    from rag.pipeline import Pipeline
    from rag.settings import Settings
    from rag.topics import compute_topics, doc_text, kmeans_topics, npmi

    pipe = Pipeline(Settings())
    r = pipe.retriever
    papers = list(r.papers)
    vectors = r.store.paper_matrix([p.id for p in papers])
    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - w, time.process_time() - c

    tm, cold, cold_cpu = timed(lambda: compute_topics(papers, vectors))
    again, warm, warm_cpu = timed(lambda: compute_topics(papers, vectors))
    km_terms, km, km_cpu = timed(lambda: kmeans_topics(papers, vectors, len(tm.topics)))
    load = os.getloadavg()[0]
    abstracts = [p.abstract for p in papers]
    ours = npmi([t.terms for t in tm.topics], abstracts)
    base = npmi(km_terms, abstracts)
    ours_docs = npmi([t.terms for t in tm.topics], [doc_text(p) for p in papers])
    base_docs = npmi(km_terms, [doc_text(p) for p in papers])
    renders = map_render_seconds(pipe) if os.access(CHROMIUM, os.X_OK) else []

    lines = [f"{len(papers)} papers, {vectors.shape[1]}-d vectors from the index; {os.cpu_count()} cores shared with other jobs "
             f"(load average {load:.1f} at the end of the topic runs: wall times are inflated, CPU seconds less so).", "",
             "| clustering | topics | outliers | NPMI top-10 terms (abstracts) | NPMI (titles + abstracts) | wall s | CPU s |",
             "|---|---:|---:|---:|---:|---:|---:|",
             f"| UMAP + HDBSCAN + c-TF-IDF (ours), first call in a process (numba compiles) | {len(tm.topics)} | {len(tm.outliers)} "
             f"({len(tm.outliers) / len(papers):.1%}) | {ours:.3f} | {ours_docs:.3f} | {cold:.1f} | {cold_cpu:.1f} |",
             f"| the same, again (compiled) | {len(again.topics)} | {len(again.outliers)} | | | {warm:.1f} | {warm_cpu:.1f} |",
             f"| k-means (k = {len(tm.topics)}, 10 inits) + the same c-TF-IDF | {len(tm.topics)} | 0 | {base:.3f} | {base_docs:.3f} "
             f"| {km:.1f} | {km_cpu:.1f} |",
             "", f"Same topics on the second call: {again.assignment == tm.assignment}.", ""]
    if renders:
        lines += [f"Map tab in Chromium (click → all {len(papers)} points drawn), {len(renders)} fresh pages: median "
                  f"{statistics.median(renders):.2f} s, max {max(renders):.2f} s.", ""]
    lines += ["The 10 largest topics:", "", "| id | papers | label |", "|---:|---:|---|"]
    lines += [f"| {t.id} | {t.size} | {t.label} |" for t in tm.topics[:10]]
    text = "\n".join(lines) + "\n"
    (HERE / "results_topics.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.stdout.write(main())
