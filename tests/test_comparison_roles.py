"""The learned sentence-role scorer of comparison cells (:mod:`rag.cell_roles`): its features, its
choice (added to the rules', the default) on real abstracts of the tuning label files, and that ``bench/fit_cell_roles.py`` reproduces
the shipped coefficients."""

from __future__ import annotations

import numpy as np
import pytest

from rag import cell_roles, comparison
from rag.comparison import DEFAULT_COLUMNS, extract_table, sentence_features, sentences_of
from rag.comparison_eval import contains_terms
from rag.support import paper_text
from tests.test_comparison_rules import TILTED, WAYPOINTS


def test_every_feature_column_is_named_and_every_column_has_a_model():
    of = sentences_of(paper_text(WAYPOINTS))
    x = sentence_features(of, WAYPOINTS.title)
    assert x.shape == (len(of.sents), len(cell_roles.FEATURES))
    assert np.isfinite(x).all()
    assert set(cell_roles.MODEL) == set(DEFAULT_COLUMNS)
    for m in cell_roles.MODEL.values():
        assert len(m["coef"]) == len(m["mean"]) == len(m["scale"]) == len(cell_roles.FEATURES)
        assert np.abs(m["coef"]).sum() > 0


@pytest.mark.parametrize(("paper", "column", "terms"), [
    (WAYPOINTS, "data", ["Replica and Matterport3D"]),  # the rules alone pick the "audio-visual navigation" sentence
    (TILTED, "result", ["competitive with existing solutions"]),  # … and a sentence on outliers
])
def test_the_default_scorer_adds_the_learned_roles_and_picks_the_labelled_sentence(paper, column, terms):
    assert comparison.SCORER == "combined"
    rules = extract_table([paper], list(DEFAULT_COLUMNS), scorer="rules").rows[0].cells[column]
    default = extract_table([paper], list(DEFAULT_COLUMNS)).rows[0].cells[column]
    assert not contains_terms(rules.sentence, terms), rules.sentence
    assert contains_terms(default.sentence, terms), default.sentence
    assert contains_terms(default.text, terms), default.text


@pytest.mark.parametrize("column", DEFAULT_COLUMNS)
def test_the_learned_scorer_alone_picks_its_highest_scoring_sentence(column):
    learned = extract_table([TILTED], list(DEFAULT_COLUMNS), scorer="learned").rows[0].cells[column]
    of = sentences_of(paper_text(TILTED))
    scores = cell_roles.role_scores(column, sentence_features(of, TILTED.title))
    best = of.sents[int(np.argmax(scores))]
    # a problem sentence that only points back ("we address this …") hands over to the one before it
    assert learned.sentence in (best, of.sents[max(0, of.sents.index(best) - 1)])


def test_the_rules_still_decide_whether_a_cell_is_empty():
    text = paper_text(WAYPOINTS)
    for column in DEFAULT_COLUMNS:
        rules = comparison.extract_cell(column, text, scorer="rules")
        for scorer in ("learned", "combined"):
            assert bool(comparison.extract_cell(column, text, scorer=scorer).text) == bool(rules.text)


def test_the_fitting_script_reproduces_the_shipped_coefficients():
    from bench import fit_cell_roles as fit

    fit.set_rules(fit.SHIPPED_RULES)
    l2, feats = fit.SHIP
    model = fit.fit_model(fit.examples(), l2, feats)
    for column, m in model.items():
        shipped = cell_roles.MODEL[column]
        for key in ("mean", "scale", "coef"):
            np.testing.assert_allclose(m[key], shipped[key], atol=1e-4, err_msg=f"{column} {key}")
