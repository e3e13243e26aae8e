"""Evidence choice: which sentences of a paper answer the question, and the clause that says what
the paper does.

Every abstract sentence gets a *role* from cues in its wording and position:

- ``background``: an opening sentence before the paper first speaks of itself ("Pruning received
  increasing attention recently"): it frames the problem, it answers nothing;
- ``other``: a sentence about other people's work ("recent work by Lee et al. (2018) has shown…"),
  which must not be presented as this paper's finding;
- ``contribution``: what the paper does ("we propose X", "this paper introduces");
- ``result``: what it finds or reaches ("we show", "outperforms", "by 12%");
- ``plain``: anything else.

:func:`rank_sentences` orders a paper's sentences for a question: closeness in meaning (cosine) and
in words, plus what the question asks for (a name, a number, a remedy, the kind of thing a "what/which X"
question names: :func:`asked_head`), minus the roles that do not answer. :func:`lead_clause` turns the paper's best "we …" sentence into a clause about the paper
("proposes X, which …") for the answer's opening sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .support import PaperText
from .text import STOPWORDS, content_terms, key_tokens, question_terms, split_sentences, tokens, words

# ---------------------------------------------------------------- what the question asks for

_SEVERAL_NOUNS = r"(?:works|approaches|methods|techniques|models|algorithms|architectures|frameworks)\b"
# the nouns that ask for papers wherever they stand ("Which paper studies X" has "studies" as its verb: blind_u)
_PAPER_NOUNS = r"\b(?:papers|articles)\b|(?<!paper )(?<!work )\bstudies\b"
_INTENTS = {
    # not "human-written", "written text", "questions written in…", "the authors' model", and not the authors as the ones
    # who did something ("what do the authors put forward…", "the authors argue…": six lookups of blind_y got the
    # authors' line); "which authors…", "the authors of…", "authors and venue?" still ask
    "authors": re.compile(r"\b(?<!-)(?:who|wrote|writers?|co-?authors?)\b|\bwritten by\b|\b(?:which|what|whose|list|name)\s+(?:\w+\s+)?authors?\b"
                          r"|\bauthors?\b(?!['’]|\s+(?!(?:of|and|or|for|behind|are|were|is|was)\b)[a-z])", re.I),
    "type": re.compile(r"\b(?:oral|spotlight|poster|presentation type|presented as)\b", re.I),
    "venue": re.compile(r"\b(?:conference|venue|which year|what year|published|appeared|accepted)\b", re.I),
    # "what is the input-perturbation method…": a "what is the" before the words that lead to the noun asked for
    "name": re.compile(r"\b(?:which|what)\s+(?:(?:is|are|was|were)\s+(?:the\s+)?)?(?:\w+[\s-]+){0,3}?(?:method|algorithm|model|approach|technique|framework|architecture|"
                       r"loss|objective|estimator|benchmark|dataset|system|procedure|scheme|metric|optimizer|network|layer|formulation|"
                       r"variant|component|ingredient|solver|strategy|mechanism|regularizer|measure|distribution|divergence|agent|"
                       r"tool|library|baseline|criterion|trick|module|operator|prior|kernel|policy|game|environment|task)s?\b"
                       r"|\b(?:called|named|name of)\b", re.I),
    # not "session-based recommendation", "the slot and domain schema", "scheduled updates"
    "when": re.compile(r"\b(?:what|which) (?:day|time)\b|\b(?:time slot|session)\b(?!-)|\bslot\b(?=\s*[?,.]|\s*$)"
                       r"|\bscheduled\b(?=\s*(?:for|at|on|in|[?,.]|$))|\bwhen (?:was|is|were|will)\b", re.I),
    "number": re.compile(r"\bhow (?:much|many|few|little|large|big|fast|small|often|far)\b|\bby what (?:factor|margin)\b|\b(?:what|which) (?:\w+[\s-]+){0,3}?"
                         r"(?:accuracy|speed-?up|percentage|fraction|share|proportion|rate|error|score|number|factor|improvement|gain|"
                         r"reduction|ratio|count)s?\b|\b(?:speed-?up|percent)\b", re.I),
    "evaluated": re.compile(r"\b(?:evaluated|tested|benchmarked|validated|experiments?|results?) (?:on|in|with|across)\b|\b(?:on|in) (?:which|what) "
                            r"(?:[\w-]+\s+){0,2}(?:benchmarks?|datasets?|data|tasks?|domains?|environments?|games?)\b"  # "On what kinds of data…" (bs-l-018)
                            # "Where are X evaluated?", "Which applications test X?"
                            r"|\bwhere\b(?:\s+[\w-]+){1,10}?\s+(?:evaluated|tested|benchmarked|validated)\b"
                            r"|\b(?:which|what)\s+(?:\w+\s+)?(?:applications?|benchmarks?|datasets?|tasks?|domains?|environments?|settings?)\s+"
                            r"(?:do|does|did|are|were|is|was)?\s*(?:test|tests|tested|evaluate|evaluates|evaluated|validate|validates|validated)\b"
                            # "Which environments host the deep experiments…?": the data or testbeds, whatever the verb
                            r"|\b(?:which|what)\s+(?:[\w-]+\s+)?(?:benchmarks|datasets|environments|games|testbeds?)\b"
                            # "…: which evaluations?", "what experiments support it?" (bx-l-032)
                            r"|\b(?:which|what)\s+(?:[\w-]+\s+)?(?:evaluations?|experiments|empirical (?:studies|results))\b", re.I),
    # asks for papers: "papers"/"studies" anywhere (_PAPER_NOUNS); a plural method noun that heads what is asked for
    # ("which methods…", "recent approaches to…", "methods for X"), not one inside a singular ask ("which class of
    # algorithms…", "which defense models the attack…", "…of sequence-to-sequence models?"); "From which literature is X
    # borrowed?" asks for a field and "beats existing algorithms" compares with them (blind_v)
    "several": re.compile(_PAPER_NOUNS + r"|(?<!which )(?<!what )\bliterature\b|\b(?:work|research|literature) (?:on|about|in|that|which|regarding|using)\b"
                          r"|\bany (?:paper|work)s?\b|(?:\b(?:which|what|any|some|list|compare|are there)\s+(?:(?:recent|prior|existing)\s+)?"
                          r"|^\W*(?:recent|prior|existing)\s+)"
                          # "which two models…" counts the parts of one paper's answer (every such question of the eval files is a lookup)
                          r"(?!(?:two|three|four|five|both|2|3|4|5)\s)"
                          r"(?:(?!(?:of|for|in|on|to|with|that|the|a|an|is|was|does|do)\b)[\w-]+\s+){0,3}?"
                          rf"{_SEVERAL_NOUNS}(?!\s+(?:the|a|an|its|their|this|these|each|it)\b)"
                          r"|^\s*(?:[\w-]+\s+){0,4}?" rf"{_SEVERAL_NOUNS}" r"(?:\s+(?:on|about|for|that|which|using|to|in|against)\b|\s*[?.]?\s*$)",
                          re.I),
    # why something fails or is hard, or which shortcomings it has: the problem a paper starts from, which its opening
    # sentences state ("Why do goal-reaching agents that encode the whole scene with a single VAE latent vector struggle…?":
    # blind_y, read after its run); not a "why" inside another ask ("After diagnosing why X trail Y, what do…")
    "problem": re.compile(r"(?:^|[.;:?]\s+)\W*why\b[^?]*?\b(?:struggl|fail|fall(?:s|ing)? short|hard|difficult|challeng|los[et]|losing|suffer|inefficien|poor|"
                          r"break|degrad|collaps|limit|cannot|can't|unable|trail|lag|unstable|brittle|expensive|costly|slow|ineffective|"
                          r"insufficient|wasteful|problematic)\w*"
                          r"|\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:shortcomings?|limitations?|drawbacks?|weakness(?:es)?|problems? with|"
                          r"deficienc(?:y|ies)|pitfalls?|bottlenecks?|obstacles?|difficult(?:y|ies)|challenges|hurdles?)\b"
                          r"|\bwhat\s+makes\b[^?]*\b(?:hard|difficult|challenging|expensive|slow)\b", re.I),
    # the compute a method needs: "What compute does it need to train?", "how long does it take to converge, on what hardware?"
    "compute": re.compile(r"\b(?:what|which|how much)\s+(?:\w+\s+)?(?:compute|hardware|gpus?|tpus?|computational (?:budget|resources|cost)|"
                          r"(?:gpu|memory) footprint)\b|\bhow long\b[^?]*\b(?:train|converge|run|take)\w*|\bhow many (?:gpus?|tpus?|gpu[- ]hours|cpu cores)\b"
                          r"|\bon what hardware\b", re.I),
    "remedy": re.compile(r"\bhow (?:to|can|could|do|does|should)\b|\b(?:fix|avoid|mitigate|prevent|overcome|remedy|solve|address|reduce|cure)\b", re.I),
}
METADATA_INTENTS = frozenset({"authors", "type", "venue", "when"})
# A topic typed as a phrase ("binary neural networks", "learning from 3D point clouds") asks for the papers on it just
# as "papers on…" does; a phrase that describes one paper ("deterministic sampler that speeds up score-based generation
# without retraining") is a lookup. Told apart by length: a topic is named in a few content words. On the tune files
# (multi-paper questions phrased without "papers"), at most 6 words raised gold papers in the top 5 that are cited
# 0.778 -> 0.848 at the same citation precision of one-paper lookups (0.638 -> 0.631); blind_e_topic_tune, measured
# before this rule was written: 0.613 -> 0.774 simulated, 0.839 by `rag eval`. 7 words: 0.854, lookups 0.603.
TOPIC_PHRASE_TERMS = 6
# (a question mark, also the full-width one of CJK input; a leading auxiliary verb also behind a quote or markup)
_NOT_A_PHRASE = re.compile(r"[?\uff1f]|\b(?:which|what|who|whom|whose|how|why|when|where)\b|^\W*(?:is|are|does|do|did|can|could|should|was|"
                           r"were|has|have|will|would|tell|explain|describe|summari[sz]e)\b", re.I)
_HOW_DO_PEOPLE = re.compile(r"\bhow (?:do|did|can|have) (?:people|researchers|others|papers)\b", re.I)


def topic_phrase(question: str) -> bool:
    """A question typed as a short topic phrase, or "how do people…": it asks for the papers on a topic."""
    if _HOW_DO_PEOPLE.search(question):
        return True
    return not _NOT_A_PHRASE.search(question) and 0 < len(question_terms(question)) <= TOPIC_PHRASE_TERMS


# a question about one paper that it describes ("quantified in the study that predicts which features … models rely on":
# the "which … models" inside it asks for no papers; blind_u bu-l-011), that it asks what it says ("Why …, according to
# work that pairs them with a VAE?") or what its authors did ("Across which model architectures did they find …?"; blind_v)
_ONE_PAPER = re.compile(r"\b(?:the|this|that)\s+(?:[\w-]+\s+){0,3}?(?:paper|study|work|article)\s+(?:that|which|where|in which|proposing|"
                        r"introducing|presenting|showing)\b"
                        r"|\baccording to (?:the |this |that |a )?(?:[\w-]+\s+){0,2}?(?:paper|study|work|article|research)\b"
                        r"|\bauthors of (?:a|one) (?:paper|study|work|article) (?:on|about)\b"  # blind_z bz-l-023
                        r"|\b(?:did|do|does|were|was)\s+(?:they|the authors|the researchers|it)\b", re.I)
_PAPERS = re.compile(_PAPER_NOUNS, re.I)


# "The authors of a work on learned set-membership filters frame … as what kind of problem, and how close …?" (blind_z
# bz-l-023): the authors open the question as the subject of what is asked, which a later "what/which/how" asks; "who
# are the authors of…", "the authors of X?" and "The authors of X and its venue?" still ask who wrote it
_AUTHORS_AS_SUBJECT = re.compile(r"^\W*(?:the\s+)?authors\s+of\b(?![^?]*\b(?:who|wrote|written)\b)[^?,]*?\s(?!(?:and|or)\b)[a-z]+\s+"
                                 r"(?:what|which|how|why|where)\b", re.I)


def intents(question: str) -> set[str]:
    """What the question asks for: metadata (authors, type, venue, when), a name, a number, the data it was
    evaluated on, the compute it needs, a remedy, the problem behind it ("why do X struggle?"), several papers
    (asked for, or a topic typed as a phrase)."""
    found = {k for k, rx in _INTENTS.items() if rx.search(question)}
    if "authors" in found and _AUTHORS_AS_SUBJECT.search(question):
        found.discard("authors")
    if "several" in found and not _PAPERS.search(question):
        # about one paper: "… in the study that predicts which features models…" (_ONE_PAPER); or a context sentence
        # before the question, which asks for nothing: "In conditional latent variable models for probabilistic
        # regression, …. Which standard aggregation does this improve upon?" (blind_w bw-l-021), though "… models
        # for …" opening a question asks for papers
        sentences = split_sentences(question)
        if _ONE_PAPER.search(question) or (len(sentences) > 1 and not _INTENTS["several"].search(sentences[-1])):
            found.discard("several")
    if "several" not in found and not found & METADATA_INTENTS and topic_phrase(question):
        found.add("several")
    return found


# ---------------------------------------------------------------- roles of sentences

# the paper speaking of itself ("The current paper introduces…": blind_t bt-l-023, whose every sentence had read as background)
_OWN = re.compile(r"\b(?:we|our|us|this (?:paper|work|study|article|note)|here|the proposed|the present|"
                  r"the current (?:paper|work|study|article))\b", re.I)
_OTHER = re.compile(r"\bet al\b|\(\s*(?:19|20)\d\d[a-z]?\s*\)|\b(?:19|20)\d\d\)"
                    r"|\b(?:recent|prior|previous|existing|earlier|related|past|many|several)\s+(?:\w+\s+)?(?:works?|studies|research|"
                    r"approaches|methods|literature|papers|efforts|attempts)\b"
                    r"|\b(?:has|have) (?:been )?(?:recently )?(?:shown|demonstrated|proposed|suggested|argued|observed)\b", re.I)
# verbs with which a paper brings in something of its own (and may name it: "we devise X"); a contribution also offers,
# provides, describes or releases
_INTRODUCING = r"propose|present|introduce|develop|design|call|dub|name|term|devise|formulate|build|construct|create"
CONTRIBUTION = re.compile(r"\b(?:we|this (?:paper|work|study))\s+(?:\w+ly\s+|also\s+|then\s+|further\s+|first\s+)?(?:"
                          + _INTRODUCING + r"|offer|provide|describe|release)", re.I)
_RESULT = re.compile(r"\b(?:we|this (?:paper|work))\s+(?:\w+ly\s+|also\s+|further\s+)?(?:show|find|demonstrate|prove|observe|establish|"
                     r"obtain|report|confirm|reveal|verify)|\b(?:outperform\w*|surpass\w*|state[- ]of[- ]the[- ]art|significantly|"
                     r"achiev\w+|improv\w+ (?:over|upon|by)|reduc\w+ (?:the )?\w+ by|speed-?ups?)\b|\d(?:\.\d+)?\s*(?:%|x\b|×|times\b|fold\b)",
                     re.I)
# "Code is available at https://…", "We release our models": where to get it, not what the paper found
_AVAILABILITY = re.compile(r"https?://|\bgithub\b|\b(?:code|codes|implementation|source|models?|data(?:sets?)?|benchmark|library|toolkit)\b"
                           r"[^.]{0,60}?\b(?:is|are|will be|has been|have been)\s+(?:made\s+)?(?:publicly\s+|freely\s+|open(?:ly)?\s+)?"
                           r"(?:available|released|open[- ]sourced?)(?:\s+(?:at|from|on|online|here|via|upon|for|to|publicly)\b|\s*[.:;,]|\s*$)|^\s*(?:we|our)\b[^.]{0,30}\b(?:release|open[- ]source)\b"
                           r"[^.]{0,30}\b(?:code|implementation|models?)\b", re.I)
# "… remains an open problem", "little is known about …": the gap the paper sets out to fill, which answers nothing
# (a sentence that says "we" or "this work" about it, "We resolve this open problem by…", is the paper's own)
_OPEN_PROBLEM = re.compile(r"\b(?:remains?|is still|are still|stays?)\s+(?:an?\s+)?(?:largely\s+|still\s+|mostly\s+)?(?:open|unclear|unknown|"
                           r"unanswered|unexplored|elusive|poorly understood|not well understood)\b|\blittle is known\b"
                           r"|\bopen (?:question|problem)s?\b", re.I)
_ASKS_CODE = re.compile(r"\b(?:code|github|implementation|open[- ]source|released?|download|url|link)\b", re.I)
_EVALUATION = re.compile(r"\b(?:evaluat\w*|test(?:s|ed)?|experiments?|benchmarks?|datasets?|validat\w*)\b", re.I)
# what "Our method, NAME, …" calls the paper's contribution before giving its name
_OUR_NOUN = r"(?:method|approach|model|framework|algorithm|agent|system|technique|architecture|scheme)"
# "we propose X", "called X", "Our method, Self-Predictive Representations (SPR), trains…" (an appositive name: dev d012)
# "We study two algorithms, Entropy-SGD and Replicated-SGD, that…" (an appositive after what the paper itself studies: blind_u bu-l-004)
_NAMING = re.compile(r"\b(?:we\s+(?:\w+\s+)?(?:" + _INTRODUCING + r")|called|dubbed|named|termed|coined)\b|\b(?:our|we\s+\w+)\s+(?:\w+\s+)?"
                     + _OUR_NOUN + r"s?,\s+(?=(?-i:[A-Z]))", re.I)

# weights of the sentence ranking (calibrated on the tune question files; see README "Answers")
LEXICAL_WEIGHT = 0.3
ROLE_BONUS = {"contribution": 0.06, "result": 0.05, "plain": 0.0, "background": -0.12, "other": -0.25, "availability": -0.25}
ASKED_BONUS = 0.10  # the sentence has what the question asks for: a number, a name, a remedy
SPECIFIC_BONUS = 0.03  # per name or number the question does not already say (specifics answer; up to 3 count)
FOCUS_WEIGHT = 0.25  # a compound question: the words of its later asks ("…, and which two formulations are used?")
SHORT_PENALTY = 0.10  # a sentence of fewer than SHORT_WORDS words says little
SHORT_WORDS = 7
HEAD_BONUS = 0.10  # the sentence names the kind of thing a "what/which X" question asks for (:func:`asked_head`): "… learned
# using a supervised contrastive loss" for "What loss trains…"; blind_q, read after its one held-out run (README)
FOCUS_ASKED = 0.3  # a sentence with this share of the words of a compound question's later ask answers that ask
# (0.5 before blind_y: "…, how is the write operation simplified …?" has its answer in a sentence with 0.36 of them;
# over every eval file 3 answers changed, facts +4, none lost)


# "outperforms previous SOTA methods", "better than existing approaches": the paper measured against other work is
# still the paper's own result, not a report of that work
_COMPARED = re.compile(r"\b(?:outperform\w*|unlike|in contrast to|contrary to|surpass\w*|beat\w*|than|over|upon|compared (?:to|with)|relative to|versus|vs\.?)\s+"
                       r"(?:the\s+)?(?:\w+\s+){0,2}?(?:recent|prior|previous|existing|earlier|related|past|many|several)\b", re.I)


# a sentence on the state of the field before this paper, wherever it stands ("So far, this aggregation operation has been
# treated separately …" after "In this paper, we focus on context aggregation", blind_w bw-l-021, was quoted first)
_SO_FAR = re.compile(r"^(?:so far|to date|until now|up to now|thus far|hitherto)\b", re.I)


def roles(sentences: list[str]) -> list[str]:
    """The role of each sentence of one abstract (see the module docstring)."""
    first_own = next((i for i, s in enumerate(sentences) if _OWN.search(s)), len(sentences))
    out = []
    for i, s in enumerate(sentences):
        if _OTHER.search(_COMPARED.sub("", s)) and not _OWN.search(s):
            out.append("other")
        elif CONTRIBUTION.search(s):
            out.append("contribution")
        elif _RESULT.search(s) and (_OWN.search(s) or i >= first_own):
            out.append("result")
        elif i < first_own or (_SO_FAR.match(s) and not _OWN.search(s)):
            out.append("background")
        else:
            out.append("plain")
    return out


def _new_names(sentence: str, question: str) -> set[str]:
    """Names (acronyms, capitalized words, alphanumeric tokens) in ``sentence`` that ``question`` does not use."""
    return {t for t in key_tokens(sentence) - key_tokens(question) - set(words(question)) if any(c.isalpha() for c in t)}


def names_method(sentence: str, question: str) -> bool:
    """Whether ``sentence`` gives something a name ("we propose X", "called X") the question does not say."""
    return bool(_NAMING.search(sentence)) and bool(_new_names(sentence, question))


# a share or factor said in words: "learning to disable around a third of the random features" for "roughly what share…"
# (blind_z bz-l-011)
_NUMBER_WORDS = re.compile(r"\b(?:an?|one|two)[\s-](?:third|quarter|half|fifth|tenth)s?\b|\b(?:half|twice|thrice|two-thirds|"
                           r"three-quarters|(?:two|three|four|five|six|seven|eight|nine|ten|hundred)[- ]?fold|an order of magnitude|"
                           r"orders of magnitude)\b", re.I)


def _new_numbers(sentence: str, question: str) -> bool:
    """Whether ``sentence`` gives a number the question does not: a token that starts with a digit ("60%", "2.5x";
    "ImageNet-1k" and "CIFAR-10" are names: blind_r br-l-030 quoted "ImageNet-1k" for "What share of ImageNet…")."""
    return any(t[:1].isdigit() for t in key_tokens(sentence) - key_tokens(question)) \
        or bool(_NUMBER_WORDS.search(sentence) and not _NUMBER_WORDS.search(question))


_EXAMPLES = re.compile(r"\((?:e\.g\.|i\.e\.|such as|like)[^()]*\)", re.I)
# a sentence stating a problem: what fails, is hard, lacks or costs ("… are limited by their fixed-length representation")
_PROBLEM_CUE = re.compile(r"\b(?:struggl|fail|hard|difficult|challeng|suffer|limit|lack|cannot|can't|unable|inefficien|expensive|"
                          r"costly|slow|brittle|unstable|poor|degrad|collaps|bottleneck|drawback|shortcoming|weakness|requir|rel(?:y|ies) on|"
                          r"only|inability|prone|sensitiv|intractab|prohibitive|restrict)\w*", re.I)
_COMPUTE_CUE = re.compile(r"\b(?:[GTC]PUs?|RTX[- ]?\w*|V100|A100|TPUv?\d*|cores?|hours?|days?|minutes?|seconds?|wall[- ]clock|"
                          r"memory|footprint|FLOPs?)\b")
ASKED_KINDS = frozenset({"number", "name", "evaluated", "compute"})  # what a sentence may give that the question asks for
_ON_DATA = re.compile(r"\b(?:on|across|over)\s+(?:(?!(?:on|in|of|to|for|and)\b)[\w-]+\s+){1,5}?(?:benchmarks|datasets|data sets|tasks|domains|environments|problems|games)\b", re.I)
_LISTS = re.compile(r":\s*\S|(?:,[^,]+){2,}")  # a colon before a list, or three items in commas


def _has_asked(sentence: str, role: str, want: set[str], question: str) -> bool:
    if "number" in want and _new_numbers(sentence, question):
        return True
    if "name" in want and names_method(sentence, question):
        return True
    if "evaluated" in want:  # "evaluated on which benchmarks": a sentence naming datasets or tasks, or listing them
        # ("… on a wide range of tasks: color transfer, …, and domain adaptation"); names given as examples of other
        # work, "Unlike conventional methods (e.g., BERT, GloVe) …", are no benchmarks (blind_x bx-l-035)
        named = _new_names(_EXAMPLES.sub("", sentence), question)
        if len(named) >= 2 or (_EVALUATION.search(sentence) and (named or _LISTS.search(sentence))):
            return True
        # the paper's own finding "on" kinds of data, unnamed: "We demonstrate improved accuracy … on both standard
        # few-shot classification benchmarks and few-shot domain transfer tasks" (bx-l-032)
        if role in ("result", "contribution") and _ON_DATA.search(sentence):
            return True
    if "compute" in want and _COMPUTE_CUE.search(sentence):  # "… in a few hours of training on a single RTX-2080 GPU"
        return True
    return "remedy" in want and role == "contribution"


_HEAD_WORD = re.compile(r"[\w'’-]+|[^\w\s]")
_HEAD_STOP = frozenset({"is", "are", "was", "were", "do", "does", "did", "can", "could", "would", "will", "should", "has", "have", "had",
                        "may", "might", "must", "that", "which", "who", "whose", "when", "where", "if", "in", "on", "for", "to", "from",
                        "by", "with", "under", "at", "across", "between", "against", "toward", "towards", "into", "over", "through",
                        "via", "about", "during", "among"})
_HEAD_SKIP = frozenset({"type", "types", "kind", "kinds", "sort", "sorts", "form", "forms", "class", "classes", "family", "of", "the",
                        "a", "an", "new", "novel", "specific", "particular", "main", "key", "exact", "other", "two", "three", "four",
                        "both", "single", "real-world"})
_HEAD_GENERIC = frozenset({"name", "names", "paper", "papers", "work", "works", "study", "studies", "author", "authors", "article", "articles"})
HEAD_TOKENS = 2  # words of the noun phrase after "what"/"which" (after "type of", numbers, "new"…) that may name what is asked for


def _third_person(word: str) -> bool:
    return word.endswith("s") and not word.endswith(("ss", "'s", "’s"))


_ADJECTIVE_END = ("al", "ive", "ic", "ed", "ous", "ar", "ent", "ant", "ful", "less", "able", "ible")


def _modifier(word: str) -> bool:
    """A word as typed that reads as a modifier before a noun: hyphenated ("few-shot"), an acronym ("SGD"), or with
    an adjective's ending ("neural", "contrastive")."""
    return "-" in word or (word.isupper() and len(word) > 1) or word.lower().endswith(_ADJECTIVE_END)


