"""The sixth round's candidate sentence-choice rules (:data:`rag.comparison.SIXTH_ROUND_RULES`): measured by
leave-one-file-out (``bench/cell_cv.py``), none gained out of sample, so each ships at the value that reproduces the
earlier behaviour (0 for a new rule, the old hand-set weight for one made adjustable)."""

from __future__ import annotations

import pytest

from rag import comparison
from rag.comparison import RULES, SIXTH_ROUND_RULES, specific_terms, vague_named

pytestmark = pytest.mark.usefixtures("rules_scorer")  # these tests pin what the hand-written rules choose

OLD_HAND_WEIGHTS = {"problem_opening": 0.35, "problem_first": 0.1, "problem_before_contribution": 0.2}


def test_candidates_ship_with_the_earlier_behaviour():
    for k in SIXTH_ROUND_RULES:
        assert RULES[k] == OLD_HAND_WEIGHTS.get(k, 0.0), k


def test_specific_terms_counts_technical_terms_not_common_compounds():
    assert specific_terms("This bottleneck causes the over-squashing of information into fixed-size vectors.") == 2
    assert specific_terms("We propose to minimize the mean squared error (MSE) between representations.") == 1
    assert specific_terms("Using the connection to Neural Tangent Kernels, we provide activation functions.") == 1
    assert specific_terms("Our state-of-the-art model is trained end-to-end on real-world data.") == 0


def test_vague_contribution_names_nothing():
    title = "Conditional Negative Sampling for Contrastive Learning of Visual Representations"
    assert not vague_named("We propose a new model, which jointly learns on context and structure.", title, set())
    assert vague_named("We propose Co-Mixup, a batch mixup method.", title, set())
    assert vague_named("We propose a method called Correct and Smooth.", title, set())


def test_vague_contribution_moves_the_method_to_the_sentence_that_details_it(monkeypatch):
    from rag.models import Paper
    from rag.support import paper_text

    p = Paper("ptest", "Language-Agnostic Representation Learning of Source Code from Structure and Context", (
        "Source code (Context) and its parsed abstract syntax tree (AST; Structure) are two complementary representations "
        "of the same computer program. Traditionally, designers of machine learning models have relied predominantly either "
        "on Structure or Context. We propose a new model, which jointly learns on Context and Structure of source code. In "
        "contrast to previous approaches, our model uses only language-agnostic features, i.e., source code and features that "
        "can be computed directly from the AST. We show that jointly training on non-parallel data from multiple programming "
        "languages improves results on all individual languages."), (), "ICLR", 2021, "Poster")
    t = paper_text(p)
    assert "language-agnostic features" not in comparison.extract_cell("method", t).text
    monkeypatch.setitem(comparison.RULES, "vague_contribution", 1.0)
    assert "language-agnostic features" in comparison.extract_cell("method", t).text
