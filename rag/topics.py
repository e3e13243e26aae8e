"""Topics of the corpus: clusters of the paper vectors already in the index, labelled, counted and
laid out on a 2-D map.

- **Vectors**: each paper's stored embedding (the normalized mean of its chunk vectors, see
  :mod:`rag.store`); nothing is embedded again.
- **Clusters**: UMAP (``umap-learn``) to 5 dimensions, then HDBSCAN (scikit-learn) on those; papers
  HDBSCAN leaves out are outliers (topic ``-1``). A second UMAP to 2 dimensions places every paper on
  the map. Fixed seeds, so the same index always gives the same topics.
- **Labels**: class-based TF-IDF (c-TF-IDF, as in BERTopic) of the titles and abstracts of each
  topic over 1–3-grams; :func:`make_label` turns the best terms into a short label (longer phrases
  win over their parts, plurals and acronyms of a chosen phrase are dropped).
- **Storage**: a JSON file in the index dir keyed by :func:`fingerprint` of the papers' ids and
  content hashes; a changed index (``rag index`` added, changed or removed papers) gives another
  fingerprint, and the topics are computed again on next use (see ``Pipeline.topics``).

:func:`npmi` (coherence of top terms over the abstracts) and :func:`kmeans_topics` (a k-means baseline
on the same vectors) are the quality measures of the README and bench/.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import FilterError
from .models import Paper

VERSION = 1  # bump when the algorithm or its parameters change: stored topics are recomputed
SEED = 0
N_NEIGHBORS = 15
CLUSTER_DIMS = 5
MIN_CLUSTER_SIZE = 10
MIN_SAMPLES = 5
N_TERMS = 10
LABEL_POOL = 100  # terms a label is chosen from
MAX_LABEL = 48
SUPPORT_TERMS = 5
PHRASE_SHARE = 0.3  # a phrase replaces its word when it scores at least this share of the word's score
N_NEAREST = 3
OUTLIER = -1

# Words every ML abstract uses: never a topic's term on their own (phrases containing them still are).
GENERIC = frozenset(re.findall(r"\S+", """
model models learning learn learned learns neural network networks paper propose proposed proposes method methods
approach approaches result results show shows shown performance task tasks data based using use used new novel work
problem problems state art existing demonstrate experiments experimental achieve achieves achieving framework training
train trained deep significantly improve improves improved improving large various different wide range including study
address introduce present provide key efficient effective efficiently outperforms benchmark benchmarks real world datasets
dataset extensive previous prior recent recently conventional way able better high low theoretical theoretically empirical
empirically leads lead order allows allow strong simple general code available github com https www et al does make makes
algorithm algorithms analysis specifically significant challenging important widely terms settings setting set given second
first number time times well also however thus often many one two three several small effectiveness furthermore moreover
particular particularly typically usually known commonly aim need needs requires require lack lot far better best
state-of-the-art sota superior competitive promising remarkable recent success successful successfully despite consider
considered focus paradigm potential underlying propose study studies observe observed observation investigate accuracy information structure design quality choice family samples sample
error errors generate generates generated generating
"""))

# Generic words that still end a good phrase ("graph neural networks", "reinforcement learning").
HEADS = frozenset({"network", "networks", "model", "models", "learning", "training", "data", "algorithm", "algorithms"})
# ... and that still start one ("neural architecture search", "deep reinforcement learning", "data augmentation").
MODIFIERS = frozenset({"neural", "deep", "data", "model", "network", "large"})
_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b"


# ---------------------------------------------------------------------------------------------- records

@dataclass
class Topic:
    """One topic: ``id`` (0 is the largest), a short ``label``, its best ``terms``, its papers and
    their counts by venue, year and presentation type; ``x``/``y`` is its centre on the map."""

    id: int
    label: str
    terms: list[str]
    paper_ids: list[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    x: float = 0.0
    y: float = 0.0

    @property
    def size(self) -> int:
        return len(self.paper_ids)

    def summary(self) -> dict:
        """The ``rag topics --json`` entry."""
        return {"id": self.id, "label": self.label, "size": self.size, "terms": self.terms, "paper_ids": self.paper_ids}


@dataclass
class TopicMap:
    """The topics of one index: every paper's topic (``-1``: outlier), map position and nearest
    other topics."""

    fingerprint: str
    topics: list[Topic]
    assignment: dict[str, int]
    points: dict[str, tuple[float, float]]
    nearest: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0
    version: int = VERSION

    @property
    def papers(self) -> int:
        return len(self.assignment)

    @property
    def outliers(self) -> list[str]:
        return sorted(pid for pid, t in self.assignment.items() if t == OUTLIER)

    def topic(self, topic_id) -> Topic:
        """The topic with this id; :class:`FilterError` naming the valid ids otherwise."""
        tid = parse_topic_id(topic_id)
        for t in self.topics:
            if t.id == tid:
                return t
        raise FilterError(f"unknown topic {tid}; the index has topics 0–{len(self.topics) - 1}"
                          if self.topics else f"unknown topic {tid}; the index has no topics")

    def topic_of(self, paper_id: str) -> Topic | None:
        t = self.assignment.get(paper_id, OUTLIER)
        return self.topics[t] if 0 <= t < len(self.topics) else None

    def nearest_topics(self, paper_id: str) -> list[Topic]:
        """The topics nearest to the paper's vector, its own excepted, nearest first."""
        return [self.topics[t] for t in self.nearest.get(paper_id, []) if 0 <= t < len(self.topics)]

    def members(self) -> dict[int, frozenset[str]]:
        """Paper ids per topic id (outliers under ``-1``): what the ``topic`` filter selects."""
        out = {t.id: frozenset(t.paper_ids) for t in self.topics}
        out[OUTLIER] = frozenset(self.outliers)
        return out

    def summary(self) -> dict:
        """The ``rag topics --json`` document."""
        return {"papers": self.papers, "outliers": len(self.outliers), "topics": [t.summary() for t in self.topics]}

    def to_dict(self) -> dict:
        return {"version": self.version, "fingerprint": self.fingerprint, "seconds": round(self.seconds, 2),
                "topics": [asdict(t) for t in self.topics], "assignment": self.assignment,
                "points": {k: [round(float(a), 4), round(float(b), 4)] for k, (a, b) in self.points.items()},
                "nearest": self.nearest}

    @classmethod
    def from_dict(cls, d: dict) -> TopicMap:
        return cls(fingerprint=d["fingerprint"], topics=[Topic(**t) for t in d["topics"]],
                   assignment={k: int(v) for k, v in d["assignment"].items()},
                   points={k: (float(v[0]), float(v[1])) for k, v in d["points"].items()},
                   nearest={k: [int(x) for x in v] for k, v in d.get("nearest", {}).items()},
                   seconds=float(d.get("seconds", 0.0)), version=int(d.get("version", 0)))


