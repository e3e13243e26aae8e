"""Text utilities shared by the answer path, the support check and follow-ups: word tokens, stop
words, stems, content terms, sentence splitting, and cleaning abstract text for display (LaTeX
markup, bracketed reference numbers, sentences glued together by a missing space)."""

from __future__ import annotations

import re
from functools import lru_cache

_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing done down during each either et etc few for from further had has have
having he her here hers herself him himself his how however i if in into is it its itself just may me might more
most much must my myself no nor not now of off on once one only or other our ours ourselves out over own per
same shall she should since so some such than that the their theirs them themselves then there these they this
those through thus to too under until up upon us use used uses using very via was we were what when where whether
which while who whom whose why will with within without would yes yet you your yours yourself yourselves
paper papers work works study studies propose proposes proposed present presents presented show shows shown
approach approaches method methods new novel answer question sources source based al
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
# words of how a question is asked, not of what it is about (ignored when measuring coverage)
_QUESTION_TEXT = """
wrote write writes written writer writers author authors co-author coauthors tell list find name names give explain
describe describes mention mentions discuss discusses anyone someone know look looking want recommend suggest related
relevant exist exists existing kind kinds type types way ways
"""
QUESTION_WORDS = frozenset(_QUESTION_TEXT.split())

_WORD = re.compile(r"[A-Za-z0-9]+(?:[.'’-][A-Za-z0-9]+)*")
_ANY_BRACKET_NUM = re.compile(r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]")
_LATEX_SYMBOLS = {
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "times": "×", "approx": "≈", "sim": "~", "ell": "ℓ",
    "epsilon": "ε", "varepsilon": "ε", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "lambda": "λ",
    "mu": "μ", "sigma": "σ", "theta": "θ", "tau": "τ", "pi": "π", "rho": "ρ", "phi": "φ", "psi": "ψ", "omega": "ω",
    "Omega": "Ω", "infty": "∞", "cdot": "·", "pm": "±", "rightarrow": "→", "to": "→", "leftarrow": "←", "in": "∈",
    "sqrt": "√", "sum": "Σ", "prod": "Π", "partial": "∂", "nabla": "∇", "log": "log", "exp": "exp", "min": "min",
    "max": "max", "ldots": "…", "dots": "…", "cdots": "…", "%": "%", "&": "&", "#": "#", "_": "_",
    "|": "‖", "{": "", "}": "", ",": " ", ";": " ", "!": "",  # norm bars, escaped braces, math spacing
}
# a symbol alone in math whose backslash was lost in an export ("10\\$times\\$ less", "256$times$256") → "10× less"
_BARE_SYMBOL = re.compile(r"\\?\$([A-Za-z]{2,})\\?\$")
_WORDS_NOT_SYMBOLS = frozenset({"in", "to", "le", "ge"})  # "$in$" is more likely the word than ∈
_LATEX_CMD = re.compile(r"\\([A-Za-z]+|[%&#_|{},;!])\s?")
_LATEX_WRAP = re.compile(r"\\(?:textit|textbf|textsc|emph|texttt|textrm|mathrm|mathbf|mathcal|mathbb|mathit|mathsf|boldsymbol|"
                         r"operatorname|text|tilde|hat|bar|widetilde|widehat|overline|vec)\s*\{([^{}]*)\}")
