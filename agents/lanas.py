"""LaNAS: Monte Carlo tree search over a learned partition of the search space.

Wang, Zhao, Jiang, Fonseca and Tian, "Sample-efficient neural architecture search by learning
actions for Monte Carlo tree search" (LaNAS; official code in the LaMCTS repository).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_float, check_int, sample_categorical
from nasgym.agents.base import SearchAgent
from nasgym.spaces.base import SearchSpace

#: spaces up to this size are enumerated when the space does not say whether it can be.
_ENUMERATE_LIMIT = 2_000_000
#: accepted values of LaNAS's ``sampler`` argument.
SAMPLERS = ("auto", "exact", "hit-and-run")
#: a node whose predictions spread less than this (relative) is left unsplit: its model saw no signal.
_FLAT = 1e-9


def ucb(mean: float, n_child: int, n_parent: int, cp: float) -> float:
    """LaNAS's upper confidence bound of a child: ``mean + 2 cp sqrt(2 ln n_parent / n_child)``,
    infinite for an unvisited child (``n_child == 0``) so that it is selected first.

    :param mean: mean value (accuracy as a fraction) of the child's samples.
    :param n_child: samples in the child.
    :param n_parent: samples in its parent.
    :param cp: exploration constant.
    """
    if n_child == 0:
        return math.inf
    return mean + 2.0 * cp * math.sqrt(2.0 * math.log(n_parent) / n_child)


def is_enumerable(space: SearchSpace) -> bool:
    """Whether ``space`` may be enumerated: its ``enumerable`` flag, or a size up to 2 million
    where the space has none."""
    flag = getattr(space, "enumerable", None)
    return bool(flag) if flag is not None else space.size <= _ENUMERATE_LIMIT


class PartitionTree:
    """A complete binary tree of ``height`` levels (``2 ** (height - 1)`` leaves) that partitions
    feature vectors with one linear model per internal node.

    Nodes are numbered in heap order: the root is 0, the children of ``n`` are ``2n + 1`` (good)
    and ``2n + 2`` (bad). :meth:`fit` fits, at every internal node, a least-squares linear model
    of the value on the features of the node's samples and sends to the good child the samples
    whose prediction is above the mean prediction, to the bad child the rest; a node with fewer
    than two samples, or whose predictions are all equal, is not split, and a descent stops there
    (it is then a leaf of the partition). Every region is the set of feature vectors that satisfy
    all the constraints on its path from the root; :meth:`satisfies` tests exactly that, with the
    same arithmetic as :meth:`fit` and :meth:`leaf_of`, row by row.

    :param height: levels of the tree, >= 1 (1: a single region, i.e. random search).
    :param n_features: length of the feature vectors.
    """

    def __init__(self, height: int, n_features: int) -> None:
        self.height = check_int("height", height, 1)
        self.n_nodes = 2**self.height - 1
        self.n_internal = 2 ** (self.height - 1) - 1
        self.weights = np.zeros((self.n_internal, n_features))
        self.thresholds = np.zeros(self.n_internal)
        self.is_split = np.zeros(self.n_internal, dtype=bool)
        self.counts = np.zeros(self.n_nodes, dtype=np.int64)
        self.sums = np.zeros(self.n_nodes)

    # --- the partition --------------------------------------------------------------------------
    def scores(self, node: int, features: np.ndarray) -> np.ndarray:
        """The linear score of node ``node`` for each row (a row's result does not depend on the
        other rows: the region tests agree wherever they are computed)."""
        return (features * self.weights[node]).sum(axis=-1)

    def goes_good(self, node: int, features: np.ndarray) -> np.ndarray:
        """Whether each row lies in the good child of the split node ``node``."""
        return self.scores(node, features) > self.thresholds[node]

    def fit(self, features: np.ndarray, values: np.ndarray) -> None:
        """Refit every node on all samples (the whole tree is rebuilt; deterministic).

        :param features: (n, n_features) samples.
        :param values: (n,) their values.
        """
        features = np.asarray(features, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        self.weights[:] = 0.0
        self.thresholds[:] = 0.0
        self.is_split[:] = False
        self.counts[:] = 0
        self.sums[:] = 0.0
        stack = [(0, np.arange(len(values)))]
        while stack:
            node, rows = stack.pop()
            self.counts[node] = rows.size
            self.sums[node] = values[rows].sum()
            if node >= self.n_internal or rows.size < 2:
                continue
            x = features[rows]
            design = np.hstack([x, np.ones((rows.size, 1))])
            coef = np.linalg.lstsq(design, values[rows], rcond=None)[0]
            self.weights[node] = coef[:-1]
            scores = self.scores(node, x)
            if np.ptp(scores) <= _FLAT * (1.0 + np.abs(scores).max()):
                self.weights[node] = 0.0
                continue
            self.thresholds[node] = scores.mean()
            good = self.goes_good(node, x)
            if good.all() or not good.any():
                continue
            self.is_split[node] = True
            stack.append((2 * node + 2, rows[~good]))
            stack.append((2 * node + 1, rows[good]))

    def leaf_of(self, features: np.ndarray) -> np.ndarray:
        """The region (leaf, or unsplit node) of each row of ``features`` (vectorised)."""
        features = np.asarray(features, dtype=np.float64)
        node = np.zeros(len(features), dtype=np.int64)
        for depth in range(self.height - 1):
            for n in range(2**depth - 1, 2 ** (depth + 1) - 1):
                if not self.is_split[n]:
                    continue
                rows = np.flatnonzero(node == n)
                if rows.size:
                    node[rows] = np.where(self.goes_good(n, features[rows]), 2 * n + 1, 2 * n + 2)
        return node

    @staticmethod
    def path(node: int) -> list[int]:
        """The nodes from the root down to ``node``."""
        nodes = [node]
        while node > 0:
            node = (node - 1) // 2
            nodes.append(node)
        return nodes[::-1]

    def constraints(self, node: int) -> list[tuple[int, bool]]:
        """The constraints of ``node``'s region: ``(ancestor, good)`` for every split on its path."""
        nodes = self.path(node)
        return [(parent, child == 2 * parent + 1) for parent, child in zip(nodes, nodes[1:], strict=False)]

    def satisfies(self, node: int, features: np.ndarray) -> np.ndarray:
        """Whether each row satisfies *all* constraints of ``node``'s region (not just one)."""
        features = np.asarray(features, dtype=np.float64)
        ok = np.ones(len(features), dtype=bool)
        for parent, good in self.constraints(node):
            ok &= self.goes_good(parent, features) == good
        return ok

    # --- statistics and selection -----------------------------------------------------------------
    def add(self, leaf: int, value: float) -> None:
        """Count a new sample of value ``value`` in ``leaf`` and its ancestors (between refits)."""
        for node in self.path(leaf):
            self.counts[node] += 1
            self.sums[node] += value

    def mean(self, node: int) -> float:
        """Mean value of the node's samples (0 when it has none)."""
        return self.sums[node] / self.counts[node] if self.counts[node] else 0.0

    def select(self, cp: float, eligible: np.ndarray | None = None) -> int:
        """Descend from the root by UCB (:func:`ucb`; an unvisited child first, the good child on
        ties) to a region; ``eligible`` (bool per node) excludes regions with nothing left to sample.
        """
        node = 0
        while node < self.n_internal and self.is_split[node]:
            kids = [k for k in (2 * node + 1, 2 * node + 2) if eligible is None or eligible[k]]
            if not kids:
                break
            n_parent = int(self.counts[node])
            node = max(kids, key=lambda k: ucb(self.mean(k), int(self.counts[k]), max(n_parent, 1), cp))
        return node


