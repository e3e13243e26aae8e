"""The third round of sentence-choice and span rules (:data:`rag.comparison.RULES`) on real abstracts of the
corpus (papers of the tuning label files): each rule, switched off, loses the cell the label asks for."""

from __future__ import annotations

import pytest

from rag import comparison
from rag.comparison import DEFAULT_COLUMNS, extract_table
from rag.models import Paper

pytestmark = pytest.mark.usefixtures("rules_scorer")  # these tests pin what the hand-written rules choose

WAYPOINTS = Paper('pdd24449d5597', 'Learning to Set Waypoints for Audio-Visual Navigation', (
    'In audio-visual navigation, an agent intelligently travels through a complex, unmapped 3D environment using both sights '
    'and sounds to find a sound source (e.g., a phone ringing in another room). Existing models learn to act at a fixed '
    'granularity of agent motion and rely on simple recurrent aggregations of the audio observations. We introduce a '
    'reinforcement learning approach to audio-visual navigation with two key novel elements: 1) waypoints that are '
    'dynamically set and learned end-to-end within the navigation policy, and 2) an acoustic memory that provides a '
    'structured, spatially grounded record of what the agent has heard as it moves. Both new ideas capitalize on the synergy '
    'of audio and visual data for revealing the geometry of an unmapped space. We demonstrate our approach on two challenging'
    ' datasets of real-world 3D scenes, Replica and Matterport3D. Our model improves the state of the art by a substantial '
    'margin, and our experiments reveal that learning the links between sights, sounds, and space is essential for audio-'
    'visual navigation.'),
    (), 'ICLR', 2021, 'Poster')

SPATIAL_MEMORY = Paper('pd886ceede33b', 'End-to-End Egospheric Spatial Memory', (
    "Spatial memory, or the ability to remember and recall specific locations and objects, is central to autonomous agents' "
    'ability to carry out tasks in real environments. However, most existing artificial memory modules are not very adept at '
    'storing spatial information. We propose a parameter-free module, Egospheric Spatial Memory (ESM), which encodes the '
    'memory in an ego-sphere around the agent, enabling expressive 3D representations. ESM can be trained end-to-end via '
    'either imitation or reinforcement learning, and improves both training efficiency and final performance against other '
    'memory baselines on both drone and manipulator visuomotor control tasks. The explicit egocentric geometry also enables '
    'us to seamlessly combine the learned controller with other non-learned modalities, such as local obstacle avoidance. We '
    'further show applications to semantic segmentation on the ScanNet dataset, where ESM naturally combines image-level and '
    'map-level inference modalities. Through our broad set of experiments, we show that ESM provides a general computation '
    'graph for embodied spatial reasoning, and the module forms a bridge between real-time mapping systems and differentiable'
    ' memory architectures. Implementation at: <https://github.com/ivy-dl/memory>.'),
    (), 'ICLR', 2021, 'Poster')

IMITATION = Paper('pdb7da8f0d70e', 'Domain-Robust Visual Imitation Learning with Mutual Information Constraints', (
    'Human beings are able to understand objectives and learn by simply observing others perform a task. Imitation learning '
    'methods aim to replicate such capabilities, however, they generally depend on access to a full set of optimal states and'
    " actions taken with the agent's actuators and from the agent's point of view. In this paper, we introduce a new "
    'algorithm - called Disentangling Generative Adversarial Imitation Learning (DisentanGAIL) - with the purpose of '
    'bypassing such constraints. Our algorithm enables autonomous agents to learn directly from high dimensional observations'
    ' of an expert performing a task, by making use of adversarial learning with a latent representation inside the '
    'discriminator network. Such latent representation is regularized through mutual information constraints to incentivize '
    'learning only features that encode information about the completion levels of the task being demonstrated. This allows '
    'to obtain a shared feature space to successfully perform imitation while disregarding the differences between the '
    "expert's and the agent's domains. Empirically, our algorithm is able to efficiently imitate in a diverse range of "
    'control problems including balancing, manipulation and locomotive tasks, while being robust to various domain '
    'differences in terms of both environment appearance and agent embodiment.'),
    (), 'ICLR', 2021, 'Poster')

HYPERBOLIC = Paper('pb1b59ed6fa34', 'Hyperbolic Neural Networks++', (
    'Hyperbolic spaces, which have the capacity to embed tree structures without distortion owing to their exponential volume'
    ' growth, have recently been applied to machine learning to better capture the hierarchical nature of data. In this '
    'study, we generalize the fundamental components of neural networks in a single hyperbolic geometry model, namely, the '
    'Poincaré ball model. This novel methodology constructs a multinomial logistic regression, fully-connected layers, '
    'convolutional layers, and attention mechanisms under a unified mathematical interpretation, without increasing the '
    'parameters. Experiments show the superior parameter efficiency of our methods compared to conventional hyperbolic '
    'components, and stability and outperformance over their Euclidean counterparts.'),
    (), 'ICLR', 2021, 'Poster')

