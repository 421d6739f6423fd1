"""LaNAS: every architecture its samplers draw satisfies all constraints of its region (exact and
hit-and-run, on NAS-Bench-201 and on a product space of 10^13), UCB as the paper writes it, a
deterministic partition, reproducible runs, the large-space mode recording what it could not
sample, and clear errors for bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_agents import ToyEvaluator

from nasgym.agents import lanas as lanas_module
from nasgym.agents import make_agent
from nasgym.agents.lanas import (
    ExactLeafSampler,
    LaNAS,
    PartitionTree,
    PolytopeLeafSampler,
    affine_features,
    hit_and_run_step,
    ucb,
)
from nasgym.envs import GlobalNASEnv
from nasgym.spaces import SearchSpace
from nasgym.spaces.darts import DartsSpace
from nasgym.spaces.nb201 import NB201Space

#: a plain product space of 10^13 architectures (13 decisions of 10 choices): far too large to enumerate.
LARGE = SearchSpace("large", [f"d{i}" for i in range(13)], [tuple(f"c{j}" for j in range(10))] * 13)


def fitted_tree(
    space: SearchSpace, encode, seed: int, n: int = 120, height: int = 5
) -> tuple[PartitionTree, np.ndarray]:
    """A tree fitted on ``n`` uniform architectures whose value is a random linear function of their
    features plus noise; returns it and the choice vectors it was fitted on."""
    rng = np.random.default_rng(seed)
    choices = np.asarray(space.canonical(space.sample(rng, n)))
    features = encode(choices)
    values = features @ rng.normal(size=features.shape[1]) + 0.1 * rng.normal(size=n)
    tree = PartitionTree(height, features.shape[1])
    tree.fit(features, values)
    return tree, choices


def leaves(tree: PartitionTree) -> list[int]:
    """The regions a descent can end in: children of split nodes that are not split themselves."""
    children = [c for n in range(tree.n_internal) if tree.is_split[n] for c in (2 * n + 1, 2 * n + 2)]
    return [c for c in children if c >= tree.n_internal or not tree.is_split[c]]


# --- every sample lies in its region ------------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**20))
def test_exact_samples_satisfy_every_constraint_of_their_region(seed):
    space = NB201Space()
    sampler = ExactLeafSampler(space)
    tree, _ = fitted_tree(space, lambda c: sampler.features[space.index_of(c)], seed)
    sampler.repartition(tree)
    rng = np.random.default_rng(seed)
    assert len(leaves(tree)) >= 4
    for node in leaves(tree):
        drawn = np.array([sampler.sample(node, rng) for _ in range(20)])
        indices = space.index_of(drawn)
        assert tree.satisfies(node, sampler.encode(indices, drawn)).all()
        assert (tree.leaf_of(sampler.features[indices]) == node).all()


@pytest.mark.parametrize("space", [NB201Space(), LARGE, DartsSpace()], ids=lambda s: s.name)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**20))
def test_hit_and_run_samples_satisfy_every_constraint_of_their_region(space, seed):
    """Forced large-space mode: the architectures kept are in their region, all constraints of the
    path (and hit-and-run finds some in every region that has samples to start from)."""
    sampler = PolytopeLeafSampler(space)
    tree, fitted = fitted_tree(space, lambda c: sampler.encode(None, c), seed)
    sampler.repartition(tree)
    rng = np.random.default_rng(seed)
    assert len(leaves(tree)) >= 4
    for node in leaves(tree):
        region = fitted[tree.satisfies(node, sampler.encode(None, fitted))]
        drawn = [sampler.sample(node, region, rng) for _ in range(10)]
        assert all(choices is not None for choices in drawn), f"no sample in region {node}"
        drawn = np.array(drawn)
        features = sampler.encode(None, drawn)
        assert tree.satisfies(node, features).all()
        assert (tree.leaf_of(features) == node).all()
    assert sampler.proposed > 0 and sampler.regions_given_up == 0


def test_satisfies_needs_all_constraints_of_the_path_not_one():
    tree = PartitionTree(3, 2)
    tree.is_split[:] = [True, True, False]
    tree.weights[0], tree.thresholds[0] = [1.0, 0.0], 0.5  # root: good where x > 0.5
    tree.weights[1], tree.thresholds[1] = [0.0, 1.0], 0.5  # its good child: good where y > 0.5
    points = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert tree.satisfies(3, points).tolist() == [True, False, False, False]  # x > .5 and y > .5
    assert tree.satisfies(4, points).tolist() == [False, True, False, False]
    assert tree.leaf_of(points).tolist() == [3, 4, 2, 2]


@pytest.mark.parametrize("pair", [False, True])
def test_discrete_hit_and_run_walks_uniformly_over_the_region(pair):
    """3 decisions of 3 choices and one constraint, choice values summing to more than 3 (in one-hot
    rows: coefficient c for choice c): every state stays in the region, its running slack is
    exact, and after a burn-in the chains visit each of the region's 10 architectures equally often."""
    n_choices, starts = np.array([3, 3, 3]), np.array([0, 3, 6])
    a, strict = np.tile([0.0, 1.0, 2.0], 3)[None, :], np.array([True])  # the bound, 3, is in the slack
    inside = [c for c in np.ndindex(3, 3, 3) if sum(c) > 3]
    assert len(inside) == 10
    rng = np.random.default_rng(0)
    choices = np.tile([2, 2, 2], (256, 1))
    slack = np.full((256, 1), 3.0)
    counts = dict.fromkeys(inside, 0)
    for step in range(220):
        hit_and_run_step(choices, slack, a, strict, starts, n_choices, rng, pair=pair)
        assert (choices.sum(axis=1) > 3).all()
        assert np.array_equal(slack[:, 0], choices.sum(axis=1) - 3.0)
        if step >= 20:
            for row in map(tuple, choices.tolist()):
                counts[row] += 1
    frequencies = np.array(list(counts.values())) / (200 * 256)
    assert frequencies == pytest.approx(np.full(10, 0.1), rel=0.1)