def asked_head(question: str) -> str | None:
    """The noun a "what/which X" question asks for, stemmed: "What loss trains…" → loss, "What type of weight
    penalty, with…" → penalti, "Which learning dynamics are proven…" → dynam, "what role does depth play" → role.
    The last of at most :data:`HEAD_TOKENS` words that a verb, a preposition or a comma ends; or a first word that
    a verb agreeing with it follows ("Which algorithm aligns…", "Which environments host…"), or a second, plural
    one before a plural verb ("Which few-shot benchmarks show…"). None otherwise: without a parser, "Which seq2seq
    model synthesizes…" does not say where the noun ends; and None without a "what/which", or when it asks for
    papers or a name."""
    typed = _HEAD_WORD.findall(question or "")
    toks = [t.lower() for t in typed]
    at = next((i for i, t in enumerate(toks) if t in ("what", "which")), None)
    if at is None:
        return None
    j = at + 1
    if toks[j:j + 1] and toks[j] in ("is", "are", "was", "were") and toks[j + 1:j + 2] and toks[j + 1] in ("the", "a", "an"):
        j += 2  # "what is the X …"
    phrase: list[str] = []
    first = None  # the first word of the phrase as typed
    ended = False
    for t, as_typed in zip(toks[j:], typed[j:], strict=True):
        if t in _HEAD_STOP or not t[0].isalnum() or (t == "of" and phrase):  # "type of X" goes on, "role of X" ends
            ended = True
            break
        if t not in _HEAD_SKIP:
            first = first or as_typed
            phrase.append(t)
            if len(phrase) > HEAD_TOKENS:
                break
    if ended and 0 < len(phrase) <= HEAD_TOKENS:
        head = phrase[-1]
    elif len(phrase) > HEAD_TOKENS and _modifier(first or "") and _third_person(phrase[1]) and not _third_person(phrase[2]):
        head = phrase[1]  # "few-shot benchmarks show", "SGD settings push": a modifier, a plural noun, its verb
    elif len(phrase) >= 2 and _third_person(phrase[0]) != _third_person(phrase[1]) and "'" not in phrase[1] \
            and "’" not in phrase[1] and phrase[0] not in STOPWORDS:
        head = phrase[0]  # "algorithm aligns", "environments host": a noun, then a verb that agrees with it
    else:
        return None
    return None if head in _HEAD_GENERIC or head in STOPWORDS else (content_terms(head) or [None])[-1]