TO_PRUNE = Paper('pe4d72c9cbd46', 'To prune, or not to prune: exploring the efficacy of pruning for model compression', (
    "Model pruning seeks to induce sparsity in a deep neural network's various connection matrices, thereby reducing the "
    'number of nonzero-valued parameters in the model. Recent reports (Han et al., 2015; Narang et al., 2017) prune deep '
    'networks at the cost of only a marginal loss in accuracy and achieve a sizable reduction in model size. This hints at '
    'the possibility that the baseline models in these experiments are perhaps severely over-parameterized at the outset and '
    'a viable alternative for model compression might be to simply reduce the number of hidden units while maintaining the '
    "model's dense connection structure, exposing a similar trade-off in model size and accuracy. We investigate these two "
    'distinct paths for model compression within the context of energy-efficient inference in resource-constrained '
    'environments and propose a new gradual pruning technique that is simple and straightforward to apply across a variety of'
    ' models/datasets with minimal tuning and can be seamlessly incorporated within the training process. We compare the '
    'accuracy of large, but pruned models (large-sparse) and their smaller, but dense (small-dense) counterparts with '
    'identical memory footprint. Across a broad range of neural network architectures (deep CNNs, stacked LSTM, and seq2seq '
    'LSTM models), we find large-sparse models to consistently outperform small-dense models and achieve up to 10x reduction '
    'in number of non-zero parameters with minimal loss in accuracy.'),
    (), None, None, None)

SOURCE_CODE = Paper('p83e4c378485b', 'Language-Agnostic Representation Learning of Source Code from Structure and Context', (
    'Source code (Context) and its parsed abstract syntax tree (AST; Structure) are two complementary representations of the '
    'same computer program. Traditionally, designers of machine learning models have relied predominantly either on Structure'
    ' or Context. We propose a new model, which jointly learns on Context and Structure of source code. In contrast to '
    'previous approaches, our model uses only language-agnostic features, i.e., source code and features that can be computed'
    ' directly from the AST. Besides obtaining state-of-the-art on monolingual code summarization on all five programming '
    'languages considered in this work, we propose the first multilingual code summarization model. We show that jointly '
    'training on non-parallel data from multiple programming languages improves results on all individual languages, where '
    'the strongest gains are on low-resource languages. Remarkably, multilingual training only from Context does not lead to '
    'the same improvements, highlighting the benefits of combining Structure and Context for representation learning on code.'),
    (), 'ICLR', 2021, 'Poster')

TILTED = Paper('p8464f61793ed', 'Tilted Empirical Risk Minimization', (
    'Empirical risk minimization (ERM) is typically designed to perform well on the average loss, which can result in '
    'estimators that are sensitive to outliers, generalize poorly, or treat subgroups unfairly. While many methods aim to '
    'address these problems individually, in this work, we explore them through a unified framework---tilted empirical risk '
    'minimization (TERM). In particular, we show that it is possible to flexibly tune the impact of individual losses through'
    ' a straightforward extension to ERM using a hyperparameter called the tilt. We provide several interpretations of the '
    'resulting framework: We show that TERM can increase or decrease the influence of outliers, respectively, to enable '
    'fairness or robustness; has variance-reduction properties that can benefit generalization; and can be viewed as a smooth'
    ' approximation to a superquantile method. We develop batch and stochastic first-order optimization methods for solving '
    'TERM, and show that the problem can be efficiently solved relative to common alternatives. Finally, we demonstrate that '
    'TERM can be used for a multitude of applications, such as enforcing fairness between subgroups, mitigating the effect of'
    ' outliers, and handling class imbalance. TERM is not only competitive with existing solutions tailored to these '
    'individual problems, but can also enable entirely new applications, such as simultaneously addressing outliers and '
    'promoting fairness.'),
    (), 'ICLR', 2021, 'Poster')

CASES = [  # paper, column, the rule that gets it right, text the cell must hold
    (WAYPOINTS, "result", "result_clause", "improves the state of the art by a substantial margin"),
    (SPATIAL_MEMORY, "result", "compared_result", "improves both training efficiency and final performance against other memory baselines"),
    (IMITATION, "data", "first_data_anchor", "balancing, manipulation and locomotive tasks"),
    (HYPERBOLIC, "problem", "method_verb", "embed tree structures without distortion"),
    (TO_PRUNE, "problem", "asks_then_proposes", "two distinct paths for model compression"),
    (SOURCE_CODE, "problem", "more_gap_words", "relied predominantly either on Structure or Context"),
    (TILTED, "data", "listed_settings", "handling class imbalance"),
]


def _cell(paper: Paper, column: str):
    return extract_table([paper], list(DEFAULT_COLUMNS)).rows[0].cells[column]


@pytest.mark.parametrize(("paper", "column", "rule", "wanted"), CASES, ids=[f"{c[2]}-{c[1]}" for c in CASES])
def test_each_rule_gets_its_cell_and_without_it_the_cell_is_lost(monkeypatch, paper, column, rule, wanted):
    cell = _cell(paper, column)
    assert wanted in cell.text and cell.text in cell.sentence
    monkeypatch.setitem(comparison.RULES, rule, 0)
    assert wanted not in _cell(paper, column).text


def test_the_problem_is_not_the_sentence_that_states_the_method():
    cells = extract_table([HYPERBOLIC], list(DEFAULT_COLUMNS)).rows[0].cells
    assert "we generalize" not in cells["problem"].sentence
    assert cells["problem"].sentence != cells["method"].sentence


def test_a_span_keeps_the_clause_with_the_finding_but_still_stops_before_other_content():
    result = _cell(WAYPOINTS, "result").text
    assert result.startswith("Our model improves")  # not only what follows "our experiments reveal that"
    data = _cell(IMITATION, "data").text
    assert "environment appearance" not in data and "while being robust" not in data  # the data span still ends at the clause