def parse_topic_id(value) -> int:
    """A topic id from ``3``, ``"3"`` or ``"-1"`` (outliers); :class:`FilterError` otherwise."""
    if isinstance(value, bool):
        raise FilterError(f"topic {value!r} is not a topic id (use a number from `rag topics`)")
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise FilterError(f"topic {value!r} is not a topic id (use a number from `rag topics`)") from None


def fingerprint(papers: Iterable[Paper]) -> str:
    """A key of the indexed papers: their ids and content hashes (and the algorithm's version)."""
    h = hashlib.sha1(f"topics-v{VERSION}".encode())
    for p in sorted(papers, key=lambda p: p.id):
        h.update(f"{p.id}:{p.content_hash}\n".encode())
    return h.hexdigest()[:20]


# ---------------------------------------------------------------------------------------------- storage

def load_topics(path: Path, fp: str) -> TopicMap | None:
    """The stored topics if they belong to the index with fingerprint ``fp`` (else None)."""
    try:
        d = json.loads(Path(path).read_text())
        if d.get("fingerprint") != fp or int(d.get("version", 0)) != VERSION:
            return None
        return TopicMap.from_dict(d)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_topics(path: Path, tm: TopicMap) -> None:
    """Write atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(tm.to_dict(), ensure_ascii=False))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- terms

def doc_text(p: Paper) -> str:
    return f"{p.title}. {p.abstract}"


def term_matrix(docs: list[str]):
    """Counts of 1–3-grams (English stop words removed; terms made only of :data:`GENERIC` words
    dropped) and the vocabulary."""
    from sklearn.feature_extraction.text import CountVectorizer

    cv = CountVectorizer(ngram_range=(1, 3), stop_words="english", min_df=2, token_pattern=_TOKEN, lowercase=True)
    m = cv.fit_transform(docs).tocsc()
    vocab = cv.get_feature_names_out()
    keep = np.array([not all(w in GENERIC for w in t.split()) and not _ends_in_own_acronym(t)
                     and not (len(t.split()) > 2 and t.split()[-1] in GENERIC - HEADS)
                     and not (len(t.split()) > 1 and t.split()[0] in GENERIC - MODIFIERS) for t in vocab])
    return m[:, np.where(keep)[0]].tocsr(), [str(t) for t in vocab[keep]]


def _ends_in_own_acronym(term: str) -> bool:
    """``architecture search nas``: a phrase followed by (the end of) its acronym, from "… (NAS)"."""
    words = term.split()
    if len(words) < 2 or len(words[-1]) > 5:
        return False
    last = words[-1].rstrip("s")
    return any(last.endswith(_acronym(" ".join(words[i:-1])).rstrip("s")) for i in range(len(words) - 1))


def ctfidf(counts, labels: np.ndarray, n_topics: int) -> np.ndarray:
    """Class-based TF-IDF (BERTopic's formula): term frequency within each topic, L1-normalized, times
    ``log(1 + A / f_t)`` with ``A`` the mean number of terms per topic and ``f_t`` the term's count
    over all topics."""
    rows = np.vstack([np.asarray(counts[labels == k].sum(axis=0)).ravel() for k in range(n_topics)]).astype(np.float64)
    tf = rows / np.maximum(rows.sum(axis=1, keepdims=True), 1.0)
    avg = rows.sum() / max(n_topics, 1)
    idf = np.log(1.0 + avg / np.maximum(rows.sum(axis=0), 1.0))
    return tf * idf


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer (Snowball), as bm25s uses it

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def _acronym(term: str) -> str:
    return "".join(w[0] for w in re.split(r"[\s\-]+", term) if w)


def _same_acronym(word: str, phrase: str) -> bool:
    """``gnns`` stands for ``graph neural networks``."""
    return word.rstrip("s") == _acronym(phrase).rstrip("s")


def make_label(terms: list[str], scores: list[float], n: int = 3, docs: list[str] | None = None) -> str:
    """A short label from a topic's terms, best first (give more terms than the label needs).

    A phrase one word longer replaces a term, and the phrase an acronym stands for replaces the
    acronym, when it scores at least :data:`PHRASE_SHARE` as well (half that when it also holds
    another of the best :data:`SUPPORT_TERMS` terms; of several, the one that holds the most of
    them; researchers name topics with phrases), again from the phrase (which must then score about
    as well as the phrase itself); a term sharing a word with a chosen one (unless both are
    phrases with different last words), or the acronym of a chosen phrase, is skipped; up to ``n``
    terms (two when three are longer than :data:`MAX_LABEL` characters), in the casing the ``docs`` mostly use (``GANs``, ``NAS``), the first capitalized."""
    pool = list(zip(terms, scores, strict=True))
    chosen: list[str] = []
    for term, score in pool:
        if len(chosen) >= n:
            break
        floor = score
        while longer := [(t, s) for t, s in pool if _extends(t, term) and s >= PHRASE_SHARE * floor * (0.5 if _support(t, term, pool) else 1)]:
            term, floor = max(longer, key=lambda ts: ts[1] + _support(ts[0], term, pool))
            floor /= PHRASE_SHARE  # a longer phrase still must be as common as its own parts
        if any(_overlaps(term, c) for c in chosen):
            continue
        chosen.append(term)
    chosen = [_surface(t, docs) for t in chosen] if docs else chosen
    while len(chosen) > 2 and len(", ".join(chosen)) > MAX_LABEL:
        chosen.pop()
    label = ", ".join(chosen)
    return label[:1].upper() + label[1:]


def _extends(phrase: str, term: str) -> bool:
    """``phrase`` is ``term`` with one more word, or the words ``term`` (an acronym) stands for."""
    n = len(term.split())
    return (len(phrase.split()) == n + 1 and f" {term} " in f" {phrase} ") or (n == 1 < len(phrase.split()) and _same_acronym(term, phrase))


def _support(phrase: str, term: str, pool: list[tuple[str, float]]) -> float:
    """Scores of the best few terms (other than ``term``) that ``phrase`` also holds or spells out."""
    return sum(s for t, s in pool[:SUPPORT_TERMS] if t != phrase and f" {t} " not in f" {term} "
               and (f" {t} " in f" {phrase} " or (len(t.split()) == 1 < len(phrase.split()) and _same_acronym(t, phrase))))


def _same_word(x: str, y: str) -> bool:
    a, b = _stem(x), _stem(y)
    n = min(5, len(a), len(b))
    return a == b or (n >= 4 and a[:n] == b[:n])


def _overlaps(a: str, b: str) -> bool:
    """``a`` adds nothing beside ``b``: one contains the other, one is the other's acronym, a word
    shares a stem with a word of the other, or every word of the shorter phrase is in the longer."""
    if f" {a} " in f" {b} " or f" {b} " in f" {a} ":
        return True
    wa, wb = ([w for w in t.split() if w not in GENERIC] or t.split() for t in (a, b))
    if (len(a.split()) == 1 < len(b.split()) and _same_acronym(a, b)) or (len(b.split()) == 1 < len(a.split()) and _same_acronym(b, a)):
        return True
    short, long_ = sorted((wa, wb), key=len)
    matched = [any(_same_word(x, y) for y in long_) for x in short]
    return all(matched) if len(a.split()) > 1 and len(b.split()) > 1 else any(matched)


def _surface(term: str, docs: list[str]) -> str:
    """The form of ``term`` the texts use when it has capitals inside (``GANs``, ``ImageNet``, ``NAS``)."""
    forms = Counter(m.group(0) for d in docs for m in re.finditer(rf"(?<![\w-]){re.escape(term)}(?![\w-])", d, re.IGNORECASE))
    if not forms:
        return term
    best, _ = forms.most_common(1)[0]
    return best if any(any(c.isupper() for c in w[1:]) for w in best.split()) else term


def topic_terms(counts, vocab: list[str], labels: np.ndarray, n_topics: int, n: int = LABEL_POOL) -> list[tuple[list[str], list[float]]]:
    """The ``n`` best terms of each topic with their c-TF-IDF scores."""
    w = ctfidf(counts, labels, n_topics)
    out = []
    for k in range(n_topics):
        top = np.argsort(-w[k], kind="stable")[:n]
        out.append(([vocab[i] for i in top], [float(w[k, i]) for i in top]))
    return out


# ---------------------------------------------------------------------------------------------- clustering

def _umap(vectors: np.ndarray, dims: int, min_dist: float, seed: int) -> np.ndarray:
    import umap

    n = len(vectors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        red = umap.UMAP(n_neighbors=max(2, min(N_NEIGHBORS, n - 1)), n_components=dims, min_dist=min_dist,
                        metric="cosine", random_state=seed, init="spectral" if n > dims + 10 else "random")
        return np.asarray(red.fit_transform(vectors), dtype=np.float64)


def cluster(vectors: np.ndarray, seed: int = SEED) -> np.ndarray:
    """HDBSCAN labels (``-1``: outlier) of UMAP-reduced vectors."""
    from sklearn.cluster import HDBSCAN

    n = len(vectors)
    if n < 2 * MIN_SAMPLES:  # too few papers to find density: one topic
        return np.zeros(n, dtype=np.int64)
    reduced = _umap(vectors, CLUSTER_DIMS, 0.0, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdb = HDBSCAN(min_cluster_size=min(MIN_CLUSTER_SIZE, max(2, n // 4)), min_samples=MIN_SAMPLES, copy=True)
        return hdb.fit_predict(reduced).astype(np.int64)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel clusters 0, 1, … from the largest (ties: first paper first); outliers stay -1."""
    ks = [k for k in np.unique(labels) if k >= 0]
    order = sorted(ks, key=lambda k: (-(labels == k).sum(), int(np.argmax(labels == k))))
    remap = {k: i for i, k in enumerate(order)}
    return np.array([remap.get(int(k), OUTLIER) for k in labels], dtype=np.int64)


def _counts(papers: list[Paper]) -> dict[str, dict[str, int]]:
    def count(values) -> dict[str, int]:
        return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))

    return {"venue": count(p.venue or "unknown" for p in papers), "year": count(str(p.year or "unknown") for p in papers),
            "type": count(p.type or "unknown" for p in papers)}


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def compute_topics(papers: list[Paper], vectors: np.ndarray, *, seed: int = SEED,
                   progress: Callable[[str], None] | None = None) -> TopicMap:
    """Topics of ``papers`` from their ``vectors`` (rows aligned with ``papers``)."""
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    order = sorted(range(len(papers)), key=lambda i: papers[i].id)
    papers = [papers[i] for i in order]
    vectors = np.asarray(vectors, dtype=np.float32)[order] if len(papers) else np.zeros((0, 1), dtype=np.float32)
    n = len(papers)
    if n == 0:
        return TopicMap(fingerprint(papers), [], {}, {}, {}, time.perf_counter() - t0)
    say("clustering the paper vectors")
    labels = _by_size(cluster(vectors, seed))
    n_topics = int(labels.max()) + 1 if (labels >= 0).any() else 0
    say("placing the papers on the map")
    xy = _umap(vectors, 2, 0.1, seed) if n > 3 else np.zeros((n, 2))
    say("labelling the topics")
    docs = [doc_text(p) for p in papers]
    try:
        counts, vocab = term_matrix(docs)
        terms = topic_terms(counts, vocab, labels, n_topics)
    except ValueError:  # too few documents for a vocabulary
        terms = [([], []) for _ in range(n_topics)]
    centroids = _unit(np.vstack([vectors[labels == k].mean(axis=0) for k in range(n_topics)])) if n_topics else None
    topics = []
    for k in range(n_topics):
        idx = np.where(labels == k)[0]
        words, scores = terms[k]
        label = make_label(words, scores, docs=[papers[i].abstract for i in idx])
        topics.append(Topic(id=k, label=label or f"Topic {k}", terms=words[:N_TERMS],
                            paper_ids=[papers[i].id for i in idx], counts=_counts([papers[i] for i in idx]),
                            x=float(np.median(xy[idx, 0])), y=float(np.median(xy[idx, 1]))))
    nearest: dict[str, list[int]] = {}
    if centroids is not None:
        sims = _unit(vectors) @ centroids.T
        for i, p in enumerate(papers):
            ranked = [int(t) for t in np.argsort(-sims[i], kind="stable") if int(t) != labels[i]]
            nearest[p.id] = ranked[:N_NEAREST]
    return TopicMap(fingerprint=fingerprint(papers), topics=topics,
                    assignment={p.id: int(labels[i]) for i, p in enumerate(papers)},
                    points={p.id: (float(xy[i, 0]), float(xy[i, 1])) for i, p in enumerate(papers)},
                    nearest=nearest, seconds=time.perf_counter() - t0)


