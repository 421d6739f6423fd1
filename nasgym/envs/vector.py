"""Native vector envs of the table-backed NAS envs: N independent envs stepped in one batched call.

A benchmark table is an array, so the queries of N envs are one fancy-indexing lookup, and the
search history of each env (the incumbent, the top-K, the query count and simulated time) can be
kept as arrays over the N envs. The classes here are the ``vector_entry_point`` of the registry
rows that carry one::

    envs = gym.make_vec("NAS-Bench-201-Continuous-v0", num_envs=1024, vectorization_mode="vector_entry_point")

They give exactly what a ``SyncVectorEnv`` of N such envs gives on the same seeds.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from nasgym.envs.base import NASEnv, feature_encoder
from nasgym.envs.continuous import ContinuousNASEnv
from nasgym.envs.global_arch import GlobalNASEnv
from nasgym.envs.sequential import SequentialNASEnv
from nasgym.evaluators import TabularEvaluator
from nasgym.rewards import valid_acc_reward
from nasgym.selection import _CLEAR_GAP, COMPARE_DECIMALS
from nasgym.spaces.base import SearchSpace

#: uniform draws pre-drawn per sub-env and refilled when used up: numpy's generators give the same
#: doubles as a block ``rng.random(k)`` as k single ``rng.random()`` calls, so the queries see
#: exactly the draws the single env makes, at the cost of one Python call per block
DRAW_BLOCK = 512
#: the metrics of a query (info keys besides arch, index, n_queries, sim_time and best_*)
_QUERY_KEYS = ("valid_acc", "test_acc", "flops", "params", "latency", "cost")

_ARCH_STRINGS: dict[tuple, np.ndarray] = {}


def _all_arch_strings(space: SearchSpace) -> np.ndarray:
    """The arch string of every architecture (object array), once per process and kind of space."""
    key = (type(space), space.decision_names, space.choices)
    strings = _ARCH_STRINGS.get(key)
    if strings is None:
        strings = np.array([space.arch_string(i) for i in range(space.size)], dtype=object)
        strings.flags.writeable = False
        strings = _ARCH_STRINGS.setdefault(key, strings)
    return strings


class _PreDrawn:
    """Stands in for the generator of :meth:`TabularEvaluator.evaluate`: hands it the draws taken
    from the sub-envs' own generators (one per query, as :meth:`TabularEvaluator.evaluate_one`)."""

    def __init__(self, draws: np.ndarray | None) -> None:
        self._draws = draws

    def random(self, size: tuple[int, ...]) -> np.ndarray:
        if self._draws is None or tuple(np.shape(self._draws)) != tuple(np.atleast_1d(size)):
            raise RuntimeError("the tabular evaluator asked for other random numbers than one uniform draw per query")
        return self._draws