_OLD_FONT = re.compile(r"\{\\?(?:em|bf|it|sc|tt|rm|sl|sf)\s+([^{}]*)\}")  # "{\em x}" and "{em x}" (its backslash lost) → x
# "needed.However" → "needed. However", also after a bracket or a percent: "to 77.2% (OCMM).The code is …" (the result
# glued to the code link read as one "availability" sentence and was never quoted, blind_m)
_GLUED = re.compile(r"([a-z]{2}\)?|\S\)|\d%)\.([A-Z][a-z]+)\b")
# HTML sub- and superscripts an export left in ("1024<sup>2</sup> resolution"): digits as Unicode superscripts, else ^x / _x
_SCRIPT = re.compile(r"<(sup|sub)>([^<>]{1,20})</\1>", re.IGNORECASE)
_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Eqs|Sec|No|approx|resp|w\.r\.t)\.$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences of prose; newlines and list items also end a sentence; abbreviations do not."""
    out: list[str] = []
    for block in re.split(r"\n+", text or ""):
        block = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", block).strip()
        if not block:
            continue
        parts = re.split(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])", block)
        buf = ""
        for part in parts:
            buf = f"{buf} {part}".strip() if buf else part
            if _ABBREV.search(buf):
                continue
            out.append(buf)
            buf = ""
        if buf:
            out.append(buf)
    return [s for s in (x.strip() for x in out) if s]


def clean_source_text(text: str) -> str:
    """Abstract text as it may be shown or quoted: bracketed reference numbers (which would look
    like our citation markers) removed, LaTeX markup turned into plain text (``\\leq`` → ≤,
    ``\\textbf{x}`` → x, ``$`` dropped, ``<sup>2</sup>`` → ²), sentences glued by a missing space split
    ("needed.However" → "needed. However"), whitespace collapsed."""
    text = _ANY_BRACKET_NUM.sub("", text or "")
    text = _SCRIPT.sub(lambda m: m.group(2).translate(_SUPERSCRIPT) if m.group(1).lower() == "sup" and re.fullmatch(r"[0-9+-]+", m.group(2))
                       else ("^" if m.group(1).lower() == "sup" else "_") + m.group(2), text)
    text = re.sub(r"\{\\color\{[^{}]*\}([^{}]*)\}", r"\1", text)
    text = _OLD_FONT.sub(r"\1", text)
    for _ in range(3):  # nested wrappers: \textbf{\emph{x}}
        text = _LATEX_WRAP.sub(r"\1", text)
    text = _BARE_SYMBOL.sub(lambda m: _LATEX_SYMBOLS[m.group(1)] if m.group(1) in _LATEX_SYMBOLS and m.group(1) not in _WORDS_NOT_SYMBOLS
                            else m.group(0), text)
    text = text.replace("\\$", "$").replace("$", "").replace("``", "\"").replace("''", "\"")
    text = _LATEX_CMD.sub(lambda m: _LATEX_SYMBOLS.get(m.group(1), m.group(1)) + " " if m.group(0).endswith(" ")
                          else _LATEX_SYMBOLS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"(?<!\\)[{}]", "", text)
    text = _GLUED.sub(r"\1. \2", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - PyStemmer is a dependency
        return None


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    st = _stemmer()
    return st.stemWord(word) if st else word.rstrip("s")


def words(text: str) -> list[str]:
    """Lowercased word tokens (hyphenated words also split into their parts)."""
    out = []
    for w in _WORD.findall(text or ""):
        w = w.lower().replace("’", "'")
        out.append(w)
        if "-" in w:
            out.extend(p for p in w.split("-") if p)
    return out


def tokens(text: str) -> list[str]:
    """Word tokens as written (case kept; hyphenated words whole): "GPT-3 beats FORCE" → GPT-3, beats, FORCE."""
    return _WORD.findall(text or "")


def question_terms(question: str) -> set[str]:
    """The content words of a question that say what it is about."""
    return {_stem(w) for w in words(question) if w not in STOPWORDS and w not in QUESTION_WORDS and (len(w) > 1 or w.isdigit())}


def content_terms(text: str) -> list[str]:
    """Stemmed content words: stop words and one-letter tokens dropped."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def stems(text: str) -> list[str]:
    """Stemmed lowercase words in order, hyphens and apostrophes splitting them ("Self-Training" → self, train)."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", (text or "").lower())]


PHRASE_WORDS = (2, 3)  # the fewest and most words of a topic phrase (:func:`phrases`)


def phrases(toks: list[str]) -> set[str]:
    """The word n-grams of :func:`stems` output that may name a topic: ``PHRASE_WORDS`` words, neither end a stop
    word, no number ("graph neural network", "out of distribut", not "of the")."""
    out = set()
    for n in range(PHRASE_WORDS[0], PHRASE_WORDS[1] + 1):
        for i in range(len(toks) - n + 1):
            g = toks[i:i + n]
            if g[0] not in STOPWORDS and g[-1] not in STOPWORDS and not any(w.isdigit() for w in g):
                out.add(" ".join(g))
    return out


def key_tokens(sentence: str) -> set[str]:
    """Tokens a sentence may only use if its source has them: numbers, acronyms, and capitalized
    words other than the first word (names of people, methods, datasets, venues)."""
    toks = _WORD.findall(sentence or "")
    keys = set()
    for i, t in enumerate(toks):
        low = t.lower()
        named = (sum(c.isupper() for c in t) >= 2 or (i > 0 and t[0].isupper())) and low not in STOPWORDS and len(t) > 1
        if named or any(c.isdigit() for c in t):
            keys.add(low)
    return keys




_TAG = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?\s*>")


def strip_markup(text: str) -> str:
    """A question as typed, without HTML/XML tags (``<b>what</b>`` → ``what``) and with runs of
    white space collapsed: markup must not change what is searched or scored."""
    import html

    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", text or ""))).strip()