def cited_topics(tm: TopicMap, paper_ids: list[str]) -> list[dict]:
    """The topics of ``paper_ids`` (an answer's cited papers), first cited first:
    ``[{"id", "label", "papers": [ids]}]``; outliers name no topic."""
    out: dict[int, dict] = {}
    for pid in paper_ids:
        t = tm.topic_of(pid)
        if t is not None:
            out.setdefault(t.id, {"id": t.id, "label": t.label, "papers": []})["papers"].append(pid)
    return list(out.values())


# ---------------------------------------------------------------------------------------------- trends

def shifts(tm: TopicMap, papers: list[Paper], key: str = "year", min_group: int = 5, top: int = 10) -> list[dict]:
    """Topics that grew or shrank between consecutive groups of the corpus (years, or venues):
    each topic's share of a group's papers in one group and the next, largest changes first. Groups
    with fewer than ``min_group`` papers (and papers without a value) are left out."""
    def value(p: Paper) -> str | None:
        v = getattr(p, key)
        return str(v) if v else None

    groups = Counter(v for p in papers if (v := value(p)))
    names = sorted(g for g, c in groups.items() if c >= min_group)
    per: dict[str, Counter] = {g: Counter() for g in names}
    for p in papers:
        g = value(p)
        if g in per:
            per[g][tm.assignment.get(p.id, OUTLIER)] += 1
    rows: list[dict] = []
    for a, b in zip(names, names[1:], strict=False):
        for t in tm.topics:
            sa, sb = per[a][t.id] / groups[a], per[b][t.id] / groups[b]
            rows.append({"topic": t.id, "label": t.label, "from": a, "to": b, "share_from": round(sa, 4),
                         "share_to": round(sb, 4), "change": round(sb - sa, 4)})
    rows.sort(key=lambda r: (-abs(r["change"]), r["from"], r["topic"]))
    return rows[:top]