class NASVectorEnv(VectorEnv):
    """``num_envs`` independent NAS envs of one flavour on a benchmark table, stepped as arrays.

    ## Description

    The native vector env of a table-backed NAS env id (``gym.make_vec(id, num_envs=N)``). Sub-env
    ``i`` behaves exactly as the single env (``single_env_class``) made with the same keyword
    arguments and reset with seed ``seed + i``, and the whole vector exactly as
    :class:`gymnasium.vector.SyncVectorEnv` of N such envs: the queries of all sub-envs are one
    table lookup, and each sub-env's search history (incumbent, top-K, query count, simulated
    time) is kept in arrays over the sub-envs. Each sub-env draws its seed noise from its own
    generator, in blocks of :data:`DRAW_BLOCK` (numpy gives the same numbers as single draws).

    ## Action Space

    The single env's action space batched (``gymnasium.vector.utils.batch_space``): for
    NAS-Bench-201 ``Box(-1, 1, (N, 30))`` (Continuous), ``MultiDiscrete`` of shape ``(N, 6)``
    (Global), ``MultiDiscrete([5] * N)`` (Sequential). Bad actions raise a ``ValueError`` naming
    ``actions`` before any sub-env moves.

    ## Observation Space

    The single env's observation space batched: ``(N, 30)`` (Continuous, Global) or ``(N, 42)``
    (Sequential) ``float32``.

    ## Rewards

    Those of the single env, ``float64`` of shape ``(N,)``; 0 on a sub-env's autoreset step. The
    default reward is computed on arrays, the others (``"normalized"``, a callable) by calling
    the reward function once per query with that query's metrics, as the single env does.

    ## Episode End

    Terminations are always False; a sub-env is truncated on the step of its ``budget``-th query
    and reset on its next step (Gymnasium's next-step autoreset: that step ignores its action,
    returns the reset observation and the reset info). ``reset(options={"reset_mask": mask})``
    resets only the masked sub-envs, as in ``SyncVectorEnv``.

    ## Info

    One array per key of the single env's info, with its ``_key`` mask of the sub-envs that have
    it (0, or ``None`` for strings, where they do not), as Gymnasium builds vector infos.

    ## Arguments

    ```python
    gym.make_vec("NAS-Bench-201-<Flavour>-v0", num_envs=N, vectorization_mode="vector_entry_point",
                 dataset="cifar10", budget=500, reward="valid_acc", noise="seed", top_k=10)
    ```

    * `num_envs`: number of sub-envs (>= 1).
    * `render_mode`: must be `None` (render one env made with `gym.make`, or use
      `vectorization_mode="sync"`).
    * every other keyword is the single env's, checked by it; only `evaluator="tabular"` (the
      default) is vectorised: other evaluators raise a `ValueError` that points to
      `vectorization_mode="sync"`.

    Memory: 24 bytes per (sub-env, architecture of the space) for the search histories, 384 MB
    for 1,024 NAS-Bench-201 envs, allocated (and touched) at construction.

    ## Version History

    * v0: Initial version.
    """

    single_env_class: ClassVar[type[NASEnv]]
    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, render_mode: str | None = None, **env_kwargs: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(
                f"render_mode {render_mode!r}: the native vector env does not render; accepted: None "
                "(render one env made with gym.make, or use vectorization_mode='sync')"
            )
        template = self.single_env_class(**env_kwargs)  # checks every argument as gym.make does
        if type(template.evaluator) is not TabularEvaluator:
            template.close()
            raise ValueError(
                f"evaluator {template.evaluator!r}: the native vector env serves evaluator='tabular' only; "
                "use gym.make_vec(..., vectorization_mode='sync') for other evaluators"
            )
        if template.constraint is not None:  # its arrays keep no feasibility: refuse rather than rank wrongly
            template.close()
            raise ValueError(
                f"constraint {template.constraint.limits}: the native vector env does not take a constraint (nor the "
                "penalty rewards that need one); use gym.make_vec(..., vectorization_mode='sync')"
            )
        self._template = template
        self.num_envs = n = int(num_envs)
        self.render_mode = None
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)

        space = template.search_space
        self._space = space
        self._evaluator: TabularEvaluator = template.evaluator
        self._seed_noise = self._evaluator.noise == "seed"
        self._reward_fn = template.reward_fn
        self._budget = template.budget
        self._top_k = template.top_k
        self._size = size = space.size
        _, self._onehots = feature_encoder(space)  # the observation's features of every architecture
        if self._onehots is None:
            raise ValueError(
                f"space {space.name!r} is too large for the native vector env; use vectorization_mode='sync'"
            )
        self._arch_strings = _all_arch_strings(space)
        #: the canonical index of a choice vector is its dot product with these (a product space)
        self._radix = space.index_of(np.eye(space.n_decisions, dtype=np.int64))
        # per-architecture values that do not depend on the drawn seed (test accuracy, ...)
        self._test_acc = np.asarray(self._evaluator.evaluate(np.arange(size), _PreDrawn(np.zeros(size)))["test_acc"])
        self._rows = np.arange(n)
        self._all_rows_mask = np.ones(n, dtype=bool)

        # per-sub-env generators and their pre-drawn uniforms
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._draws = np.zeros((DRAW_BLOCK, n)) if self._seed_noise else None
        self._next_draw = np.full(n, DRAW_BLOCK, dtype=np.int64)
        self._draws_aligned = True  # every sub-env at the same position in its block

        # search histories: one row (sum, count, first-query stamp) of the observed validation
        # accuracies of each (sub-env, architecture), at sub-env * size + index, so a query reads
        # and writes one row; a row belongs to the current episode when its stamp is >= the
        # episode's first stamp (so a reset writes nothing per architecture). Stamps count each
        # sub-env's queries (exact in float64 up to 2**53).
        self._stats = np.zeros((n * size, 3))
        self._stats.fill(0.0)  # touch every page now: page faults would otherwise land on the first steps
        self._next_stamp = np.ones(n)  # per sub-env, never reset
        self._episode_stamp = np.ones(n)
        self._n_queries = np.zeros(n, dtype=np.int64)
        self._sim_time = np.zeros(n)
        self._best_index = np.full(n, -1, dtype=np.int64)
        self._best_mean = np.full(n, -math.inf)
        # top-K by best observed validation accuracy: slots 0..len-1 used, index -1 in free slots
        # top-K by best observed validation accuracy; a free slot holds (-inf, -1), so it is the
        # first evicted, and index -1 reads the zero row appended to the one-hot encodings
        self._top_index = np.full((n, self._top_k), -1, dtype=np.int64)
        self._top_value = np.full((n, self._top_k), -math.inf)
        self._top_len = np.zeros(n, dtype=np.int64)
        self._top_floor = np.full(n, -math.inf)  # the smallest member's value (-inf while not full)
        self._onehots_or_zero = np.vstack([self._onehots, np.zeros_like(self._onehots[:1])])
        self._onehot_sum = np.zeros((n, self._onehots.shape[1]), dtype=np.float32)
        #: what a sub-env observes after reset (uniform top-K, or the empty partial architecture)
        self._reset_observation = template.reset(seed=0)[0]
        # each row's mean top-K features (the space's uniform features while empty)
        self._uniform_top_k = np.asarray(space.uniform_features(), dtype=np.float32)
        self._top_observation = np.tile(self._uniform_top_k, (n, 1))
        self._autoreset = np.zeros(n, dtype=bool)
        self._started = False

    # --- Gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env (or those of ``options["reset_mask"]``); an int ``seed`` seeds
        sub-env ``i`` with ``seed + i``, a list gives one seed (or ``None``) per sub-env."""
        n = self.num_envs
        seeds = [None] * n if seed is None else [seed + i for i in range(n)] if isinstance(seed, int) else seed
        if len(seeds) != n:
            raise ValueError(f"seed: a list of seeds needs one per sub-env ({n}), got {len(seeds)}")
        mask = np.ones(n, dtype=bool)
        if options is not None and "reset_mask" in options:
            mask = options["reset_mask"]
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (n,) or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool numpy array of shape ({n},) with at least one True, "
                    f"got {mask!r}"
                )
        rows = np.flatnonzero(mask)
        for i in rows.tolist():
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
                self._next_draw[i] = DRAW_BLOCK  # draws of the previous generator are void
        self._draws_aligned = bool((self._next_draw == self._next_draw[0]).all())
        self._reset_rows(rows)
        self._started = True
        return self._observations(), self._infos(rows)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; those truncated on the previous step are reset instead."""
        if not self._started:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")
        n = self.num_envs
        resetting = self._autoreset
        active = self._rows if not resetting.any() else np.flatnonzero(~resetting)
        query_rows, indices = self._apply_actions(actions, active)
        metrics = None
        if query_rows.size == n:  # every sub-env queried: the common case
            metrics = self._query(query_rows, indices)
            rewards = metrics.pop("reward")
            truncations = self._n_queries >= self._budget
        else:
            rewards, truncations = np.zeros(n), np.zeros(n, dtype=bool)
            if query_rows.size:
                metrics = self._query(query_rows, indices)
                rewards[query_rows] = metrics.pop("reward")
                truncations[query_rows] = self._n_queries[query_rows] >= self._budget
        if active.size < n:
            self._reset_rows(np.flatnonzero(resetting))
        self._autoreset = truncations.copy()
        infos = self._infos(self._rows, query_rows, indices, metrics)
        return self._observations(), rewards, np.zeros(n, dtype=bool), truncations, infos

    def close_extras(self, **kwargs: Any) -> None:
        self._template.close()

    # --- flavour hooks ------------------------------------------------------------------------
    def _apply_actions(self, actions: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Check the actions of ``rows`` (a ``ValueError`` naming ``actions``), advance the
        sub-envs, and return the rows that query and the canonical indices they query."""
        raise NotImplementedError

    def _observations(self) -> np.ndarray:
        """The batched observation (a new array)."""
        raise NotImplementedError

    def _reset_flavour(self, rows: np.ndarray) -> None:
        """Reset what the flavour keeps per sub-env (the partial architecture)."""

    # --- search histories ---------------------------------------------------------------------
    def _reset_rows(self, rows: np.ndarray) -> None:
        self._episode_stamp[rows] = self._next_stamp[rows]
        self._n_queries[rows] = 0
        self._sim_time[rows] = 0.0
        self._best_index[rows] = -1
        self._best_mean[rows] = -math.inf
        self._top_index[rows] = -1
        self._top_value[rows] = -math.inf
        self._top_len[rows] = 0
        self._top_floor[rows] = -math.inf
        self._top_observation[rows] = self._uniform_top_k
        self._onehot_sum[rows] = 0.0
        self._autoreset[rows] = False
        self._reset_flavour(rows)

    def _take_draws(self, rows: np.ndarray) -> np.ndarray:
        """One uniform draw per row, from each sub-env's generator in order."""
        if rows.size == self.num_envs and self._draws_aligned:  # one position for all: a row copy
            position = int(self._next_draw[0])
            if position >= DRAW_BLOCK:
                for i, rng in enumerate(self._rngs):
                    self._draws[:, i] = rng.random(DRAW_BLOCK)
                position = 0
            self._next_draw.fill(position + 1)
            return self._draws[position].copy()
        position = self._next_draw[rows]
        empty = position >= DRAW_BLOCK
        if empty.any():
            for i in rows[empty].tolist():
                self._draws[:, i] = self._rngs[i].random(DRAW_BLOCK)
            position[empty] = 0
        self._next_draw[rows] = position + 1
        self._draws_aligned = bool((self._next_draw == self._next_draw[0]).all())
        return self._draws[position, rows]

    def _query(self, rows: np.ndarray, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Evaluate one architecture per row, record it in the histories; the metrics and reward."""
        draws = _PreDrawn(self._take_draws(rows) if self._seed_noise else None)
        metrics = {k: np.asarray(v, dtype=np.float64) for k, v in self._evaluator.evaluate(indices, draws).items()}
        valid = metrics["valid_acc"]
        if self._reward_fn is valid_acc_reward:
            metrics["reward"] = valid / 100.0
        else:  # any other reward sees the metrics dict of each query, as in the single env
            rows_of_values = zip(*(metrics[k].tolist() for k in _QUERY_KEYS), strict=True)
            queries = [dict(zip(_QUERY_KEYS, values, strict=True)) for values in rows_of_values]
            metrics["reward"] = np.array([float(self._reward_fn(query)) for query in queries])
        self._n_queries[rows] += 1
        self._sim_time[rows] += metrics["cost"]
        self._observe(rows, indices, valid)
        self._update_top_k(rows, indices, valid)
        return metrics

    def _observe(self, rows: np.ndarray, indices: np.ndarray, valid: np.ndarray) -> None:
        """:meth:`nasgym.selection.Incumbent.observe` of each row, on arrays: a query clearly ahead
        of its row's best takes its place; the rare rest (within rounding of the best, or the best
        queried again) goes through the exact rules one row at a time."""
        flat = rows * self._size
        flat += indices
        stats = self._stats.take(flat, axis=0)  # (take: row fancy indexing is ~10x slower)
        stamps = self._next_stamp[rows]
        seen = stats[:, 2] >= self._episode_stamp[rows]
        best_index, best_mean = self._best_index[rows], self._best_mean[rows]
        if seen.any():
            stats[:, 0] = np.where(seen, stats[:, 0] + valid, valid)
            stats[:, 1] = np.where(seen, stats[:, 1] + 1.0, 1.0)
            stats[:, 2] = np.where(seen, stats[:, 2], stamps)
            mean = stats[:, 0] / stats[:, 1]
            repeats_best = indices == best_index
        else:  # new architectures only: the common case
            stats[:, 0], stats[:, 1], stats[:, 2] = valid, 1.0, stamps
            mean, repeats_best = valid, None
        self._stats[flat] = stats
        self._next_stamp[rows] = stamps + 1.0

        ahead = mean > best_mean + _CLEAR_GAP  # (the best itself, clearly ahead, keeps its place)
        rare = (mean >= best_mean - _CLEAR_GAP) ^ ahead  # within rounding of the best
        if repeats_best is not None:
            rare |= repeats_best & ~ahead
        self._best_index[rows] = np.where(ahead, indices, best_index)
        self._best_mean[rows] = np.where(ahead, mean, best_mean)
        if rare.any():
            for i, index in zip(rows[rare].tolist(), indices[rare].tolist(), strict=True):
                self._observe_exactly(i, index)

    def _observe_exactly(self, row: int, index: int) -> None:
        """The branches of :meth:`Incumbent.observe` a query not clearly ahead of the best takes."""
        best = int(self._best_index[row])
        mean = self._mean_of(row, index)
        if index == best:
            if mean >= self._best_mean[row]:
                self._best_mean[row] = mean
            else:  # the best fell (or became NaN): who leads now
                self._best_index[row], self._best_mean[row] = self._leader(row)
        elif best >= 0 and self._rank(row, index) > self._rank(row, best):  # tied within rounding
            self._best_index[row], self._best_mean[row] = index, mean

    def _mean_of(self, row: int, index: int) -> float:
        total, count, _ = self._stats[row * self._size + index].tolist()
        return total / count

    def _rank(self, row: int, index: int) -> tuple[float, float]:
        """:meth:`Incumbent._rank`: the rounded mean, then the earlier first query."""
        total, count, stamp = self._stats[row * self._size + index].tolist()
        mean = round(total / count, COMPARE_DECIMALS)
        return (-math.inf if math.isnan(mean) else mean, -stamp)

    def _leader(self, row: int) -> tuple[int, float]:
        """:meth:`Incumbent._leader` of one row: the best architecture and its mean, (-1, -inf)
        when every mean is NaN."""
        stats = self._stats[row * self._size : (row + 1) * self._size]
        seen = np.flatnonzero(stats[:, 2] >= self._episode_stamp[row])
        means = stats[seen, 0] / stats[seen, 1]
        if not (means == means).any():
            return -1, -math.inf
        close = seen[means >= np.nanmax(means) - _CLEAR_GAP].tolist()
        leader = max(close, key=lambda index: self._rank(row, index))
        return leader, self._mean_of(row, leader)

    def _update_top_k(self, rows: np.ndarray, indices: np.ndarray, valid: np.ndarray) -> None:
        """:meth:`SearchHistory._update_top_k` of each row, on arrays.

        Only a query above the smallest member of a full top-K (any query while it is not full)
        can change it, so the others cost one comparison.
        """
        candidate = valid > self._top_floor[rows]
        if not candidate.any():
            return
        rows, indices, valid = rows[candidate], indices[candidate], valid[candidate]
        members, values = self._top_index.take(rows, axis=0), self._top_value.take(rows, axis=0)
        hit = members == indices[:, None]
        member = hit.any(axis=1)
        if member.any():  # a member keeps its best observation
            values[hit] = np.maximum(values[hit], valid[member])
        enter = ~member  # replaces the smallest (value, index), a free slot first, as heapreplace does
        if enter.any():
            values_in, members_in = values[enter], members[enter]
            ties = values_in == values_in.min(axis=1, keepdims=True)
            slot = np.where(ties, members_in, np.iinfo(np.int64).max).argmin(axis=1)
            evicted = members_in[np.arange(slot.size), slot]
            entering = np.flatnonzero(enter)
            members[entering, slot] = indices[enter]
            values[entering, slot] = valid[enter]
            change = self._onehots.take(indices[enter], axis=0) - self._onehots_or_zero.take(evicted, axis=0)
            self._onehot_sum[rows[enter]] += change
            self._top_len[rows[enter]] += evicted < 0
        self._top_index[rows], self._top_value[rows] = members, values
        self._top_floor[rows] = values.min(axis=1)
        sums = self._onehot_sum.take(rows, axis=0)
        self._top_observation[rows] = sums / self._top_len[rows, None].astype(np.float32)

    # --- infos --------------------------------------------------------------------------------
    def _infos(
        self,
        rows: np.ndarray,
        query_rows: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        metrics: dict[str, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """Vector infos as SyncVectorEnv builds them: for each key, the values of the rows that
        have it (0, or ``None`` for strings, elsewhere) and its ``_key`` mask.

        :param rows: the rows that report an info (every row on a step, the reset ones on reset).
        :param query_rows: the rows that queried, with the ``indices`` and ``metrics`` of the queries.
        """
        infos: dict[str, Any] = {}
        if query_rows is not None and query_rows.size:
            self._add_infos(infos, query_rows, arch=self._arch_strings[indices], index=indices)
            self._add_infos(infos, query_rows, **{key: metrics[key] for key in _QUERY_KEYS})
        self._add_infos(infos, rows, n_queries=self._n_queries[rows], sim_time=self._sim_time[rows])
        best_rows = rows[self._best_index[rows] >= 0]
        if best_rows.size:
            best = self._best_index[best_rows]
            self._add_infos(
                infos,
                best_rows,
                best_valid_acc=self._best_mean[best_rows],
                best_arch=self._arch_strings[best],
                best_test_acc=self._test_acc[best],
            )
        return infos

    def _add_infos(self, infos: dict[str, Any], rows: np.ndarray, **values: np.ndarray) -> None:
        """Add each key's values of ``rows`` (fresh arrays, in row order) and its mask."""
        n = self.num_envs
        everyone = rows.size == n
        for key, column in values.items():
            if not everyone:
                spread = np.full(n, None, dtype=object) if column.dtype == object else np.zeros(n, column.dtype)
                spread[rows] = column
                column = spread
            if everyone:
                mask = self._all_rows_mask.copy()  # (a copy is quicker than np.ones)
            else:
                mask = np.zeros(n, dtype=bool)
                mask[rows] = True
            infos[key], infos[f"_{key}"] = column, mask


class _TopKObservationVectorEnv(NASVectorEnv):
    """Flavours whose observation is the top-K's mean one-hot encoding and that query every step."""

    def _observations(self) -> np.ndarray:
        return self._top_observation.copy()


class ContinuousNASVectorEnv(_TopKObservationVectorEnv):
    """The native vector env of :class:`~nasgym.envs.continuous.ContinuousNASEnv`: actions
    ``(num_envs, n_decisions * max_choices)`` in [-1, 1], argmax per decision; see
    :class:`NASVectorEnv`."""

    single_env_class = ContinuousNASEnv

    def __init__(self, num_envs: int, render_mode: str | None = None, **env_kwargs: Any) -> None:
        super().__init__(num_envs, render_mode, **env_kwargs)
        space = self._space
        self._scores_shape = (-1, space.n_decisions, space.max_choices)
        self._choice_code = np.tile(255 - np.arange(space.max_choices), space.n_decisions)
        # padded choices of uneven decisions can never win the argmax
        padding = np.where(np.arange(space.max_choices) < space.n_choices[:, None], 0.0, -np.inf)
        self._padding = padding.astype(np.float32) if np.isinf(padding).any() else None

    def _apply_actions(self, actions: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(actions, dtype=np.float32)
        if values.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {values.shape}")
        if rows.size < self.num_envs:
            values = values[rows]
        inside = np.abs(values) <= 1.0  # False for NaN
        if not inside.all():
            raise ValueError(f"action values must be finite and within [-1, 1]; got {values[~inside][:5].tolist()}")
        if self._padding is not None:
            values = values + self._padding
        return rows, self._first_argmax(values) @ self._radix

    def _first_argmax(self, values: np.ndarray) -> np.ndarray:
        """``argmax`` per decision (the first of equal values), shape (rows, n_decisions).

        numpy's argmax over a short last axis loops per row; this packs each value's order and
        its choice into one int64 and takes a few maxima over whole columns instead.
        """
        bits = (values + np.float32(0.0)).view(np.int32)  # (+0.0: -0.0 and 0.0 are equal values)
        keys = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).astype(np.int64)  # ordered as the floats
        keys <<= 8
        keys |= self._choice_code  # 255 - choice: the first choice wins a tie
        keys = keys.reshape(self._scores_shape)
        best = keys[..., 0]
        for choice in range(1, keys.shape[2]):
            best = np.maximum(best, keys[..., choice])
        return 255 - (best & 255)


class GlobalNASVectorEnv(_TopKObservationVectorEnv):
    """The native vector env of :class:`~nasgym.envs.global_arch.GlobalNASEnv`: actions
    ``(num_envs, n_decisions)``, one choice per decision; see :class:`NASVectorEnv`."""

    single_env_class = GlobalNASEnv

    def __init__(self, num_envs: int, render_mode: str | None = None, **env_kwargs: Any) -> None:
        super().__init__(num_envs, render_mode, **env_kwargs)
        self._n_choices = self._space.n_choices.astype(np.uint64)  # (negative choices wrap above it)

    def _apply_actions(self, actions: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        choices = np.asarray(actions)
        if choices.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {choices.shape}")
        if rows.size < self.num_envs:
            choices = choices[rows]
        if choices.dtype.kind not in "iu" or (choices.astype(np.uint64) >= self._n_choices).any():
            choices = self._space.check_choices(choices, "actions")  # raises, naming the bad choices
        return rows, choices @ self._radix


class SequentialNASVectorEnv(NASVectorEnv):
    """The native vector env of :class:`~nasgym.envs.sequential.SequentialNASEnv`: actions
    ``(num_envs,)``, the choice of each sub-env's current decision; see :class:`NASVectorEnv`."""

    single_env_class = SequentialNASEnv

    def __init__(self, num_envs: int, render_mode: str | None = None, **env_kwargs: Any) -> None:
        super().__init__(num_envs, render_mode, **env_kwargs)
        space = self._space
        self._n_decisions = space.n_decisions
        self._width = space.max_choices + 1  # choices + "unset"
        self._position = np.zeros(self.num_envs, dtype=np.int64)
        self._partial_index = np.zeros(self.num_envs, dtype=np.int64)
        self._partial = np.tile(self._reset_observation, (self.num_envs, 1))

    def _reset_flavour(self, rows: np.ndarray) -> None:
        self._position[rows] = 0
        self._partial_index[rows] = 0
        self._partial[rows] = self._reset_observation

    def _apply_actions(self, actions: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        choice = np.asarray(actions)
        if choice.shape != (self.num_envs,) or not np.issubdtype(choice.dtype, np.integer):
            raise ValueError(f"actions must be {self.num_envs} integers (one choice per sub-env), got {actions!r}")
        choice, position = choice[rows].astype(np.int64), self._position[rows]
        n_choices = self._space.n_choices[position]
        bad = (choice < 0) | (choice >= n_choices)
        if bad.any():
            raise ValueError(
                f"actions out of range: sub-env {int(rows[bad][0])} is at decision {int(position[bad][0])}, which "
                f"accepts 0..{int(n_choices[bad][0]) - 1}, got {int(choice[bad][0])}"
            )
        index = self._partial_index[rows] + choice * self._radix[position]
        done = position == self._n_decisions - 1
        going, went = rows[~done], position[~done]
        partial, width = self._partial, self._width
        partial[going, went * width + width - 1] = 0.0
        partial[going, went * width + choice[~done]] = 1.0
        base = self._n_decisions * width
        partial[going, base + went] = 0.0
        partial[going, base + went + 1] = 1.0
        self._position[going] = went + 1
        self._partial_index[going] = index[~done]
        finished = rows[done]
        self._reset_flavour(finished)
        return finished, index[done]

    def _observations(self) -> np.ndarray:
        return self._partial.copy()