def test_the_tree_features_are_the_spaces_where_affine_else_the_one_hot():
    assert PolytopeLeafSampler(NB201Space()).encoding == "features"
    assert affine_features(DartsSpace()) is None  # an edge-op feature needs both the input pair and the op
    sampler = PolytopeLeafSampler(DartsSpace())
    assert sampler.encoding == "one-hot" and sampler.n_features == int(DartsSpace().n_choices.sum())


# --- UCB and the partition ------------------------------------------------------------------------
def test_ucb_matches_a_hand_computation():
    assert ucb(0.8, 4, 16, 0.1) == pytest.approx(0.8 + 0.2 * math.sqrt(2 * math.log(16) / 4))
    assert ucb(0.8, 4, 16, 0.1) == pytest.approx(1.035482, abs=1e-6)
    assert ucb(0.5, 0, 16, 0.1) == math.inf
    tree = PartitionTree(2, 1)
    tree.is_split[0] = True
    tree.counts[:] = [12, 10, 2]
    tree.sums[:] = [10.4, 9.0, 1.4]  # child means 0.9 and 0.7
    # cp 0.1: 0.9 + 0.2 sqrt(2 ln 12 / 10) = 1.0410 > 0.7 + 0.2 sqrt(2 ln 12 / 2) = 1.0153
    assert tree.select(0.1) == 1
    # cp 1: 0.9 + 2 * 0.7049 = 2.3098 < 0.7 + 2 * 1.5763 = 3.8526
    assert tree.select(1.0) == 2
    tree.counts[2], tree.sums[2] = 0, 0.0
    assert tree.select(0.0) == 2  # an unvisited child first, even without exploration
    assert tree.select(1.0, eligible=np.array([True, True, False])) == 1


