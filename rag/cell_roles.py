"""Learned sentence roles for comparison cells: per default column (problem, method, data, result), a
logistic-regression score of how likely an abstract sentence holds that column's labelled key terms,
from the features :func:`rag.comparison.sentence_features` computes (position, length, the rule
scores, the sentence's role, cue words, numbers, names).

The coefficients below are written by ``bench/fit_cell_roles.py`` (fitted on the two tuning label
files, ``eval/compare_labels.jsonl`` and ``eval/compare_labels_tune2.jsonl``); runtime needs only numpy.
"""

from __future__ import annotations

import numpy as np

FEATURES = ("position", "first", "last", "length",
            "rule_problem", "rule_method", "rule_data", "rule_result",
            "role_background", "role_other", "role_contribution", "role_result", "role_plain",
            "before_contribution", "just_before_contribution", "first_contribution",
            "intro", "strong_intro", "use_verb", "named", "our_method", "self", "novel", "method_words", "method_verb",
            "names", "title_acronym", "title_name", "reused_name_defined", "title_overlap",
            "problem_cues", "turn", "problem_verb", "points_back", "gap_cues", "question", "modal",
            "report", "report_that", "result_cues", "strong_result", "compared", "number_units", "number", "percent",
            "datasets", "named_data", "listed_names", "data_strong", "data_cues", "tasks", "settings_list",
            "capitalized")

# BEGIN FITTED (bench/fit_cell_roles.py)
MODEL: dict = {}
# END FITTED


def role_scores(column: str, features: np.ndarray, model: dict | None = None) -> np.ndarray:
    """The log-odds, one per sentence (a row of ``features``), that the sentence states ``column``."""
    m = (model or MODEL)[column]
    x = (features - np.asarray(m["mean"])) / np.asarray(m["scale"])
    return x @ np.asarray(m["coef"]) + m["intercept"]