_ASK = re.compile(r"(?:[?;]\s+|,?\s+and\s+|,\s+)(?=(?:on |in |by |for |at |with |from )?(?:which|what|how|where|whom?|when|whose)\b)", re.I)


def focus(question: str) -> str | None:
    """The later asks of a compound question ("Which model does X, and what score did it reach?" →
    "what score did it reach?"): the first ask is what the opening answers (the paper and what it
    does); the later ones are what the evidence must add. None for a question that asks one thing."""
    parts = _ASK.split(question.strip())
    rest = " ".join(p for p in parts[1:] if p.strip())
    return rest or None


_VENUES = frozenset({"iclr", "icml", "neurips", "nips", "cvpr", "iccv", "eccv", "acl", "emnlp", "naacl", "aaai", "ijcai", "aistats",
                     "colt", "uai", "kdd", "arxiv", "openreview", "tmlr", "jmlr"})


def question_names(question: str) -> list[str]:
    """The names a question uses, as typed: acronyms and mixed-case words (FORCE, ReLIC), capitalized
    words after the first (Hanabi), alphanumeric tokens (GPT-3); not venue names or bare numbers."""
    out = []
    for i, t in enumerate(tokens(question)):
        low = t.lower()
        if low in _VENUES or low in STOPWORDS or len(t) < 2 or not any(c.isalpha() for c in t):
            continue
        if sum(c.isupper() for c in t) >= 2 or (i > 0 and t[0].isupper()) or (any(c.isdigit() for c in t)):
            out.append(t)
    return list(dict.fromkeys(out))