class ExactLeafSampler:
    """Uniform sampling among the not-yet-queried architectures of a region, for spaces that can be
    enumerated: every architecture is pushed down the tree at each refit (vectorised), as the
    official NAS-Bench-101 code does.

    :param space: the search space (enumerated once).
    """

    def __init__(self, space: SearchSpace) -> None:
        self.choices = space.enumerate()
        self.features = np.asarray(space.features(self.choices), dtype=np.float64)
        self.remaining = np.ones(len(self.choices), dtype=bool)
        self.leaf = np.zeros(len(self.choices), dtype=np.int64)
        self.left = np.zeros(1, dtype=np.int64)

    def repartition(self, tree: PartitionTree) -> None:
        """Assign every architecture to its region of ``tree``, and count the unqueried per node."""
        self.leaf = tree.leaf_of(self.features)
        self.left = np.bincount(self.leaf[self.remaining], minlength=tree.n_nodes)
        for node in range(tree.n_nodes - 1, 0, -1):
            self.left[(node - 1) // 2] += self.left[node]

    def eligible(self) -> np.ndarray:
        """Nodes whose region still holds an unqueried architecture."""
        return self.left > 0

    def mark_queried(self, index: int) -> None:
        if self.remaining[index]:
            self.remaining[index] = False
            for node in PartitionTree.path(int(self.leaf[index])):
                self.left[node] -= 1

    def sample(self, node: int, rng: np.random.Generator) -> np.ndarray | None:
        """A uniformly random unqueried architecture of ``node``'s region (``None``: none left)."""
        candidates = np.flatnonzero(self.remaining & (self.leaf == node))
        if candidates.size == 0:
            return None
        return self.choices[candidates[rng.integers(candidates.size)]]


class PolytopeLeafSampler:
    """Sampling in a region of a space too large to enumerate: hit-and-run in the relaxed polytope
    of the region's constraints, then rounding to architectures that satisfy every constraint.

    The relaxation replaces each decision's one-hot vector by a probability vector over its choices
    (a simplex); the space's features must be an affine function of the one-hot encoding (checked
    here), so each constraint of the region is a half-space of the product of simplices. Chains of
    hit-and-run (a random direction in the simplices' plane, a uniform point on the chord where all
    constraints and all probabilities hold) start from random convex combinations of the region's
    samples, which lie in the polytope; each end point is rounded by drawing every decision from its
    probability vector (the rounded one-hot's mean is the point), and only architectures that
    satisfy *all* constraints of the region, exactly as the tree tests them, and are not queried yet
    are kept. Each round runs ``chains`` chains of ``steps`` steps; survivors are kept per region
    until the next refit.

    :param space: the search space.
    :param chains: chains per round.
    :param steps: hit-and-run steps per chain.
    :param rounds: rounds tried before :meth:`sample` gives up on a region.
    :raises ValueError: the space's features are not affine in its one-hot encoding.
    """

    def __init__(self, space: SearchSpace, chains: int = 32, steps: int = 30, rounds: int = 8) -> None:
        self.space = space
        self.chains, self.steps, self.rounds = chains, steps, rounds
        self.n_choices = np.asarray(space.n_choices, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.n_choices)[:-1]])
        self.block = np.repeat(np.arange(len(self.n_choices)), self.n_choices)
        self.offset, self.basis = affine_features(space)
        self.queried: set[int] = set()
        self.tree: PartitionTree | None = None
        self.cache: dict[int, list[np.ndarray]] = {}

    def repartition(self, tree: PartitionTree) -> None:
        self.tree = tree
        self.cache.clear()

    def mark_queried(self, index: int) -> None:
        self.queried.add(index)

    def relaxed(self, choices: np.ndarray) -> np.ndarray:
        """The vertex of each choice vector: concatenated one-hot blocks, (n, sum(n_choices))."""
        out = np.zeros((len(choices), int(self.n_choices.sum())))
        out[np.arange(len(choices))[:, None], self.starts + choices] = 1.0
        return out

    def sample(self, node: int, region_choices: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """An unqueried architecture of ``node``'s region satisfying all its constraints, or ``None``
        after :attr:`rounds` rounds without one.

        :param node: the region.
        :param region_choices: choice vectors of queried architectures in the region (chain starts;
            at least one where the region has constraints).
        :param rng: the agent's generator.
        """
        cached = self.cache.setdefault(node, [])
        for attempt in range(self.rounds + 1):
            while cached:
                choices = cached.pop()
                if int(self.space.index_of(choices)) not in self.queried:
                    return choices
            if attempt < self.rounds:
                cached.extend(self._round(node, region_choices, rng))
        return None

    def _round(self, node: int, region_choices: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        tree = self.tree
        constraints = tree.constraints(node) if tree is not None else []
        # constraint k in relaxed coordinates: sign_k * (a_k . p - b_k) >= 0
        a = np.array([self.basis @ tree.weights[parent] for parent, _ in constraints]).reshape(-1, self.block.size)
        b = np.array([tree.thresholds[parent] - self.offset @ tree.weights[parent] for parent, _ in constraints])
        sign = np.array([1.0 if good else -1.0 for _, good in constraints])
        sizes = self.n_choices[self.block]
        if constraints:
            mix = rng.dirichlet(np.ones(len(region_choices)), self.chains)
            points = mix @ self.relaxed(region_choices)
        else:  # no constraint: the simplices' centres, whose rounding is a uniform architecture
            points = np.tile(1.0 / sizes, (self.chains, 1))
        for _ in range(self.steps if constraints else 0):
            direction = rng.standard_normal(points.shape)
            block_sums = np.add.reduceat(direction, self.starts, axis=1)
            direction -= block_sums[:, self.block] / sizes  # stay in each simplex's plane
            low, high = _chord(points, direction, a, b, sign)
            points += (low + (high - low) * rng.random(len(points)))[:, None] * direction
            np.maximum(points, 0.0, out=points)
        choices = np.stack(
            [sample_categorical(rng, points[:, s : s + n]) for s, n in zip(self.starts, self.n_choices, strict=True)],
            axis=1,
        )
        choices = np.unique(choices, axis=0)
        features = np.asarray(self.space.features(choices), dtype=np.float64)
        inside = tree.satisfies(node, features) if tree is not None else np.ones(len(choices), dtype=bool)
        kept = [c for c in choices[inside] if int(self.space.index_of(c)) not in self.queried]
        return [kept[i] for i in rng.permutation(len(kept))]


def _chord(
    points: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray, sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the interval of ``t`` for which ``points + t direction`` keeps every coordinate
    >= 0 and every constraint ``sign * (a . x - b) >= 0`` (it holds ``t = 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -points / direction  # where each coordinate reaches 0
        low = np.where(direction > 0, bound, -np.inf).max(axis=1)
        high = np.where(direction < 0, bound, np.inf).min(axis=1)
        if len(sign):
            slack = sign * (points @ a.T - b)  # >= 0 (up to round-off)
            rate = sign * (direction @ a.T)
            limit = -np.maximum(slack, 0.0) / rate
            low = np.maximum(low, np.where(rate > 0, limit, -np.inf).max(axis=1))
            high = np.minimum(high, np.where(rate < 0, limit, np.inf).min(axis=1))
    low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
    return low, high


def affine_features(space: SearchSpace, n_checks: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``space.features`` as ``offset + basis.T @ onehot``, with ``onehot`` the concatenated one-hot
    blocks of the decisions (length ``sum(n_choices)``), found by probing and checked on random
    architectures.

    :raises ValueError: the features are not such a function (not finite, not a fixed-length
        vector, or not affine in the one-hot encoding): LaNAS cannot relax the space.
    """
    n_choices = np.asarray(space.n_choices, dtype=np.int64)
    probes = np.zeros((int(n_choices.sum()) + 1, len(n_choices)), dtype=np.int64)
    row = 1
    for decision, n in enumerate(n_choices):
        for choice in range(int(n)):
            probes[row, decision] = choice
            row += 1
    features = check_features(space, probes)
    offset = features[0]
    basis = features[1:] - offset  # row of (decision, choice): its change from choice 0
    rng = np.random.default_rng(0)
    trial = rng.integers(0, n_choices, (n_checks, len(n_choices)))
    starts = np.concatenate([[0], np.cumsum(n_choices)[:-1]])
    predicted = offset + basis[starts + trial].sum(axis=1)
    actual = check_features(space, trial)
    if not np.allclose(predicted, actual, rtol=1e-6, atol=1e-6):
        raise ValueError(
            f"space {space.name!r}: its features are not an affine function of the decisions' one-hot "
            "encodings, so LaNAS cannot relax it for hit-and-run sampling; use sampler='exact' on a space "
            "that can be enumerated"
        )
    return offset, basis


def check_features(space: SearchSpace, choices: np.ndarray) -> np.ndarray:
    """``space.features(choices)`` as a float64 (n, n_features) array, or a ``ValueError`` naming
    the space when it gives no finite fixed-length vector per architecture."""
    try:
        features = np.asarray(space.features(choices), dtype=np.float64)
    except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ValueError(f"space {space.name!r} has no numeric features() for LaNAS's linear models: {exc}") from None
    if features.shape[:1] != (len(choices),) or features.ndim != 2 or not np.isfinite(features).all():
        raise ValueError(
            f"space {space.name!r}: LaNAS needs features() to give one finite vector per architecture, "
            f"got shape {features.shape} for {len(choices)} architectures"
        )
    return features


class LaNAS(SearchAgent):
    """LaNAS (Wang et al.) on the Global env: Monte Carlo tree search over a learned partition.

    A complete binary tree of ``height`` levels (:class:`PartitionTree`; 16 leaves at the default 5)
    partitions the space. Each internal node fits a linear model of the accuracy on the
    architecture features (``space.features``, the flattened one-hot encoding by default) by least
    squares over the samples in its region, and sends the samples predicted above the mean
    prediction to its good child, the rest to its bad child. The search starts with ``n_init``
    uniformly random architectures, then refits the whole tree on all samples every
    ``refit_interval`` queries; between refits each query is chosen by descending from the root to
    the child of larger UCB, ``mean + 2 cp sqrt(2 ln n_parent / n_child)`` (:func:`ucb`; values are
    validation accuracies as fractions, seed noise included), and drawing an architecture in the
    region reached that satisfies every constraint on its path. Its value is then counted in the
    region it lies in and all ancestors.

    Sampling a region (``sampler``): ``"exact"`` draws uniformly among the region's architectures
    not queried yet (:class:`ExactLeafSampler`; the space is enumerated), ``"hit-and-run"`` samples
    the relaxed polytope of the region's constraints and keeps rounded architectures that satisfy
    all of them (:class:`PolytopeLeafSampler`; for spaces too large to enumerate, whose features
    must be affine in the one-hot encoding), ``"auto"`` the first where the space can be enumerated,
    else the second. When a region yields no new architecture, its parent's region is sampled
    instead (counted in :attr:`fallbacks`); once every architecture is queried, uniform random ones
    are re-queried.

    :param height: tree levels, >= 1 (default 5; 1 is random search without repeats).
    :param cp: exploration constant, >= 0 (default 0.1, the official NAS-Bench-101 run).
    :param n_init: uniformly random initial samples, >= 1 and at most the env's budget (default 10).
    :param refit_interval: queries between refits of the tree, >= 1 (default 20).
    :param sampler: ``"auto"`` (default), ``"exact"`` or ``"hit-and-run"``.

    After a search, :attr:`tree` holds the tree of the last refit with the statistics of every
    sample, :attr:`sampler_used` the sampler that ran and :attr:`fallbacks` how many queries were
    drawn outside the selected region.
    """

    name = "lanas"
    flavours = ("Global",)

    def __init__(
        self, height: int = 5, cp: float = 0.1, n_init: int = 10, refit_interval: int = 20, sampler: str = "auto"
    ) -> None:
        self.height = check_int("height", height, 1)
        self.cp = check_float("cp", cp, 0.0)
        self.n_init = check_int("n_init", n_init, 1)
        self.refit_interval = check_int("refit_interval", refit_interval, 1)
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
        self.sampler = sampler
        self.tree: PartitionTree | None = None
        self.sampler_used = ""
        self.fallbacks = 0

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        space: SearchSpace = env.unwrapped.search_space
        budget = int(env.unwrapped.budget)
        if self.n_init > budget:
            raise ValueError(f"n_init must be at most the env's budget of {budget} queries, got {self.n_init}")
        n_features = check_features(space, np.zeros((1, space.n_decisions), dtype=np.int64)).shape[1]
        exact = self.sampler == "exact" or (self.sampler == "auto" and is_enumerable(space))
        if exact and not is_enumerable(space):
            raise ValueError(f"sampler 'exact' needs a space that can be enumerated; {space!r} cannot be")
        leaf_sampler = ExactLeafSampler(space) if exact else PolytopeLeafSampler(space)
        self.sampler_used = "exact" if exact else "hit-and-run"
        self.tree = tree = PartitionTree(self.height, n_features)
        self.fallbacks = 0
        rng = agent_rng(seed)
        env.reset(seed=seed)
        features = np.zeros((budget, n_features))
        choices_seen = np.zeros((budget, space.n_decisions), dtype=np.int64)
        values = np.zeros(budget)
        n = 0
        while True:
            if n >= self.n_init and (n - self.n_init) % self.refit_interval == 0:
                tree.fit(features[:n], values[:n])
                leaf_sampler.repartition(tree)
            node = tree.select(self.cp, leaf_sampler.eligible() if exact else None)
            choices = self._draw(node, leaf_sampler, features[:n], choices_seen[:n], rng)
            _, _, terminated, truncated, info = env.step(choices)
            index = int(info["index"])
            choices_seen[n] = space.choices_of(index)
            features[n] = check_features(space, choices_seen[n : n + 1])[0]
            values[n] = float(info["valid_acc"]) / 100.0
            leaf = int(tree.leaf_of(features[n : n + 1])[0])
            self.fallbacks += leaf != node
            tree.add(leaf, values[n])
            leaf_sampler.mark_queried(index)
            n += 1
            if terminated or truncated:
                return

    def _draw(
        self,
        node: int,
        leaf_sampler: ExactLeafSampler | PolytopeLeafSampler,
        features: np.ndarray,
        choices_seen: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """An unqueried architecture in ``node``'s region, else in the nearest ancestor's region that
        has one, else (everything queried) a uniformly random one."""
        tree = self.tree
        for region in PartitionTree.path(node)[::-1]:
            if isinstance(leaf_sampler, ExactLeafSampler):
                choices = leaf_sampler.sample(region, rng)
            else:
                inside = tree.satisfies(region, features)
                choices = leaf_sampler.sample(region, choices_seen[inside], rng)
            if choices is not None:
                return choices
        if isinstance(leaf_sampler, ExactLeafSampler):
            return leaf_sampler.choices[rng.integers(len(leaf_sampler.choices))]
        return rng.integers(0, leaf_sampler.n_choices)
