"""``python -m bench``: run every benchmark of the project, each beside its baselines, one after
the other, and write ``bench/RESULTS.md`` (machine, then each benchmark's table).

``python -m bench --only index,answer`` runs a subset; ``--skip ui,load`` leaves some out. A partial
run replaces only its own sections of an existing ``bench/RESULTS.md`` (each section says when and
on what machine it ran); the others are kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name → (module, extra args, results file it writes, or None to keep its stdout)
BENCHES = {
    "index": ("bench.bench_index", [], "results_index.md"),
    "retrieval": ("bench.bench_retrieval", [], "results_retrieval.md"),
    "embed": ("bench.bench_embed", [], "results_embed.md"),
    "embed-remote": ("bench.bench_embed_remote", [], "results_embed_remote.md"),
    "answer": ("bench.bench_answer", [], None),
    "compare": ("bench.bench_compare", ["--local"], None),
    "ui": ("bench.bench_ui", [], "results_ui.md"),
    "load": ("bench.load", ["--n", "200", "--concurrency", "10", "--ui"], "results_load.md"),
    "topics": ("bench.bench_topics", [], "results_topics.md"),
}


def machine() -> str:
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), "?")
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), platform.processor())
    return f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHES))
    ap.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    args = ap.parse_args()
    names = [n for n in (args.only.split(",") if args.only else BENCHES) if n not in args.skip.split(",")]
    if unknown := [n for n in names + [n for n in args.skip.split(",") if n] if n not in BENCHES]:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    sections = previous_sections(HERE / "RESULTS.md") if set(names) != set(BENCHES) else {}
    when = f"{time.strftime('%Y-%m-%d %H:%M %Z')} on {machine()}"
    for name in names:
        module, extra, out = BENCHES[name]
        print(f"== {name}: python -m {module} {' '.join(extra)}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", module, *extra], cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - t
        body = (HERE / out).read_text() if out and (HERE / out).exists() and r.returncode == 0 else r.stdout
        if r.returncode != 0:
            body += f"\n\n(failed with exit code {r.returncode}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''})"
        sections[name] = f"## {name} ({took:.0f} s; {when})\n\n{body.strip()}\n"
    parts = ["# Benchmark results\n\n`python -m bench` (all) or `python -m bench --only NAME,…` (those sections only).\n"
             "Each benchmark measures its baseline in the same run; ratios are the figures to compare.\n"]
    parts += [sections[n] for n in BENCHES if n in sections]
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)


def previous_sections(path: Path) -> dict[str, str]:
    """The ``## name (…)`` sections of an earlier RESULTS.md, by benchmark name."""
    if not path.exists():
        return {}
    names = "|".join(re.escape(n) for n in BENCHES)  # split only at our own headings, not the reports' own
    chunks = re.split(rf"(?m)^(?=## (?:{names}) \()", path.read_text())
    return {m.group(1): c.rstrip() + "\n" for c in chunks if (m := re.match(r"## (\S+) \(", c)) and m.group(1) in BENCHES}


if __name__ == "__main__":
    main()