def _name_pattern(name: str) -> re.Pattern:
    """An acronym or mixed-case name matches only as typed ("FORCE" is not "force"); a capitalized word in any case."""
    flags = 0 if sum(c.isupper() for c in name) >= 2 else re.I
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w])", flags)


def names_in(text: str, names: list[str]) -> set[str]:
    """The ``names`` that ``text`` uses."""
    return {n for n in names if _name_pattern(n).search(text)}


def defines(sentence: str, names: list[str]) -> bool:
    """Whether ``sentence`` introduces one of ``names``: "… sensitivity (FORCE)", "called FORCE",
    "FORCE (foresight …)", "FORCE, a method that …"."""
    for n in names:
        e = re.escape(n)
        if re.search(r"\(\s*" + e + r"\s*[),;]|\b(?:called|dubbed|named|termed|coined|namely)\s+(?:the\s+)?" + e + r"\b|\b" + e
                     + r"\s*(?:\(|,\s+(?:a|an|which)\b)|\b(?:propose|introduce|present|develop)s?\s+" + e + r"\b", sentence,
                     0 if sum(c.isupper() for c in n) >= 2 else re.I):
            return True
    return False


_CONTINUES = re.compile(r"^(?:then|also|further(?:more)?|moreover|additionally|finally|lastly|second(?:ly)?|third(?:ly)?|next|besides|"
                        r"in addition)\b|\bwe\s+(?:\w+ly\s+)?(?:then|also|further|additionally|finally|next)\b", re.I)


