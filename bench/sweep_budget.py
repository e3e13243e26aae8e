"""The answer's word budget against facts and length, on tune files.

    python bench/sweep_budget.py 106,96,90 eval/dev_questions.jsonl,eval/blind_a_tune.jsonl,...

For each budget (``rag.compose.MAX_WORDS``), every file is answered extractively and scored as `rag eval`
does; per file: facts, median words, unsupported shown, false refusal, gold in top k cited; then the facts
pooled over the files (found / all). Only tune files may be passed: a figure measured on a file used for
choosing is a tuning figure.
"""

from __future__ import annotations

import os
import statistics as st
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import rag.compose as compose  # noqa: E402
from rag.evaluate import eval_answers, load_questions  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.text import words  # noqa: E402


def main() -> None:
    budgets = [int(b) for b in sys.argv[1].split(",")]
    files = sys.argv[2].split(",")
    pipe = Pipeline(Settings())
    questions = {f: load_questions(Path(f)) for f in files}
    for budget in budgets:
        compose.evidence_lines.__defaults__ = (budget, None)
        found = total = unsupported = 0
        lengths: list[int] = []
        for f, qs in questions.items():
            r = eval_answers(pipe, qs, "extractive")
            facts = {q.id: q.answer_facts for q in qs}
            for row in r["questions"]:
                total += len(facts[row["id"]])
                found += len(facts[row["id"]]) - len(row.get("missing_facts") or [])
                if not row["refused"]:
                    lengths.append(len(words(row["answer"])))
            unsupported += r["unsupported_shown"]
            print(f"  budget {budget} {f}: facts {r['facts']:.3f} median words {r['median_words']} unsupported {r['unsupported_shown']} "
                  f"false refusal {r['false_refusal']:.3f} gold in top k cited {r['gold_recall']:.3f}", flush=True)
        pooled = f"{found / total:.3f} ({found}/{total})" if total else "-"
        print(f"budget {budget}: pooled facts {pooled}, median words {st.median(lengths) if lengths else 0}, unsupported {unsupported}", flush=True)


if __name__ == "__main__":
    main()
