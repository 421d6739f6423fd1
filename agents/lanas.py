"""LaNAS: Monte Carlo tree search over a learned partition of the search space.

Wang, Zhao, Jiang, Fonseca and Tian, "Sample-efficient neural architecture search by learning
actions for Monte Carlo tree search" (LaNAS; official code in the LaMCTS repository).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
from threadpoolctl import threadpool_limits

from nasgym.agents._utils import agent_rng, check_float, check_int
from nasgym.agents.base import SearchAgent
from nasgym.spaces.base import SearchSpace

#: accepted values of LaNAS's ``sampler`` argument.
SAMPLERS = ("auto", "exact", "hit-and-run", "pymc")
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
        """Refit every node on all samples (the whole tree is rebuilt; deterministic: the same
        data gives the same partition).

        :param features: (n, n_features) samples.
        :param values: (n,) their values.
        """
        with threadpool_limits(limits=1, user_api="blas"):  # small fits: threads only slow them down
            self._fit(np.asarray(features, dtype=np.float64), np.asarray(values, dtype=np.float64))

    def _fit(self, features: np.ndarray, values: np.ndarray) -> None:
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
            n_parent = max(int(self.counts[node]), 1)
            node = max(kids, key=lambda k: ucb(self.mean(k), int(self.counts[k]), n_parent, cp))
        return node


class ExactLeafSampler:
    """Uniform sampling among the not-yet-queried architectures of a region, for spaces that can be
    enumerated: every architecture is pushed down the tree at each refit (vectorised), as the
    official NAS-Bench-101 code does.

    :param space: the search space (enumerated once; row ``i`` is the architecture of index ``i``).
    """

    def __init__(self, space: SearchSpace) -> None:
        self.choices = space.enumerate()
        self.features = check_features(space, self.choices)
        self.n_features = self.features.shape[1]
        self.remaining = np.ones(len(self.choices), dtype=bool)
        self.leaf = np.zeros(len(self.choices), dtype=np.int64)
        self.left = np.zeros(1, dtype=np.int64)

    def encode(self, indices: np.ndarray, choices: np.ndarray) -> np.ndarray:
        """The features the tree sees of architectures, (n, n_features).

        :param indices: their canonical indices (the rows read).
        :param choices: their choice vectors (not needed here: the signature of both samplers).
        """
        return self.features[indices]

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
        """Take the architecture of canonical index ``index`` out of its region's candidates."""
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
    """Sampling in a region of a space too large to enumerate: discrete hit-and-run over the
    architectures of the region's polytope.

    The tree's features are the space's own (``space.features``) where they are an affine function
    of the decisions' concatenated one-hot blocks (checked by :func:`affine_features`), else the
    one-hot blocks themselves, so every constraint of a region is a half-space in the one-hot
    coordinates: the region's architectures are the lattice points (vertices of the product of the
    decisions' simplices) of a polytope. ``chains`` chains walk them by discrete hit-and-run
    (Baumert et al., 2009; :func:`hit_and_run_step`, vectorised over the chains): each step
    redraws one random decision (every other step, two) uniformly among the choices that keep
    every constraint, so each state is an architecture of the region and the chains converge to
    the uniform distribution over the region's architectures that such moves reach. Chains start
    at the region's queried architectures and carry on from where they stopped in later rounds.
    Every architecture a round visits is tested with the tree's own arithmetic (all constraints of
    the path, :meth:`PartitionTree.satisfies`; the walk's running sums may differ by round-off, and
    a sample that fails is rejected and counted), and those not queried yet are kept, in random
    order, until the next refit.

    :param space: the search space.
    :param chains: chains per round, >= 1.
    :param steps: hit-and-run steps per chain and round, >= 1.
    :param rounds: rounds tried before :meth:`sample` gives up on a region, >= 1.
    """

    def __init__(self, space: SearchSpace, chains: int = 64, steps: int = 32, rounds: int = 2) -> None:
        self.space = space
        self.chains = check_int("chains", chains, 1)
        self.steps = check_int("steps", steps, 1)
        self.rounds = check_int("rounds", rounds, 1)
        self.n_choices = np.asarray(space.n_choices, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.n_choices)[:-1]])
        n_one_hot = int(self.n_choices.sum())
        affine = affine_features(space)
        #: ``"features"``: the space's own features (affine in the one-hot); ``"one-hot"``: the one-hot blocks.
        self.encoding = "one-hot" if affine is None else "features"
        self.offset, self.basis = affine if affine is not None else (np.zeros(n_one_hot), np.eye(n_one_hot))
        self.n_features = self.basis.shape[1]
        self.queried: set[int] = set()
        self.tree = PartitionTree(1, self.n_features)
        self.cache: dict[int, list[np.ndarray]] = {}
        self.states: dict[int, np.ndarray] = {}
        self.given_up = np.zeros(1, dtype=bool)
        #: distinct architectures the walks proposed, those rejected by the tree's test of the region,
        #: and regions given up (no new architecture found in :attr:`rounds` rounds).
        self.proposed = 0
        self.rejected = 0
        self.regions_given_up = 0

    def one_hot(self, choices: np.ndarray) -> np.ndarray:
        """Concatenated one-hot blocks of choice vectors, (n, sum(n_choices))."""
        choices = np.asarray(choices, dtype=np.int64).reshape(-1, len(self.n_choices))
        out = np.zeros((len(choices), int(self.n_choices.sum())))
        out[np.arange(len(choices))[:, None], self.starts + choices] = 1.0
        return out

    def encode(self, indices: np.ndarray | None, choices: np.ndarray) -> np.ndarray:
        """The features the tree sees of architectures, (n, n_features).

        :param indices: their canonical indices (not needed here: the signature of both samplers).
        :param choices: their canonical choice vectors, (n, n_decisions).
        """
        return check_features(self.space, choices) if self.encoding == "features" else self.one_hot(choices)

    def repartition(self, tree: PartitionTree) -> None:
        """Sample the regions of ``tree`` from now on (the candidates and chains of the previous
        partition are forgotten)."""
        self.tree = tree
        self.cache.clear()
        self.states.clear()
        self.given_up = np.zeros(tree.n_nodes, dtype=bool)

    def eligible(self) -> np.ndarray:
        """Nodes not given up since the last refit (a split node is given up with both children)."""
        eligible = ~self.given_up
        for node in range(self.tree.n_internal - 1, -1, -1):
            if self.tree.is_split[node] and not (eligible[2 * node + 1] or eligible[2 * node + 2]):
                eligible[node] = False
        return eligible

    def mark_queried(self, index: int) -> None:
        """Never propose the architecture of canonical index ``index`` again."""
        self.queried.add(index)

    def sample(self, node: int, region_choices: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """An unqueried architecture of ``node``'s region satisfying all its constraints, or ``None``
        after :attr:`rounds` rounds without one (the region is then given up until the next refit).

        :param node: the region.
        :param region_choices: choice vectors of the queried architectures in the region (the chains'
            starts; a region with constraints and none of them yields ``None``).
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
        self.given_up[node] = True
        self.regions_given_up += 1
        return None

    def constraints(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The region's constraints in one-hot coordinates: rows ``a``, bounds ``b`` and ``strict``,
        for ``a @ x > b`` (good side, strict) or ``a @ x >= b`` (bad side, the sign flipped)."""
        constraints = self.tree.constraints(node)
        parents = [parent for parent, _ in constraints]
        strict = np.array([good for _, good in constraints], dtype=bool)
        sign = np.where(strict, 1.0, -1.0)
        weights = self.tree.weights[parents].reshape(len(parents), self.n_features)
        a = sign[:, None] * (weights @ self.basis.T)
        b = sign * (self.tree.thresholds[parents] - weights @ self.offset)
        return a, b, strict

    def _round(self, node: int, region_choices: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        a, b, strict = self.constraints(node)
        if len(b) == 0:  # no constraint: uniform architectures
            visited = np.asarray(self.space.sample(rng, self.chains * self.steps)).reshape(-1, len(self.n_choices))
        elif len(region_choices) == 0:
            return []
        else:
            visited = self._walk(node, a, b, strict, region_choices, rng)
        choices = self.space.canonical(visited)
        indices, first = np.unique(np.asarray(self.space.index_of(choices)), return_index=True)
        choices = choices[first]  # one row per architecture
        inside = self.tree.satisfies(node, self.encode(indices, choices))
        self.proposed += len(choices)
        self.rejected += int((~inside).sum())
        kept = choices[inside & ~np.isin(indices, np.fromiter(self.queried, np.int64, len(self.queried)))]
        return list(kept[rng.permutation(len(kept))])

    def _walk(
        self,
        node: int,
        a: np.ndarray,
        b: np.ndarray,
        strict: np.ndarray,
        region_choices: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The architectures one round of the chains visits in ``node``'s region, (n, n_decisions).

        :param node: the region.
        :param a: its constraint rows in one-hot coordinates (:meth:`constraints`).
        :param b: their bounds.
        :param strict: whether each constraint is strict.
        :param region_choices: queried architectures of the region (the chains' starts).
        :param rng: the agent's generator.
        """
        state = self.states.get(node)
        if state is None:
            state = self.states[node] = region_choices[rng.integers(0, len(region_choices), self.chains)]
        slack = self.one_hot(state) @ a.T - b
        visited = np.empty((self.steps, *state.shape), dtype=np.int64)
        for step in range(self.steps):
            hit_and_run_step(state, slack, a, strict, self.starts, self.n_choices, rng, pair=step % 2 == 1)
            visited[step] = state
        return visited.reshape(-1, len(self.n_choices))


class PymcLeafSampler(PolytopeLeafSampler):
    """Sampling in a region of a space too large to enumerate with PyMC (the ``lanas`` extra): the
    relaxed polytope of the region's constraints is sampled, and the draws discretised.

    Each decision's one-hot block is relaxed to a point of its simplex, the softmax of standard
    normal logits (argmax of the logits: a uniform choice, so without constraints the discretised
    draws are uniform architectures). The region's constraints (:meth:`PolytopeLeafSampler.constraints`,
    linear in the one-hot coordinates) hold on the relaxed point through a hard potential (log
    density ``-inf`` outside), and ``chains`` chains of PyMC's Metropolis sampler (one coordinate of
    the logits at a time, which copes with the hard walls) start from the region's queried
    architectures, their one-hot blocks softened just enough to lie inside the relaxed polytope.
    Every draw is discretised by the argmax of each decision's logits, and, as with hit-and-run,
    kept only where the architecture satisfies every constraint of the path with the tree's own
    arithmetic (the others are counted as rejected) and is not queried yet. One model is built and
    sampled per region and round, seeded from the agent's generator; its draws serve later visits
    of the region until the next refit.

    :param space: the search space.
    :param chains: Metropolis chains per model, >= 1.
    :param draws: draws kept per chain, >= 1.
    :param tune: tuning steps per chain before them (discarded), >= 0.
    :param rounds: models tried before :meth:`sample` gives up on a region, >= 1.
    """

    #: logit of a start's chosen option (others 0), raised until the softened start lies inside.
    START_LOGITS = (4.0, 8.0, 16.0, 32.0)

    def __init__(self, space: SearchSpace, chains: int = 2, draws: int = 250, tune: int = 100, rounds: int = 1) -> None:
        super().__init__(space, chains=chains, steps=draws, rounds=rounds)
        self.tune = check_int("tune", tune, 0)
        self.pymc = import_pymc()
        max_choices = int(self.n_choices.max())
        #: which (decision, option) cells of the padded logits are real options.
        self.mask = np.arange(max_choices) < self.n_choices[:, None]
        #: PyMC models built and sampled.
        self.models = 0

    def relaxed(self, logits: np.ndarray) -> np.ndarray:
        """The relaxed one-hot point (concatenated per-decision softmax) of padded logits, (n, sum(n_choices))."""
        masked = np.where(self.mask, logits, -np.inf)
        weights = np.exp(masked - masked.max(axis=-1, keepdims=True))
        return (weights / weights.sum(axis=-1, keepdims=True))[..., self.mask]

    def starts_inside(self, choices: np.ndarray, a: np.ndarray, b: np.ndarray, strict: np.ndarray) -> np.ndarray:
        """Padded logits, one row per architecture of ``choices`` whose softened one-hot point lies
        inside the relaxed polytope (the smallest of :attr:`START_LOGITS` that puts it there); those
        none of them does are dropped, (n, n_decisions, max_choices)."""
        chosen = np.arange(self.mask.shape[1]) == np.asarray(choices)[:, :, None]
        found = np.zeros(len(choices), dtype=bool)
        logits = np.zeros(chosen.shape)
        for height in self.START_LOGITS:
            trial = np.where(chosen, height, 0.0)
            slack = self.relaxed(trial) @ a.T - b
            inside = np.where(strict, slack > 0, slack >= 0).all(axis=1) & ~found
            logits[inside] = trial[inside]
            found |= inside
        return logits[found]

    def _walk(
        self,
        node: int,
        a: np.ndarray,
        b: np.ndarray,
        strict: np.ndarray,
        region_choices: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        pm = self.pymc
        import pytensor.tensor as pt

        starts = self.starts_inside(region_choices[rng.integers(0, len(region_choices), self.chains)], a, b, strict)
        if len(starts) == 0:  # no start strictly inside the relaxed polytope: nothing to walk from
            return np.zeros((0, len(self.n_choices)), dtype=np.int64)
        decision, option = np.nonzero(self.mask)
        with pm.Model():
            logits = pm.Normal("logits", 0.0, 1.0, shape=self.mask.shape)
            relaxed = pt.special.softmax(pt.where(self.mask, logits, -np.inf), axis=1)[decision, option]
            slack = pt.dot(a, relaxed) - b
            inside = pt.all(pt.where(strict, pt.gt(slack, 0.0), pt.ge(slack, 0.0)))
            pm.Potential("region", pt.switch(inside, 0.0, -np.inf))
            with quiet_pymc():
                trace = pm.sample(
                    draws=self.steps,
                    tune=self.tune,
                    chains=len(starts),
                    cores=1,
                    step=pm.Metropolis(),
                    initvals=[{"logits": start} for start in starts],
                    random_seed=int(rng.integers(2**31)),
                    progressbar=False,
                    compute_convergence_checks=False,
                    return_inferencedata=False,
                )
        self.models += 1
        draws = trace.get_values("logits", combine=True)
        return np.where(self.mask, draws, -np.inf).argmax(axis=-1)


def import_pymc() -> Any:
    """The ``pymc`` module, or an ``ImportError`` that says how to install it."""
    try:
        return importlib.import_module("pymc")
    except ImportError as exc:
        raise ImportError(f"LaNAS's sampler='pymc' needs PyMC: pip install 'nasgym[lanas]' ({exc})") from exc


@contextlib.contextmanager
def quiet_pymc() -> Iterator[None]:
    """Silence PyMC's per-sampling INFO lines (one model per region visit) while sampling."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def hit_and_run_step(
    choices: np.ndarray,
    slack: np.ndarray,
    a: np.ndarray,
    strict: np.ndarray,
    starts: np.ndarray,
    n_choices: np.ndarray,
    rng: np.random.Generator,
    pair: bool = False,
) -> None:
    """One discrete hit-and-run step of every chain (row of ``choices``, updated in place) over the
    architectures that satisfy ``a @ onehot > b`` (``strict`` rows) and ``a @ onehot >= b`` (the
    others): one random decision per chain (two distinct ones with ``pair``) is redrawn uniformly
    among its choices (pairs of choices) that keep every constraint; the current one always may.

    :param choices: (chains, n_decisions) current architectures, inside the region.
    :param slack: (chains, constraints) ``a @ onehot(choices) - b``, updated in place.
    :param a: (constraints, sum(n_choices)) constraint rows.
    :param strict: (constraints,) whether each constraint is strict.
    :param starts: first one-hot coordinate of each decision.
    :param n_choices: choices of each decision.
    :param rng: the generator.
    :param pair: move two decisions at once (reaches architectures a single move cannot cross to).
    """
    n_chains = len(choices)
    rows = np.arange(n_chains)
    movable = np.flatnonzero(n_choices > 1)
    if movable.size == 0:
        return
    pair = pair and movable.size > 1
    pick = rng.integers(0, movable.size, n_chains)
    moved = [movable[pick]]
    if pair:
        moved.append(movable[(pick + rng.integers(1, movable.size, n_chains)) % movable.size])
    columns = a.T  # one-hot coordinate -> its row of constraint coefficients
    options = np.arange(int(n_choices.max()))
    delta = np.zeros((n_chains, 1, 1, len(strict)))
    allowed = np.ones((n_chains, 1, 1), dtype=bool)
    for axis, decision in enumerate(moved):
        shape = (n_chains, -1, 1) if axis == 0 else (n_chains, 1, -1)
        size = n_choices[decision][:, None]
        change = columns[starts[decision][:, None] + np.minimum(options, size - 1)]
        change = change - columns[starts[decision] + choices[rows, decision]][:, None, :]
        delta = delta + change.reshape(*shape, len(strict))
        allowed = allowed & (options < size).reshape(shape)
    after = slack[:, None, None, :] + delta
    allowed &= np.where(strict, after > 0, after >= 0).all(axis=-1)
    current = [choices[rows, decision] for decision in moved] + [np.zeros(n_chains, dtype=np.int64)] * (2 - len(moved))
    allowed[rows, current[0], current[1]] = True
    flat = np.argmax(np.where(allowed, rng.random(allowed.shape), -1.0).reshape(n_chains, -1), axis=1)
    first, second = np.divmod(flat, allowed.shape[2])
    choices[rows, moved[0]] = first
    if pair:
        choices[rows, moved[1]] = second
    slack += delta[rows, first, second]


def affine_features(space: SearchSpace, n_checks: int = 64) -> tuple[np.ndarray, np.ndarray] | None:
    """``space.features`` as ``offset + basis.T @ onehot`` with ``onehot`` the concatenated one-hot
    blocks of the decisions (length ``sum(n_choices)``), found by probing and checked on random
    architectures; ``None`` where the features are not such a function (the DARTS edge-op
    encoding, the ConvNet encoding that masks absent layers).

    :param space: the search space.
    :param n_checks: random architectures the affine fit is checked on.
    """
    n_choices = np.asarray(space.n_choices, dtype=np.int64)
    probes = np.zeros((int(n_choices.sum()) + 1, len(n_choices)), dtype=np.int64)
    row = 1
    for decision, n in enumerate(n_choices):
        probes[row : row + n, decision] = np.arange(n)
        row += n
    features = check_features(space, probes)
    offset = features[0]
    basis = features[1:] - offset  # row of (decision, choice): its change from choice 0
    trial = np.random.default_rng(0).integers(0, n_choices, (n_checks, len(n_choices)))
    starts = np.concatenate([[0], np.cumsum(n_choices)[:-1]])
    predicted = offset + basis[starts + trial].sum(axis=1)
    if not np.allclose(predicted, check_features(space, trial), rtol=1e-6, atol=1e-6):
        return None
    return offset, basis


def check_features(space: SearchSpace, choices: np.ndarray) -> np.ndarray:
    """``space.features(choices)`` as a float64 (n, n_features) array, or a ``ValueError`` naming
    the space when it gives no finite fixed-length vector per architecture."""
    try:
        features = np.asarray(space.features(choices), dtype=np.float64)
    except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ValueError(f"space {space.name!r} has no numeric features() for LaNAS's linear models: {exc}") from None
    if features.ndim != 2 or features.shape[0] != len(choices) or not np.isfinite(features).all():
        raise ValueError(
            f"space {space.name!r}: LaNAS needs features() to give one finite vector per architecture, "
            f"got shape {features.shape} for {len(choices)} architectures"
        )
    return features


class LaNAS(SearchAgent):
    """LaNAS (Wang et al.) on the Global env: Monte Carlo tree search over a learned partition.

    A complete binary tree of ``height`` levels (:class:`PartitionTree`; 16 leaves at the default 5)
    partitions the space. Each internal node fits a linear model of the accuracy on the
    architecture features by least squares over the samples in its region, and sends the samples
    predicted above the mean prediction to its good child, the rest to its bad child. The search
    starts with ``n_init`` uniformly random architectures, then refits the whole tree on all
    samples every ``refit_interval`` queries; between refits each query is chosen by descending from
    the root to the child of larger UCB, ``mean + 2 cp sqrt(2 ln n_parent / n_child)`` (:func:`ucb`;
    values are validation accuracies as fractions, seed noise included), and drawing an
    architecture in the region reached that satisfies every constraint on its path. Its value is
    then counted in the region it lies in and all ancestors.

    Sampling a region (``sampler``): ``"exact"`` draws uniformly among the region's architectures
    not queried yet (:class:`ExactLeafSampler`; the space is enumerated, its features are
    ``space.features``), ``"hit-and-run"`` walks the architectures of the region's polytope by
    discrete hit-and-run and keeps those that satisfy all its constraints (:class:`PolytopeLeafSampler`;
    for spaces too large to enumerate; features: ``space.features`` where affine in the decisions'
    one-hot encoding, else that one-hot encoding), ``"pymc"`` samples the region's relaxed polytope
    with PyMC and discretises the draws, keeping those that satisfy all its constraints
    (:class:`PymcLeafSampler`, same features; needs the ``lanas`` extra), ``"auto"`` the exact sampler
    where the space is enumerable, else hit-and-run. ``"auto"`` never picks PyMC, so that a seed
    gives the same run whether or not the extra is installed, and because a PyMC model is far slower
    to build and sample than a hit-and-run round (``benchmarks/results/lanas/pymc.md``). A region
    that yields no new architecture (hit-and-run and PyMC only: its architectures all queried, or
    none found in the sampler's rounds) is given up until the next
    refit and the query goes to the region UCB selects next; once no region has a new architecture
    (every architecture queried), uniformly random ones are queried. Both are counted (:meth:`stats`).

    :param height: tree levels, >= 1 (default 5; 1 is random search without repeats).
    :param cp: exploration constant, >= 0 (default 0.1, the official NAS-Bench-101 run).
    :param n_init: uniformly random initial samples, >= 1 and at most the env's budget (default 10).
    :param refit_interval: queries between refits of the tree, >= 1 (default 20).
    :param sampler: ``"auto"`` (default), ``"exact"``, ``"hit-and-run"`` or ``"pymc"``.

    After a search, :attr:`tree` holds the tree of the last refit with the statistics of every
    sample, and :meth:`stats` what the sampler did.
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
        self._leaf_sampler: ExactLeafSampler | PolytopeLeafSampler | None = None
        self._fallbacks = 0
        self._uniform_draws = 0

    def unsupported_reason(self, env: gym.Env) -> str | None:
        space: SearchSpace = env.unwrapped.search_space
        try:
            check_features(space, np.zeros((1, space.n_decisions), dtype=np.int64))
        except ValueError as exc:
            return str(exc)
        if self.sampler == "exact" and not space.enumerable:
            return (
                f"sampler='exact' enumerates the space, and {space!r} is too large to enumerate; "
                "use sampler='hit-and-run' or 'auto'"
            )
        if self.sampler == "pymc":
            try:
                import_pymc()
            except ImportError as exc:
                return str(exc)
        return None

    def stats(self) -> dict[str, Any]:
        """What the last search's sampler did: ``sampler`` (``"exact"``, ``"hit-and-run"`` or ``"pymc"``),
        ``encoding`` (the tree's features: ``"features"``, the space's, or ``"one-hot"``),
        ``fallbacks`` (queries drawn outside the region UCB selected first: hit-and-run or PyMC found no new
        architecture there), ``uniform_draws`` (queries drawn uniformly at random because no region
        had a new architecture left: the whole space was queried, or every region given up), and for
        hit-and-run and PyMC ``proposed``, ``rejected`` (distinct discretised architectures, and those
        that violated a constraint of their region) and ``regions_given_up``, for PyMC ``models``
        (models built and sampled)."""
        sampler = self._leaf_sampler
        if sampler is None:
            return {}
        stats: dict[str, Any] = {"fallbacks": self._fallbacks, "uniform_draws": self._uniform_draws}
        if isinstance(sampler, ExactLeafSampler):
            return {"sampler": "exact", "encoding": "features", **stats}
        stats |= {
            "proposed": sampler.proposed,
            "rejected": sampler.rejected,
            "regions_given_up": sampler.regions_given_up,
        }
        if isinstance(sampler, PymcLeafSampler):
            return {"sampler": "pymc", "encoding": sampler.encoding, **stats, "models": sampler.models}
        return {"sampler": "hit-and-run", "encoding": sampler.encoding, **stats}

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        space: SearchSpace = env.unwrapped.search_space
        budget = int(env.unwrapped.budget)
        if self.n_init > budget:
            raise ValueError(f"n_init must be at most the env's budget of {budget} queries, got {self.n_init}")
        exact = self.sampler == "exact" or (self.sampler == "auto" and space.enumerable)
        if exact:
            self._leaf_sampler = leaf_sampler = ExactLeafSampler(space)
        elif self.sampler == "pymc":
            self._leaf_sampler = leaf_sampler = PymcLeafSampler(space)
        else:
            self._leaf_sampler = leaf_sampler = PolytopeLeafSampler(space)
        self._fallbacks = self._uniform_draws = 0
        rng = agent_rng(seed)
        env.reset(seed=seed)
        self.tree = tree = PartitionTree(self.height, leaf_sampler.n_features)
        leaf_sampler.repartition(tree)  # one region, the whole space, until the first fit
        features = np.zeros((budget, leaf_sampler.n_features))
        choices_seen = np.zeros((budget, space.n_decisions), dtype=np.int64)
        values = np.zeros(budget)
        n = 0
        while True:
            if n >= self.n_init and (n - self.n_init) % self.refit_interval == 0:
                tree.fit(features[:n], values[:n])
                leaf_sampler.repartition(tree)
            choices = self._draw(space, leaf_sampler, features[:n], choices_seen[:n], rng)
            _, _, terminated, truncated, info = env.step(choices)
            index = int(info["index"])
            choices_seen[n] = space.choices_of(index)
            features[n] = leaf_sampler.encode(np.array([index]), choices_seen[n : n + 1])[0]
            values[n] = float(info["valid_acc"]) / 100.0
            tree.add(int(tree.leaf_of(features[n : n + 1])[0]), values[n])
            leaf_sampler.mark_queried(index)
            n += 1
            if terminated or truncated:
                return

    def _draw(
        self,
        space: SearchSpace,
        leaf_sampler: ExactLeafSampler | PolytopeLeafSampler,
        features: np.ndarray,
        choices_seen: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The region UCB selects among those with an unqueried architecture, and an unqueried
        architecture of the region; where hit-and-run or PyMC finds none there, the region is given up and
        the selection repeated (the query then lies outside the region first selected); once the
        whole space is given up (every architecture queried), a uniformly random architecture."""
        tree = self.tree
        first = tree.select(self.cp, leaf_sampler.eligible())
        node = first
        while True:
            if isinstance(leaf_sampler, ExactLeafSampler):
                choices = leaf_sampler.sample(node, rng)
            else:
                choices = leaf_sampler.sample(node, choices_seen[tree.satisfies(node, features)], rng)
            if choices is not None:
                self._fallbacks += node != first
                return choices
            if node == 0:
                self._uniform_draws += 1
                return space.sample(rng)
            node = tree.select(self.cp, leaf_sampler.eligible())