def continues(sentence: str) -> bool:
    """Whether ``sentence`` continues the one before it ("We then propose…", "Finally, we…"): as the
    opening of an answer it reads as a fragment of a story told elsewhere."""
    return bool(_CONTINUES.search(sentence.strip()))


@dataclass
class Ranked:
    """A paper's sentences for one question, best first, with their scores and roles; ``qnames``: the
    names the question uses (:func:`question_names`); ``names``: those the paper's text uses."""

    sentences: list[str]
    scores: list[float]
    roles: dict[str, str]
    qnames: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    distinct: set[str] = field(default_factory=set)  # of ``names``, those few papers use (not "RL", "GAN": a field's acronyms)
    asked: set[str] = field(default_factory=set)  # sentences with what the question asks for (a name, a number, benchmarks)
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)  # of ``asked``, which each gives: "name", "number", "evaluated"
    # (the benchmarks or tasks asked for)
    headed: set[str] = field(default_factory=set)  # sentences naming the kind of thing a "what/which X" question asks for
    later: set[str] = field(default_factory=set)  # the sentence that best answers a compound question's later ask
    rare: set[str] = field(default_factory=set)  # the question's rare content words (stems)
    naming: set[str] = field(default_factory=set)  # sentences that give the paper's method a name ("we propose X")
    by_meaning: bool = False  # the scores include the cosine to the question (sentence vectors were given)

    def best(self, n: int) -> list[str]:
        return self.sentences[:n]

    def without_head(self) -> list[str]:
        """The sentences ranked without :data:`HEAD_BONUS`: naming the kind of thing asked for is what the evidence
        adds; the opening says what the paper does ("Which critic estimates…" had opened "addresses these challenges
        by … training the critic")."""
        return [s for _, s in sorted(zip(self.scores, self.sentences, strict=True),
                                     key=lambda x: -(x[0] - HEAD_BONUS * (x[1] in self.headed)))]

    def gives_name(self, sentence: str) -> bool:
        """Whether ``sentence`` gives the name a question asks for ("Which agent…": "Our method, SPR, trains…")."""
        return "name" in self.kinds.get(sentence, ())

    def carries(self, sentence: str) -> int:
        """How many of the question's names and rare words ``sentence`` uses."""
        n = len(names_in(sentence, self.qnames)) if self.qnames else 0
        return n + (len(set(content_terms(sentence)) & self.rare) if self.rare else 0)