# ---------------------------------------------------------------------------------------------- quality

def npmi(topic_terms_list: list[list[str]], docs: list[str], n: int = N_TERMS) -> float:
    """Mean NPMI of the top ``n`` terms of each topic, over pairs, with document co-occurrence in
    ``docs`` (a term occurs in a document when its words do, as the term matrix counts them);
    −1 (never together) … 1 (always together)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vocab = sorted({t for terms in topic_terms_list for t in terms[:n]})
    if not vocab:
        return 0.0
    cv = CountVectorizer(ngram_range=(1, 3), vocabulary=vocab, token_pattern=_TOKEN, stop_words="english", binary=True)
    occ = (cv.transform(docs) > 0).astype(np.float64).tocsc()
    n_docs = max(len(docs), 1)
    p = np.asarray(occ.sum(axis=0)).ravel() / n_docs
    joint = (occ.T @ occ).toarray() / n_docs
    col = {t: i for i, t in enumerate(vocab)}
    per_topic = []
    eps = 1e-12
    for terms in topic_terms_list:
        ids = [col[t] for t in terms[:n]]
        vals = []
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                i, j = ids[a], ids[b]
                pij = joint[i, j]
                if pij <= 0:
                    vals.append(-1.0)
                    continue
                pmi = np.log(pij / max(p[i] * p[j], eps))
                vals.append(float(pmi / -np.log(pij)) if pij < 1 else 1.0)
        if vals:
            per_topic.append(float(np.mean(vals)))
    return float(np.mean(per_topic)) if per_topic else 0.0


def kmeans_topics(papers: list[Paper], vectors: np.ndarray, n_topics: int, seed: int = SEED) -> list[list[str]]:
    """The baseline: k-means with ``n_topics`` clusters on the same vectors, terms by the same c-TF-IDF."""
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=n_topics, n_init=10, random_state=seed).fit_predict(np.asarray(vectors, dtype=np.float64))
    counts, vocab = term_matrix([doc_text(p) for p in papers])
    return [t[:N_TERMS] for t, _ in topic_terms(counts, vocab, labels, n_topics)]
