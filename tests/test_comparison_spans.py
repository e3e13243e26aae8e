"""The span guards of the fifth round (:data:`rag.comparison.RULES` ``span_min_terms``, ``problem_min_terms``,
``data_list_anchor``, and the dangling-preposition trim) on real abstracts of the corpus: each guard keeps
what a shorter cut of the same sentence would lose, and switched off, the cell is the over-trimmed span."""

from __future__ import annotations

import pytest

from rag import comparison
from rag.comparison import DEFAULT_COLUMNS, extract_table, span_for
from rag.models import Paper

pytestmark = pytest.mark.usefixtures("rules_scorer")  # these tests pin what the hand-written rules choose

OMPNET = Paper('pdff21e661d68', 'Learning Task Decomposition with Ordered Memory Policy Network', (
    'Many complex real-world tasks are composed of several levels of subtasks. Humans leverage these hierarchical structures '
    'to accelerate the learning process and achieve better generalization. In this work, we study the inductive bias and '
    'propose Ordered Memory Policy Network (OMPNet) to discover subtask hierarchy by learning from demonstration. The '
    'discovered subtask hierarchy could be used to perform task decomposition, recovering the subtask boundaries in an '
    'unstructured demonstration. Experiments on Craft and Dial demonstrate that our model can achieve higher task '
    'decomposition performance under both unsupervised and weakly supervised settings, comparing with strong baselines. '
    'OMPNet can also be directly applied to partially observable environments and still achieve higher task decomposition '
    'performance. Our visualization further confirms that the subtask hierarchy can emerge in our model 1.'),
    (), 'ICLR', 2021, 'Poster')

EVOLVING_RL = Paper('p83a2afdb4a34', 'Evolving Reinforcement Learning Algorithms', (
    'We propose a method for meta-learning reinforcement learning algorithms by searching over the space of computational '
    'graphs which compute the loss function for a value-based model-free RL agent to optimize. The learned algorithms are '
    'domain-agnostic and can generalize to new environments not seen during training. Our method can both learn from scratch '
    'and bootstrap off known existing algorithms, like DQN, enabling interpretable modifications which improve performance. '
    'Learning from scratch on simple classical control and gridworld tasks, our method rediscovers the temporal-difference '
    '(TD) algorithm. Bootstrapped from DQN, we highlight two learned algorithms which obtain good generalization performance '
    'over other classical control tasks, gridworld type tasks, and Atari games. The analysis of the learned algorithm '
    'behavior shows resemblance to recently proposed RL algorithms that address overestimation in value-based methods.'),
    (), 'ICLR', 2021, 'Oral')

MODULAR_CL = Paper('p4ec2b40e66b4', 'Efficient Continual Learning with Modular Networks and Task-Driven Priors', (
    'Existing literature in Continual Learning (CL) has focused on overcoming catastrophic forgetting, the inability of the '
    'learner to recall how to perform tasks observed in the past. There are however other desirable properties of a CL '
    'system, such as the ability to transfer knowledge from previous tasks and to scale memory and compute sub-linearly with '
    'the number of tasks. Since most current benchmarks focus only on forgetting using short streams of tasks, we first '
    'propose a new suite of benchmarks to probe CL algorithms across these new axes. Finally, we introduce a new modular '
    'architecture, whose modules represent atomic skills that can be composed to perform a certain task. Learning a task '
    'reduces to figuring out which past modules to re-use, and which new modules to instantiate to solve the current task. '
    'Our learning algorithm leverages a task-driven prior over the exponential search space of all possible ways to combine '
    'modules, enabling efficient learning on long streams of tasks. Our experiments show that this modular architecture and '
    'learning algorithm perform competitively on widely used CL benchmarks while yielding superior performance on the more '
    'challenging benchmarks we introduce in this work. The Benchmark is publicly available at '
    '<https://github.com/facebookresearch/CTrLBenchmark>.'),
    (), 'ICLR', 2021, 'Poster')

RESHAPING = Paper('p6abaaaacdcc2', 'Plan-Based Relaxed Reward Shaping for Goal-Directed Tasks', (
    'In high-dimensional state spaces, the usefulness of Reinforcement Learning (RL) is limited by the problem of '
    'exploration. This issue has been addressed using potential-based reward shaping (PB-RS) previously. In the present '
    'work, we introduce Final-Volume-Preserving Reward Shaping (FV-RS). FV-RS relaxes the strict optimality guarantees of '
    'PB-RS to a guarantee of preserved long-term behavior. Being less restrictive, FV-RS allows for reward shaping functions '
    'that are even better suited for improving the sample efficiency of RL algorithms. In particular, we consider settings in '
    'which the agent has access to an approximate plan. Here, we use examples of simulated robotic manipulation tasks to '
    'demonstrate that plan-based FV-RS can indeed significantly improve the sample efficiency of RL over plan-based PB-RS.'),
    (), 'ICLR', 2021, 'Poster')

CASES = [  # paper, column, the guard, text the cell must hold, the over-trimmed cell without the guard
    (OMPNET, "problem", "problem_min_terms", "discover subtask hierarchy", "the inductive bias"),
    (EVOLVING_RL, "data", "data_list_anchor", "classical control tasks, gridworld type tasks, and Atari games", "Atari games"),
    (MODULAR_CL, "method", "span_min_terms", "modular architecture and learning algorithm", "in this work"),
]


def _cell(paper: Paper, column: str):
    return extract_table([paper], list(DEFAULT_COLUMNS)).rows[0].cells[column]


@pytest.mark.parametrize(("paper", "column", "rule", "wanted", "trimmed"), CASES, ids=[f"{c[2]}-{c[1]}" for c in CASES])
def test_each_guard_keeps_what_the_cut_would_lose(monkeypatch, paper, column, rule, wanted, trimmed):
    cell = _cell(paper, column)
    assert wanted in cell.text and cell.text in cell.sentence
    monkeypatch.setitem(comparison.RULES, rule, 0)
    assert _cell(paper, column).text == trimmed


def test_a_span_does_not_end_on_a_dangling_preposition():
    cell = _cell(RESHAPING, "data")
    assert cell.text == "robotic manipulation tasks"  # not "… tasks to" (the sentence goes on "to demonstrate that …")


def test_the_guards_leave_good_short_spans_alone():
    # a problem span with enough content words, a data span that is only a named data set, a named method
    assert span_for("problem", "In this paper, we focus on the problem of learning with noisy labels and introduce compression "
                               "inductive bias to network architectures to alleviate this over-fitting problem.") == "learning with noisy labels"
    assert span_for("data", "Each method achieves state-of-the-art results on ImageNet.") == "on ImageNet"
    assert span_for("method", "In the present work, we introduce Final-Volume-Preserving Reward Shaping (FV-RS).") == \
        "Final-Volume-Preserving Reward Shaping (FV-RS)"