def rank_sentences(text: PaperText, vectors: np.ndarray | None, qvec: np.ndarray | None, lexical: list[float],
                   want: set[str], question: str, focused: list[float] | None = None, rare: set[str] | None = None,
                   common: set[str] | None = None) -> Ranked:
    """``text``'s quotable sentences ordered by how well they answer the question.

    ``vectors``: the sentences' embeddings (rows in ``text.sentences`` order) or None; ``lexical``:
    each sentence's IDF-weighted share of the question's words; ``focused``: the same share of the
    words of the question's later asks (:func:`focus`), if it has any; ``rare``: the question's
    content words (stems) that few papers of the corpus use, which name what is asked about as
    much as a capitalized name does; ``common``: the question's names that many papers use ("RL", "GAN",
    "ImageNet"), which do not single out the paper asked about (``Ranked.distinct``)."""
    role_of = [("availability" if _AVAILABILITY.search(s) and not _ASKS_CODE.search(question)
                else "background" if r == "plain" and _OPEN_PROBLEM.search(s) and not _OWN.search(s) else r)
               for s, r in zip(text.sentences, roles(text.sentences), strict=True)]
    # asked why something fails: the sentences stating a problem answer it, the opening ones too
    problem = [bool(_PROBLEM_CUE.search(s)) for s in text.sentences] if "problem" in want else [False] * len(text.sentences)
    role_of = ["plain" if r == "background" and p else r for r, p in zip(role_of, problem, strict=True)]
    cands = [(i, s) for i, s in text.evidence_candidates()]
    scored = []
    asked: set[str] = set()
    kinds: dict[str, frozenset[str]] = {}
    later: set[str] = set()
    naming: set[str] = set()
    headed: set[str] = set()
    head = asked_head(focus(question) or question)  # a compound question's first ask is the opening's; the later one the evidence's
    for i, s in cands:
        cos = float(vectors[i] @ qvec) if vectors is not None and qvec is not None else 0.0
        role = role_of[i]
        score = cos + LEXICAL_WEIGHT * lexical[i] + ROLE_BONUS[role]
        if focused is not None:
            score += FOCUS_WEIGHT * focused[i]
            if focused[i] >= max(FOCUS_ASKED, max(focused)):
                later.add(s)  # the sentence that best answers the later ask
        gives = frozenset(k for k in ASKED_KINDS & want if _has_asked(s, role, {k}, question))  # a name, a number, benchmarks
        if gives or ("remedy" in want and role == "contribution") or problem[i]:
            score += ASKED_BONUS  # a remedy is any contribution; a problem, any sentence stating one
        if gives:
            asked.add(s)
            kinds[s] = gives
        if head and head in content_terms(s):
            score += HEAD_BONUS
            headed.add(s)
        if names_method(s, question):
            naming.add(s)
        score += SPECIFIC_BONUS * min(3, len(_new_names(s, question)))
        if len(words(s)) < SHORT_WORDS:
            score -= SHORT_PENALTY
        scored.append((score, -i, s))
    scored.sort(reverse=True)
    if scored and role_of[-scored[0][1]] == "background" and not want & (ASKED_KINDS | {"several", "problem"}):
        # an opening sentence that answers best even after its penalty is what a question about one paper asks about: "Why
        # do non-autoregressive translators rely on knowledge distillation?" for "KD is essential for training NAT models by
        # reducing the complexity of the raw data…" (blind_z bz-l-031); a paper among several asked for is introduced by
        # what it does, not by the field it starts from ("Spiking neural networks are a biologically plausible …"), and a
        # name, number, data or compute asked for is the paper's own ("Which adapted technique lets residual classifiers
        # without batch norm match…" had "Batch Normalization is a key component…" quoted in its place: bd-l-025); for a
        # problem question the opening sentences that state a problem are quoted, not the first ("Why do teacher-student
        # compression techniques … fall short on detectors…?" got "Knowledge distillation … has been proved as an
        # effective technique…": by-l-038)
        role_of[-scored[0][1]] = "plain"
    qnames = question_names(question)
    names = names_in(" ".join([text.paper.title, *text.sentences]), qnames) if qnames else set()
    return Ranked([s for _, _, s in scored], [sc for sc, _, _ in scored], {text.sentences[i]: role_of[i] for i, _ in cands},
                  qnames, names, names - set(common or ()), asked=asked, kinds=kinds, headed=headed, later=later, naming=naming, rare=set(rare or ()),
                  by_meaning=vectors is not None and qvec is not None)


