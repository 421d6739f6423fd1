"""What every NAS env shares: the evaluator, the reward, the budget and the search history."""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from nasgym.constraints import Constraint, check_constraint_argument
from nasgym.envs.render import RENDER_FPS, RENDER_MODES, check_render_mode, render
from nasgym.evaluators import NOISE_MODES, Evaluator, SyntheticEvaluator, TabularEvaluator
from nasgym.rewards import RewardFn, check_penalty_arguments, check_reward, make_reward
from nasgym.selection import Incumbent
from nasgym.spaces.base import SearchSpace


def make_evaluator(
    evaluator: str | Evaluator,
    space: str,
    dataset: str,
    noise: str,
    fidelity: int,
    cache_dir: Path | str | None,
    **live_kwargs: Any,
) -> Evaluator:
    """Resolve the env's ``evaluator`` argument: ``"tabular"``, ``"live"``, ``"supernet"`` (weights
    shared by the whole space), ``"synthetic"``, ``"surrogate"`` (the NAS-Bench-301 surrogate of the
    DARTS space) or an :class:`Evaluator` instance.

    :param live_kwargs: arguments of :class:`~nasgym.evaluators.live.LiveEvaluator` (``epochs``,
        ``batch_size``, ``device``, ``data_dir``, ``workers``, ...) or of
        :func:`~nasgym.evaluators.supernet.make_supernet_evaluator` (``steps``, ``sampling``, ...); only
        ``"live"`` and ``"supernet"`` take them.
    """
    # types first, so a wrong one is named here rather than failing deep in a path or a dict lookup
    for name, value in (("space", space), ("dataset", dataset), ("noise", noise)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a folder path (str or os.PathLike) or None, got {cache_dir!r}")
    if not isinstance(evaluator, (str, Evaluator)):
        raise TypeError(
            f"evaluator must be 'tabular', 'live', 'supernet', 'synthetic', 'surrogate' or an Evaluator instance, "
            f"got {evaluator!r}"
        )
    if noise not in NOISE_MODES:  # checked for every evaluator (live has no seed noise), before any table
        raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
    if evaluator == "live":
        from nasgym.evaluators.live import make_live_evaluator  # loaded only when live training is asked for

        return make_live_evaluator(space, dataset, cache_dir=cache_dir, **live_kwargs)
    if evaluator == "supernet":
        from nasgym.evaluators.supernet import make_supernet_evaluator  # loads torch only when asked for

        return make_supernet_evaluator(space, dataset, **live_kwargs)
    if live_kwargs:  # a TypeError, as for any unexpected keyword (SB3's make_vec_env relies on it)
        raise TypeError(
            f"unexpected keyword argument(s) {sorted(live_kwargs)}: only evaluator='live' and 'supernet' take more"
        )
    if evaluator == "tabular":
        if isinstance(fidelity, bool) or not isinstance(fidelity, (int, np.integer)):
            raise TypeError(f"fidelity must be an integer number of epochs, got {fidelity!r}")
        return TabularEvaluator(space, dataset, noise=noise, fidelity=fidelity, cache_dir=cache_dir)
    if evaluator == "synthetic":
        return SyntheticEvaluator(space, dataset, noise=noise)
    if evaluator == "surrogate":
        from nasgym.evaluators.surrogate import NB301SurrogateEvaluator  # loads onnxruntime only when asked for

        return NB301SurrogateEvaluator(space, dataset, noise=noise, fidelity=fidelity, cache_dir=cache_dir)
    if isinstance(evaluator, Evaluator):
        if evaluator.space.name != space:
            raise ValueError(f"evaluator is for space {evaluator.space.name!r} but this env searches {space!r}")
        return evaluator
    raise ValueError(
        f"evaluator {evaluator!r} is unknown; accepted: 'tabular', 'live', 'supernet', 'synthetic', 'surrogate' or an "
        "Evaluator instance"
    )


#: spaces up to this size hold the features of every architecture in one array per process (1.9 MB
#: on NAS-Bench-201), so a step reads a row; larger spaces compute them per queried architecture.
FEATURE_TABLE_LIMIT = 2**16
_FEATURE_TABLES: dict[tuple, np.ndarray] = {}


class _ComputedFeatures:
    """The features of one architecture, computed from its index (picklable, unlike a lambda)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def __call__(self, index: int) -> np.ndarray:
        return self.space.features(self.space.choices_of(index))


def feature_encoder(space: SearchSpace) -> tuple[Callable[[int], np.ndarray], np.ndarray | None]:
    """The features of one architecture by canonical index, and the whole table where there is one.

    Spaces of at most :data:`FEATURE_TABLE_LIMIT` architectures share one read-only table per
    process (a vector of 64 envs would otherwise hold 64 copies); the encoder then reads its rows.
    Larger spaces are never enumerated: the encoder computes the features of each index asked for.
    """
    if space.size > FEATURE_TABLE_LIMIT:
        return _ComputedFeatures(space), None
    key = space.cache_key
    table = _FEATURE_TABLES.get(key)
    if table is None:
        table = space.features(space.enumerate()).reshape(space.size, -1)
        table.flags.writeable = False
        table = _FEATURE_TABLES.setdefault(key, table)
    return table.__getitem__, table


class SearchHistory:
    """Query count, simulated time, best-so-far and the top-K architectures of one episode.

    The best so far is the :class:`~nasgym.selection.Incumbent`: the architecture with the highest
    mean of its observed validation accuracies (``best_valid_acc`` is that mean, ``best_test_acc``
    its test accuracy as last observed). The top-K, the agents' state, holds distinct architectures
    ranked by the best validation accuracy observed for each; an infeasible architecture (under the
    env's constraint) counts as a query and its cost, but enters neither. ``onehot_sum`` is the sum of their
    encodings (the space's features: one-hot for NAS-Bench-201), kept up to date incrementally and
    computed only for the architectures that enter the top-K; its mean is cached until the top-K
    changes, so most steps' observation is a copy.

    :param top_k: size of the top-K.
    :param encode: the features of an architecture by canonical index (:func:`feature_encoder`).
    :param arch_string: the arch string of a canonical index.
    :param n_features: length of the features.
    """

    def __init__(
        self, top_k: int, encode: Callable[[int], np.ndarray], arch_string: Callable[[int], str], n_features: int
    ) -> None:
        self.top_k = top_k
        self._encode = encode
        self._arch_string = arch_string
        self.n_queries = 0
        self.sim_time = 0.0
        self.incumbent = Incumbent()
        self.best_valid_acc = -math.inf
        self.best_index = -1
        self.best_test_acc = math.nan
        self.best_arch = ""
        self._test_accs: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []  # (valid_acc, index), smallest on top
        self._members: dict[int, float] = {}
        self._encodings: dict[int, np.ndarray] = {}  # of the members
        self.onehot_sum = np.zeros(n_features, dtype=np.float32)
        self._mean_onehot: np.ndarray | None = None  # onehot_sum / len, None when stale

    def record(self, index: int, valid_acc: float, test_acc: float, cost: float, feasible: bool = True) -> None:
        self.n_queries += 1
        self.sim_time += cost
        if not feasible:
            return
        self._test_accs[index] = test_acc
        incumbent = self.incumbent
        if incumbent.observe(index, valid_acc):
            self.best_index = incumbent.index
            self.best_arch = self._arch_string(incumbent.index) if incumbent.index >= 0 else ""
        elif index != self.best_index:  # nothing about the best changed
            return self._update_top_k(index, valid_acc)
        self.best_valid_acc = incumbent.mean
        self.best_test_acc = self._test_accs[self.best_index] if self.best_index >= 0 else math.nan
        self._update_top_k(index, valid_acc)

    def _update_top_k(self, index: int, valid_acc: float) -> None:
        known = self._members.get(index)
        if known is not None:  # already a member: keep its best observation
            if valid_acc > known:
                self._members[index] = valid_acc
                self._heap = [(v, i) for i, v in self._members.items()]
                heapq.heapify(self._heap)
            return
        if len(self._heap) < self.top_k:
            heapq.heappush(self._heap, (valid_acc, index))
        elif valid_acc > self._heap[0][0]:
            _, evicted = heapq.heapreplace(self._heap, (valid_acc, index))
            del self._members[evicted]
            self.onehot_sum -= self._encodings.pop(evicted)
        else:
            return
        self._members[index] = valid_acc
        encoding = self._encodings[index] = self._encode(index)
        self.onehot_sum += encoding
        self._mean_onehot = None

    def mean_onehot(self) -> np.ndarray | None:
        """Mean one-hot encoding of the top-K (cached: do not modify it), ``None`` while empty."""
        if self._mean_onehot is None and self._heap:
            self._mean_onehot = self.onehot_sum / np.float32(len(self._heap))
        return self._mean_onehot

    @property
    def top_k_indices(self) -> list[int]:
        """Members of the top-K, best first."""
        return [i for _, i in sorted(self._heap, reverse=True)]

    def __len__(self) -> int:
        return len(self._heap)


class NASEnv(gym.Env):
    """Base class of the NAS envs: builds the evaluator and reward, runs queries, keeps the history.

    Subclasses define the action and observation spaces and turn actions into architectures; they
    call :meth:`_query` once per complete architecture.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}
    #: the flavour turns actions into choice vectors through the space's hooks, which assume a plain
    #: product of decisions (the ConvNet space, of variable depth, has envs of its own)
    needs_product_space: ClassVar[bool] = True

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "cifar10",
        budget: int = 500,
        reward: str | RewardFn = "valid_acc",
        noise: str = "seed",
        top_k: int = 10,
        evaluator: str | Evaluator = "tabular",
        fidelity: int = 200,
        cache_dir: Path | str | None = None,
        render_mode: str | None = None,
        constraint: dict[str, float] | None = None,
        reward_beta: float | None = None,
        **live_kwargs: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode)
        #: (index, observed validation accuracy, best so far) of each query, kept for render()
        self._render_log: list[tuple[int, float, float]] = []
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ValueError(f"budget must be an integer number of queries >= 1, got {budget!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        check_reward(reward)  # before any table is loaded
        limits = check_constraint_argument(constraint)
        check_penalty_arguments(reward, reward_beta, limits)
        self.evaluator = make_evaluator(evaluator, space, dataset, noise, fidelity, cache_dir, **live_kwargs)
        self.search_space = self.evaluator.space
        if self.needs_product_space and not (self.search_space.is_product or self.search_space.decodes_actions):
            raise ValueError(
                f"{type(self).__name__} needs a search space that is a plain product of decisions, and "
                f"{self.search_space.name!r} is not; use the envs registered for it"
            )
        self.dataset = dataset
        self.budget = int(budget)
        self.top_k = int(top_k)
        #: the resource limits (``None``: unconstrained), checked against every architecture
        self.constraint = Constraint(limits, self.evaluator) if limits is not None else None
        self.reward_fn = make_reward(
            reward, self.evaluator.best_valid_acc, limits, reward_beta, self.search_space.valid_acc_is_accuracy
        )
        self._encode, self._onehots = feature_encoder(self.search_space)
        self._history = self._new_history()
        self._needs_reset = True
        self._uniform_observation = self.search_space.uniform_features()

    # --- shared behaviour ---------------------------------------------------------------------
    @property
    def history(self) -> SearchHistory:
        return self._history

    @property
    def render_log(self) -> list[tuple[int, float, float]]:
        """``(index, observed validation accuracy, best so far)`` of each query of the episode,
        recorded when the env renders (``render_mode`` set), else empty."""
        return self._render_log

    def render(self) -> str | np.ndarray | None:
        """The episode so far: text for ``render_mode="ansi"`` (the last and the best architecture,
        the queries and the best so far), an RGB ``uint8`` array for ``"rgb_array"`` (the best
        architecture drawn as a graph with its operations on the edges, or its decisions, beside
        the best-so-far curve); ``None`` without a render mode."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render mode; make the env with "
                f"gym.make(..., render_mode=...), one of {list(RENDER_MODES)}"
            )
        return render(self)

    def close(self) -> None:
        """Release what the evaluator holds (the live evaluator's worker pool, Ray, database)."""
        close = getattr(self.evaluator, "close", None)
        if close is not None:
            close()
        super().close()

    def _start_episode(self, seed: int | None) -> None:
        super().reset(seed=seed)
        self._history = self._new_history()
        self._render_log = []
        self._needs_reset = False

    def _new_history(self) -> SearchHistory:
        space = self.search_space
        return SearchHistory(self.top_k, self._encode, space.arch_string, space.feature_size)

    def arch_index(self, arch: int | str | np.ndarray | list[int]) -> int:
        """The canonical index of an architecture given as its index, its arch string or its choice
        vector (a Global action), or a ``ValueError`` naming ``arch``."""
        space = self.search_space
        if isinstance(arch, str):
            return int(space.index_of(space.from_string(arch)))
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, (bool, np.bool_)):
            return int(space.check_index(arch, "arch"))
        choices = space.check_choices(arch, "arch")
        if choices.ndim != 1:
            raise ValueError(f"arch must be one architecture (one choice per decision), got shape {choices.shape}")
        return int(space.index_of(choices))

    def is_feasible(self, arch: int | str | np.ndarray | list[int]) -> bool | np.ndarray:
        """Whether an architecture meets the env's ``constraint`` (always ``True`` without one): no
        query, no simulated time. ``arch`` is an index, an arch string or a choice vector; a 2-D
        array of choice vectors gives one answer per row, as a bool array."""
        if isinstance(arch, np.ndarray) and arch.ndim == 2:
            indices = self.search_space.index_of(self.search_space.check_choices(arch, "arch"))
            if self.constraint is None:
                return np.ones(len(indices), dtype=bool)
            return self.constraint.feasible_mask[indices]
        index = self.arch_index(arch)
        return True if self.constraint is None else bool(self.constraint.feasible_mask[index])

    def resources(self, arch: int | str | np.ndarray | list[int]) -> dict[str, float]:
        """The constrained resource metrics of an architecture (index, arch string or choice vector),
        in the units of ``info``, as ``info["resource"]`` reports them: no query, no simulated time.

        :raises ValueError: the env has no ``constraint``.
        """
        if self.constraint is None:
            raise ValueError("resources() reports the constrained metrics: make the env with constraint={...}")
        return self.constraint.resources(self.arch_index(arch))

    def _check_running(self) -> None:
        if self._needs_reset:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")

    # The methods below run on every step: they fill the info dict in place rather than merging
    # dicts built by helper calls, which is most of a step's cost otherwise.
    def _query(self, index: int) -> tuple[float, bool, dict[str, Any]]:
        """Evaluate one architecture, record it, and return (reward, truncated, info)."""
        metrics = self.evaluator.evaluate_one(index, self.np_random)
        history = self._history
        constraint = self.constraint
        feasible = True if constraint is None else bool(constraint.feasible_mask[index])
        history.record(index, metrics["valid_acc"], metrics["test_acc"], metrics["cost"], feasible)
        if self.render_mode is not None:
            self._render_log.append((index, metrics["valid_acc"], history.best_valid_acc))
        truncated = history.n_queries >= self.budget
        self._needs_reset = truncated
        info = {"arch": self.search_space.arch_string(index), "index": index, **metrics}
        if constraint is not None:
            resource = constraint.resources(index)
            info["feasible"], info["resource"] = feasible, resource
            metrics = metrics | resource  # a penalty reward reads its metric from here (latency_<device>, ...)
        info["n_queries"] = history.n_queries
        info["sim_time"] = history.sim_time
        if history.best_index >= 0:  # (inlined _add_best_info)
            info["best_valid_acc"] = history.best_valid_acc
            info["best_arch"] = history.best_arch
            info["best_test_acc"] = history.best_test_acc
        return float(self.reward_fn(metrics)), truncated, info

    def _add_best_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Add ``best_valid_acc``, ``best_arch``, ``best_test_acc`` so far; nothing before the first query."""
        history = self._history
        if history.best_index >= 0:
            info["best_valid_acc"] = history.best_valid_acc
            info["best_arch"] = history.best_arch
            info["best_test_acc"] = history.best_test_acc
        return info

    def _best_info(self) -> dict[str, Any]:
        """``best_valid_acc``, ``best_arch``, ``best_test_acc`` so far; empty before the first query."""
        return self._add_best_info({})

    def _progress_info(self) -> dict[str, Any]:
        """Info of a step that completed no query (Sequential env mid-architecture, reset)."""
        history = self._history
        return self._add_best_info({"n_queries": history.n_queries, "sim_time": history.sim_time})

    def _top_k_observation(self) -> np.ndarray:
        """Mean features (one-hot for NAS-Bench-201) of the top-K so far (the space's uniform
        features before any query)."""
        mean = self._history.mean_onehot()
        return (self._uniform_observation if mean is None else mean).copy()