def test_the_same_data_relearns_the_same_partition():
    space = NB201Space()
    first, _ = fitted_tree(space, space.features, seed=3)
    again, _ = fitted_tree(space, space.features, seed=3)
    for name in ("weights", "thresholds", "is_split", "counts", "sums"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert first.is_split.sum() >= 3


# --- runs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["exact", "hit-and-run"])
def test_same_seed_same_run_and_same_tree(sampler):
    evaluator = ToyEvaluator(noise_std=1.0)

    def run(seed: int) -> tuple[list[int], LaNAS]:
        agent = LaNAS(sampler=sampler)
        result = agent.run(GlobalNASEnv(space="toy", evaluator=evaluator, budget=70), seed=seed)
        assert result.agent_stats == agent.stats() and result.agent_stats["sampler"] == sampler
        return [q["index"] for q in result.queries], agent

    (first, agent), (again, agent_again) = run(4), run(4)
    assert first == again
    assert np.array_equal(agent.tree.weights, agent_again.tree.weights)
    assert run(5)[0] != first


def test_exact_mode_queries_every_architecture_once_then_draws_uniformly():
    evaluator = ToyEvaluator(n_decisions=3, n_choices=3)  # 27 architectures
    env = GlobalNASEnv(space="toy", evaluator=evaluator, budget=31)
    result = make_agent("lanas", n_init=5, refit_interval=4).run(env, seed=0)
    indices = [q["index"] for q in result.queries]
    assert sorted(indices[:27]) == list(range(27))
    expected = {"sampler": "exact", "encoding": "features", "fallbacks": 0, "uniform_draws": 4}
    assert result.summary()["agent_stats"] == expected


def test_hit_and_run_records_the_regions_it_gives_up():
    """On a space of 256 architectures the forced large-space mode exhausts small regions: each
    query drawn outside the region UCB selected first follows a region given up, and all are counted."""
    result = LaNAS(sampler="hit-and-run").run(GlobalNASEnv(space="toy", evaluator=ToyEvaluator(), budget=200), seed=0)
    stats = result.agent_stats
    assert stats["sampler"] == "hit-and-run" and stats["encoding"] == "features"
    assert 0 < stats["fallbacks"] <= stats["regions_given_up"]
    indices = [q["index"] for q in result.queries]
    assert len(set(indices)) == len(indices) - stats["uniform_draws"]


class LinearLarge:
    """A deterministic linear benchmark on :data:`LARGE`, computed per query (never enumerated)."""

    space = LARGE
    dataset = "linear"
    weights = np.random.default_rng(0).uniform(0.0, 4.0, (13, 10))

    @property
    def best_valid_acc(self) -> float:
        return 40.0 + float(self.weights.max(axis=1).sum())

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        choices = self.space.choices_of(self.space.check_index(indices))
        valid = 40.0 + self.weights[np.arange(13), choices].sum(axis=-1)
        ones = np.ones(valid.shape)
        return {"valid_acc": valid, "test_acc": valid, "flops": ones, "params": ones, "latency": ones, "cost": ones}

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        return {key: float(value) for key, value in self.evaluate(np.int64(index), rng).items()}


def test_lanas_searches_a_space_of_ten_to_the_13_without_enumerating_it(monkeypatch):
    def refuse(self):
        raise AssertionError("LaNAS enumerated a space of 10^13")

    monkeypatch.setattr(SearchSpace, "enumerate", refuse)
    evaluator = LinearLarge()
    lanas = make_agent("lanas").run(GlobalNASEnv(space="large", evaluator=evaluator, budget=150), seed=0)
    random = make_agent("random").run(GlobalNASEnv(space="large", evaluator=evaluator, budget=150), seed=0)
    assert lanas.agent_stats["sampler"] == "hit-and-run" and lanas.agent_stats["fallbacks"] == 0
    assert lanas.summary()["best_valid_acc"] > random.summary()["best_valid_acc"]


# --- bad arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"height": 0}, ["height", "integer >= 1", "0"]),
        ({"cp": -0.1}, ["cp", ">= 0", "-0.1"]),
        ({"cp": float("nan")}, ["cp"]),
        ({"n_init": 0}, ["n_init", ">= 1"]),
        ({"refit_interval": 0}, ["refit_interval", ">= 1"]),
        ({"sampler": "gibbs"}, ["sampler", "'exact'", "'hit-and-run'", "'pymc'", "'gibbs'"]),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError) as exc:
        make_agent("lanas", **kwargs)
    assert all(word in str(exc.value) for word in words)


def test_more_initial_samples_than_the_budget_is_refused_before_any_query():
    env = GlobalNASEnv(space="toy", evaluator=ToyEvaluator(), budget=5)
    with pytest.raises(ValueError, match="n_init must be at most the env's budget of 5 queries, got 10"):
        make_agent("lanas").run(env, seed=0)
    assert env.history.n_queries == 0


class NoFeatures(ToyEvaluator):
    """The toy benchmark on a space whose features are not numbers LaNAS can fit."""

    def __init__(self) -> None:
        super().__init__(name="nofeatures")

        class Space(type(self.space)):
            def features(self, choices):
                return np.full(np.shape(choices)[:-1] + (4,), np.nan)

        self.space.__class__ = Space


def test_a_space_it_cannot_encode_or_enumerate_is_refused_with_its_reason():
    env = GlobalNASEnv(space="nofeatures", evaluator=NoFeatures(), budget=20)
    with pytest.raises(ValueError, match="agent 'lanas' cannot search .*'nofeatures'.*finite vector"):
        make_agent("lanas").run(env, seed=0)
    large = GlobalNASEnv(space="large", evaluator=LinearLarge(), budget=20)
    with pytest.raises(ValueError, match="sampler='exact' enumerates the space.*'hit-and-run'"):
        make_agent("lanas", sampler="exact").run(large, seed=0)


def test_the_pymc_sampler_without_pymc_is_refused_with_how_to_install_it(monkeypatch):
    def missing():
        raise ImportError("LaNAS's sampler='pymc' needs PyMC: pip install 'nasgym[lanas]' (No module named 'pymc')")

    monkeypatch.setattr(lanas_module, "import_pymc", missing)
    large = GlobalNASEnv(space="large", evaluator=LinearLarge(), budget=20)
    with pytest.raises(ValueError, match=r"agent 'lanas' cannot search .*pip install 'nasgym\[lanas\]'"):
        make_agent("lanas", sampler="pymc").run(large, seed=0)