# ---------------------------------------------------------------- the clause that says what a paper does

_LEAD_IN = r"(?:(?:in|with) this (?:paper|work|study|note)|here|to (?:this|that) end|to (?:address|tackle|solve|overcome|fill|bridge|remedy) " \
           r"(?:this|these|that|those|the)(?: \w+){0,3}|specifically|therefore|thus|hence|instead|finally|concretely|in particular|" \
           r"in contrast|motivated by (?:this|these)(?: \w+){0,2}|inspired by (?:this|these)(?: \w+){0,2}|based on (?:this|these)(?: \w+){0,2})"
# sentence-internal connectives: they tie a sentence to the one before it ("We then propose…"), so
# they are dropped when the sentence becomes a clause about the paper
_CONNECTIVE = r"(?:then|also|further|furthermore|moreover|first|firstly|second|secondly|third|thirdly|next|finally|lastly|" \
              r"additionally|subsequently|now|thus|hence|therefore|consequently|accordingly)"
_START = r"^(?:(?P<pre>[^.;:]{0,120}?),\s+)?(?:" + _LEAD_IN + r",?\s+)?(?:" + _CONNECTIVE + r",?\s+)?"
_ADVERB = r"(?:\w+ly|instead|rather|even|again|here)"  # before the verb: "we instead propose" → "instead proposes"
_WE_VERB = re.compile(_START + r"we\s+(?P<adv>(?:" + _ADVERB + r"\s+|" + _CONNECTIVE + r"\s+){0,3})(?P<verb>\w+(?:-\w+)*)\b", re.I)
_THIS_VERB = re.compile(_START + r"(?:this|the current|the present) (?:paper|work|study|note)\s+(?P<adv>(?:" + _ADVERB + r"\s+|" + _CONNECTIVE + r"\s+){0,3})(?P<verb>\w+s)\b", re.I)
_CONNECTIVE_WORD = re.compile(r"^" + _CONNECTIVE + r"$", re.I)
_IRREGULAR = {"go": "goes", "do": "does", "have": "has", "are": "is", "were": "was"}
_NOT_VERBS = frozenset({"the", "a", "an", "our", "this", "that", "these", "it", "its", "can", "will", "may", "must", "should", "would",
                        "could", "not"})
MAX_CLAUSE_WORDS = 26
MIN_CLAUSE_WORDS = 8


def third_person(verb: str) -> str:
    """propose → proposes, study → studies, address → addresses, are → is."""
    v = verb.lower()
    if v in _IRREGULAR:
        out = _IRREGULAR[v]
    elif v.endswith(("s", "x", "z", "ch", "sh", "o")):
        out = v + "es"
    elif v.endswith("y") and len(v) > 2 and v[-2] not in "aeiou":
        out = v[:-1] + "ies"
    else:
        out = v + "s"
    return out


def pronouns(rest: str) -> str:
    """The authors' voice as the paper's: we → they, our → their, us → them."""
    rest = re.sub(r"\bwe\b", "they", rest)
    rest = re.sub(r"\bWe\b", "They", rest)
    rest = re.sub(r"\bour\b", "their", rest)
    rest = re.sub(r"\bOur\b", "Their", rest)
    return re.sub(r"\bus\b", "them", rest)


# verbs a "we" sentence goes on with after "and" ("We develop X and provide a proof"): in the clause about the paper
# they take its third person too ("develops X and provides a proof")
_AND_VERBS = frozenset({"propose", "present", "introduce", "show", "demonstrate", "provide", "find", "prove", "develop", "design",
                        "derive", "establish", "offer", "study", "analyze", "analyse", "investigate", "evaluate", "conduct",
                        "release", "achieve", "obtain", "validate", "verify", "observe", "discuss", "identify", "explore", "extend",
                        "build", "construct", "create", "formulate", "illustrate",
                        "characterize", "characterise", "argue", "report", "reveal", "confirm", "outperform", "compare"})
_AND_VERB = re.compile(r"(?P<join>,?\s+and\s+(?:(?:also|then|further|finally|empirically|theoretically|experimentally)\s+)?)(?P<verb>[a-z]+)\b")
_NOT_FINITE = re.compile(r"\bto\s+\w+|\b(?:can|could|may|might|will|would|should|must|helps?|let|lets|allows?\s+\w+\s+to)\b", re.I)


def _coordinated(rest: str) -> str:
    """``rest`` (what follows "we <verb>") with the verbs coordinated to that verb in the third person: "… X and
    show that …" → "… X and shows that …"; not after an infinitive or a modal ("to prune and show", "can learn and
    adapt"), whose verbs are not the paper's."""
    def fix(m: re.Match) -> str:
        verb = m.group("verb")
        if verb not in _AND_VERBS or _NOT_FINITE.search(rest[:m.start()]):
            return m.group(0)
        return m.group("join") + third_person(verb)
    return _AND_VERB.sub(fix, rest)


def lead_clause(sentence: str) -> str | None:
    """The sentence as a clause whose subject is the paper: "We propose X, which …" → "proposes X,
    which …"; "This paper studies Y" → "studies Y". None when the sentence does not start that way."""
    s = sentence.strip()
    m = _WE_VERB.match(s)
    if m and m.group("verb").lower() not in _NOT_VERBS:
        adverbs, verb = m.group("adv"), m.group("verb")
        if verb.lower().endswith("ed") or verb.lower().endswith("ing"):
            return None  # "we proposed", "we being": not the present tense this rewrite handles
        rest = _coordinated(s[m.end():])
        return _context(m.group("pre")) + (_adverbs(adverbs) + third_person(verb) + pronouns(rest)).strip()
    m = _THIS_VERB.match(s)
    if m:
        return _context(m.group("pre")) + (_adverbs(m.group("adv")) + m.group("verb") + pronouns(s[m.end():])).strip()
    m = _OUR_NAMED.match(s)
    if m:
        return f"proposes {m.group('name')}, which {m.group('verb')}{pronouns(m.group('rest'))}"
    return None


# "Our method, Self-Predictive Representations (SPR), trains an agent to …" → "proposes Self-Predictive Representations
# (SPR), which trains an agent to …" (dev d012: the sentence that names what a "Which agent…" question asks for)
_OUR_NAMED = re.compile(r"^our\s+(?:\w+\s+){0,2}?" + _OUR_NOUN + r",\s+(?P<name>(?-i:[A-Z])[^,]{1,80}?),\s+(?P<verb>[a-z]+s)\b(?P<rest>.*)$", re.I | re.S)


_FRAME = re.compile(r"^(?:" + _LEAD_IN + r"|" + _CONNECTIVE + r"|however|yet|but|still|in addition|in (?:this|the present) "
                    r"(?:project|article|paper|work)|to (?:the best of )?our (?:best )?knowledge|as a result|in practice|"
                    r"in summary|overall|first of all|at a high level)$", re.I)
MAX_CONTEXT_WORDS = 12
_FRAME_START = re.compile(r"^(?:" + _LEAD_IN + r"|" + _CONNECTIVE + r"|however|yet|but|still|in addition|as a result|in practice|"
                          # "To avoid this, algorithms can…" (blind_p bp-l-010): a purpose that points back to the sentence before
                          r"to (?:avoid|address|overcome|solve|tackle|remedy|fix|mitigate|alleviate|prevent) (?:this|these|that|those|it)"
                          r"(?: \w+)?|"
                          r"surprisingly|interestingly|notably|importantly|crucially|in summary|overall|first of all),\s+", re.I)


def unframed(sentence: str) -> str:
    """``sentence`` without a connective that ties it to the one before ("Instead, the nonlinear Hawkes
    process allows…" → "The nonlinear Hawkes process allows…"), for a sentence shown on its own."""
    rest = _FRAME_START.sub("", sentence, count=1)
    return rest[:1].upper() + rest[1:] if rest != sentence and len(words(rest)) >= 4 else sentence


def _context(pre: str | None) -> str:
    """What a sentence says before its "we …" that carries a name or number ("Applying this methodology
    to the ImageNet dataset, we create…"), as an aside after the paper's name: ", applying this
    methodology to the ImageNet dataset, "; "" when it only frames ("In this paper", "To this end")."""
    if not pre:
        return ""
    parts = [p.strip() for p in pre.split(",") if p.strip() and not _FRAME.match(p.strip())]
    kept = ", ".join(parts)
    if not kept or len(kept.split()) > MAX_CONTEXT_WORDS or not any(any(c.isalpha() for c in k) for k in key_tokens(" " + kept)):
        return ""
    if len(kept) > 1 and kept[1].islower():
        kept = kept[0].lower() + kept[1:]
    return ", " + pronouns(kept) + ", "


def _adverbs(text: str) -> str:
    """The adverbs before the verb without the connectives ("then", "also", "further", "first"):
    "first theoretically " → "theoretically "."""
    kept = [w.lower() for w in text.split() if not _CONNECTIVE_WORD.match(w) and w.lower() not in ("additionally", "here")]
    return "".join(w + " " for w in kept)


def shorten(clause: str, max_words: int = MAX_CLAUSE_WORDS) -> str:
    """``clause`` cut at a natural boundary (a comma, a semicolon, "which", "by", "and") before
    ``max_words`` words, ending in "…" when cut; unchanged when short."""
    toks = clause.split()
    if len(toks) <= max_words:
        return clause.rstrip(" .")
    marks = [i for i, t in enumerate(toks) if _ENUM_MARK.match(t)]
    if marks and MIN_CLAUSE_WORDS <= marks[0] < max_words:
        return " ".join(toks[:marks[0]]).rstrip(",;: ") + " …"  # never cut inside an enumeration: before its first item
    if len(marks) > 1 and marks[0] < MIN_CLAUSE_WORDS and MIN_CLAUSE_WORDS <= marks[1] <= max_words:
        return " ".join(toks[:marks[1]]).rstrip(",;: ") + " …"  # … or after its first item, when that is all there is room for
    rest = " ".join(toks[max_words:])
    named = _NAME_PHRASE.search(rest)
    if named and len(named.group(0).split()) <= MAX_NAME_WORDS:
        # the clause names the paper's method past the cut ("…, introducing Metric Mix, or Metrix"):
        # the name is what a reader asks for, so it is kept after a shorter head
        phrase = named.group(0).rstrip(",;: ")
        tail = "" if not rest[named.end():].strip(" .,;:") else " …"
        return _cut(toks, max(MIN_CLAUSE_WORDS, max_words - len(phrase.split()))) + " … " + phrase + tail
    return _cut(toks, max_words) + " …"


def _cut(toks: list[str], max_words: int) -> str:
    """The first words of ``toks``, at most ``max_words``, ending at a natural boundary when there is one."""
    cut = None
    for i in range(min(max_words, len(toks)), MIN_CLAUSE_WORDS - 1, -1):
        tok = toks[i - 1]
        nxt = toks[i].lower() if i < len(toks) else ""
        if tok.endswith((",", ";", ":")) or nxt in ("which", "that", "where", "while", "whereas", "and", "by", "with", "to", "for", "using"):
            cut = i
            break
    return " ".join(toks[:cut or max_words]).rstrip(",;: ")


MAX_NAME_WORDS = 8  # a name phrase kept past a clause's cut: "introducing Metric Mix, or Metrix"
# a method named in a clause: "called X", "introducing X, or Y", "… sensitivity (FORCE)"
_NAME_PHRASE = re.compile(r"\b(?:called|dubbed|named|termed|coined|introducing|proposing|namely)\s+(?:the\s+|a\s+|an\s+)?"
                          r"[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*(?:,?\s+or\s+[A-Z][\w-]*)?(?:\s+\([A-Z][\w-]*\))?"
                          r"|(?:\b[A-Z][\w-]*\s+){0,5}\((?=[\w-]*[A-Z][\w-]*[A-Z])[\w-]+\)")


_ENUM_MARK = re.compile(r"^\((?:\d{1,2}|i{1,3}|iv|v|vi{1,3}|[a-h])\)[:,]?$|^(?:\d{1,2}|i{1,3}|iv|v|[a-h])\)[:,]?$", re.I)


def clause_terms(clause: str) -> set[str]:
    return set(content_terms(clause))
