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
from nasgym.envs.continuous import ContinuousNASEnv, float32_values, out_of_range
from nasgym.envs.global_arch import GlobalNASEnv
from nasgym.envs.sequential import SequentialNASEnv
from nasgym.evaluators import TabularEvaluator
from nasgym.rewards import valid_acc_reward
from nasgym.selection import _CLEAR_GAP, COMPARE_DECIMALS
from nasgym.spaces.base import SearchSpace

try:  # the compiled steps (the ``fast`` extra); without numba the numpy path does the same
    from nasgym.envs import _kernels
except ImportError:
    _kernels = None

#: uniform draws pre-drawn per sub-env and refilled when used up: numpy's generators give the same
#: doubles as a block ``rng.random(k)`` as k single ``rng.random()`` calls, so the queries see
#: exactly the draws the single env makes, at the cost of one Python call per block
DRAW_BLOCK = 512
#: the metrics of a query (info keys besides arch, index, n_queries, sim_time and best_*)
_QUERY_KEYS = ("valid_acc", "test_acc", "flops", "params", "latency", "cost")
#: the query metrics that do not depend on the drawn seed (the compiled query writes them between
#: valid_acc and cost)
_CONSTANT_KEYS = _QUERY_KEYS[1:5]
#: the float infos of a step, the rows of one block: the query metrics, then the search's
_FLOAT_KEYS = (*_QUERY_KEYS, "sim_time", "best_valid_acc", "best_test_acc")
#: the info keys of a step on which every sub-env queried, in the single env's order, and their masks
_STEP_KEYS = ("arch", "index", *_QUERY_KEYS, "n_queries", "sim_time", "best_valid_acc", "best_arch", "best_test_acc")
_STEP_MASK_KEYS = tuple(f"_{key}" for key in _STEP_KEYS)

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


def _observation_ranks(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top-K's order of every observation: the dense rank of ``(validation accuracy, index)``
    (the tuples of :class:`~nasgym.envs.base.SearchHistory`'s heap) of column ``s`` of architecture
    ``i`` at ``i * columns + s``, and the value of each rank, shifted by one behind ``-inf`` (the
    rank -1 of a free top-K slot)."""
    values = valid.reshape(-1)
    index = np.repeat(np.arange(valid.shape[0]), valid.shape[1])
    order = np.lexsort((index, values))
    values, index = values[order], index[order]
    distinct = np.ones(len(order), dtype=bool)
    distinct[1:] = (values[1:] != values[:-1]) | (index[1:] != index[:-1])
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.cumsum(distinct) - 1
    return ranks, np.concatenate([[-math.inf], values[distinct]])


#: ``rows`` meaning every sub-env: a slice, so gathers are views and scatters plain copies
_ALL = slice(None)


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
    it (0, or ``None`` for strings, where they do not), as Gymnasium builds vector infos. On a
    step where every sub-env queries, the arrays are rows of a few blocks allocated for that step
    (one per dtype, one for the masks): new memory, as separate arrays would be, in fewer
    allocations.

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

    Memory, allocated (and touched) at construction: the search histories take 1 bit per
    (sub-env, architecture of the space) and 20 bytes per (sub-env, distinct architecture an
    episode can query: ``min(budget, size)``), the pre-drawn uniforms 4 KiB per sub-env.

    Speed: with numba installed (``pip install "nasgym[fast]"``) each step's per-sub-env work
    (table reads, search histories, checking and decoding the actions) runs in compiled loops
    (``nasgym.envs._kernels``); a process's first step then loads the machine code (the first
    process on a machine compiles it). Without numba the same rules run as numpy passes.

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
        size = space.size
        _, self._onehots = feature_encoder(space)  # the observation's features of every architecture
        if self._onehots is None:
            raise ValueError(
                f"space {space.name!r} is too large for the native vector env; use vectorization_mode='sync'"
            )
        self._arch_strings = _all_arch_strings(space)
        #: the canonical index of a choice vector is its dot product with these (a product space)
        self._radix = space.index_of(np.eye(space.n_decisions, dtype=np.int64))
        # what a query observes: column int(draw * n_seeds[i]) of architecture i, row i * columns +
        # column of _observed: (valid_acc, cost, rank in the top-K's order; ranks are exact as
        # floats), one row so that a query reads one cache line; _constants has a row per metric
        # that does not depend on the drawn seed (_CONSTANT_KEYS): each is gathered in a pass of
        # its own, which writes one row of the infos
        valid, cost, n_seeds = self._evaluator.observation_table()
        self._columns = valid.shape[1]
        self._n_seeds = n_seeds.astype(np.float64)
        ranks, self._rank_value = _observation_ranks(valid)
        self._observed = np.column_stack([valid.reshape(-1), cost.reshape(-1), ranks])
        constant = self._evaluator.evaluate(np.arange(size), np.random.default_rng(0))
        self._constants = np.vstack([constant[key] for key in _CONSTANT_KEYS]).astype(np.float64, copy=False)
        self._test_acc = self._constants[_CONSTANT_KEYS.index("test_acc")]
        self._rows = np.arange(n)

        # per-sub-env generators and their pre-drawn uniforms
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._draws = np.zeros((DRAW_BLOCK, n)) if self._seed_noise else None
        self._next_draw = np.full(n, DRAW_BLOCK, dtype=np.int64)
        self._draws_aligned = True  # every sub-env at the same position in its block

        # search histories: each sub-env's log holds the episode's distinct architectures in query
        # order (their index, sum and count of observed validation accuracies; the slot is
        # Incumbent's first-query position), and _seen row i has bit index % 64 of word index // 64
        # set once sub-env i's episode has queried that architecture: a bit per architecture keeps
        # the "queried before?" test in cache (a dense slot map of N x size entries did not fit),
        # and only a repeat, rare until late in an episode, scans the row's _log_index (row-major,
        # so a scan reads a few cache lines) for its slot. The sums and counts are slot-major,
        # entry slot * N + sub-env: sub-envs that step together write neighbouring entries
        # rather than one memory page each
        slots = min(self._budget, size)  # distinct architectures an episode can log
        # (np.full writes every page now: page faults would otherwise land on the first steps)
        self._seen = np.full((n, -(-size // 64)), 0, dtype=np.int64)
        self._log_index = np.full((n, slots), 0, dtype=np.int32)
        self._log_sum = np.full(n * slots, 0.0)
        self._log_count = np.full(n * slots, 0.0)
        self._n_distinct = np.zeros(n, dtype=np.int64)
        self._n_queries = np.zeros(n, dtype=np.int64)
        self._sim_time = np.zeros(n)
        self._best_index = np.full(n, -1, dtype=np.int64)
        self._best_mean = np.full(n, -math.inf)
        self._best_slot = np.full(n, -1, dtype=np.int64)
        # top-K by (best observed validation accuracy, index) as observation ranks, one row per
        # sub-env (a compiled update reads one cache line, not K); a free slot holds rank -1 and
        # index -1, so it is the first evicted, and index -1 reads the zero row appended to the
        # encodings
        self._top_index = np.full((n, self._top_k), -1, dtype=np.int64)
        self._top_rank = np.full((n, self._top_k), -1, dtype=np.int64)
        self._top_len = np.zeros(n, dtype=np.int64)
        self._top_floor = np.full(n, -math.inf)  # the smallest member's value (-inf while not full)
        self._onehots_or_zero = np.vstack([self._onehots, np.zeros_like(self._onehots[:1])])
        self._onehot_sum = np.zeros((n, self._onehots.shape[1]), dtype=np.float32)
        #: what a sub-env observes after reset (uniform top-K, or the empty partial architecture)
        self._reset_observation = template.reset(seed=0)[0]
        # each row's mean top-K features (the space's uniform features while empty)
        self._uniform_top_k = np.asarray(space.uniform_features(), dtype=np.float32)
        self._top_observation = np.tile(self._uniform_top_k, (n, 1))
        #: the compiled steps (None: the numpy path), and where they list the rare incumbent updates
        self._kernels = _kernels
        self._rare = np.zeros(n, dtype=np.int64)
        self._lookups = np.zeros((2, n), dtype=np.int64)
        self._no_draws = np.zeros(0)  # (the draws of noise other than "seed")
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
        resetting = self._n_queries >= self._budget  # truncated on the previous step
        active = _ALL if not resetting.any() else np.flatnonzero(~resetting)
        query_rows, indices = self._apply_actions(actions, active)
        if query_rows is _ALL:  # every sub-env queried: the common case
            values, rewards = self._query(_ALL, indices)
            truncations = self._n_queries >= self._budget
            infos = self._step_infos(indices, values) if self._best_index.min() >= 0 else None
        else:
            values, infos = None, None
            rewards, truncations = np.zeros(n), np.zeros(n, dtype=bool)
            if query_rows.size:
                values, rewards[query_rows] = self._query(query_rows, indices)
                truncations[query_rows] = self._n_queries[query_rows] >= self._budget
        if active is not _ALL:
            self._reset_rows(np.flatnonzero(resetting))
        if infos is None:
            infos = self._infos(_ALL, query_rows, indices, values)
        return self._observations(), rewards, np.zeros(n, dtype=bool), truncations, infos

    def close_extras(self, **kwargs: Any) -> None:
        self._template.close()

    # --- flavour hooks ------------------------------------------------------------------------
    def _apply_actions(self, actions: Any, rows: np.ndarray | slice) -> tuple[np.ndarray | slice, np.ndarray]:
        """Check the actions of ``rows`` (an index array, or :data:`_ALL`; a ``ValueError`` naming
        ``actions``), advance the sub-envs, and return the rows that query (:data:`_ALL` when
        every sub-env does) and the canonical indices they query."""
        raise NotImplementedError

    def _observations(self) -> np.ndarray:
        """The batched observation (a new array)."""
        raise NotImplementedError

    def _reset_flavour(self, rows: np.ndarray) -> None:
        """Reset what the flavour keeps per sub-env (the partial architecture)."""

    # --- search histories ---------------------------------------------------------------------
    def _reset_rows(self, rows: np.ndarray) -> None:
        self._seen[rows] = 0
        self._n_distinct[rows] = 0
        self._n_queries[rows] = 0
        self._sim_time[rows] = 0.0
        self._best_index[rows] = -1
        self._best_mean[rows] = -math.inf
        self._best_slot[rows] = -1
        self._top_index[rows] = -1
        self._top_rank[rows] = -1
        self._top_len[rows] = 0
        self._top_floor[rows] = -math.inf
        self._top_observation[rows] = self._uniform_top_k
        self._onehot_sum[rows] = 0.0
        self._reset_flavour(rows)

    def _take_draws(self, rows: np.ndarray | slice) -> np.ndarray:
        """One uniform draw per row (a new array), from each sub-env's generator in order."""
        if rows is _ALL:
            if self._draws_aligned:  # one position for all: a row copy
                position = int(self._next_draw[0])
                if position >= DRAW_BLOCK:
                    for i, rng in enumerate(self._rngs):
                        self._draws[:, i] = rng.random(DRAW_BLOCK)
                    position = 0
                self._next_draw.fill(position + 1)
                return self._draws[position].copy()
            rows = self._rows
        position = self._next_draw[rows]
        empty = position >= DRAW_BLOCK
        if empty.any():
            for i in rows[empty].tolist():
                self._draws[:, i] = self._rngs[i].random(DRAW_BLOCK)
            position[empty] = 0
        self._next_draw[rows] = position + 1
        self._draws_aligned = bool((self._next_draw == self._next_draw[0]).all())
        return self._draws[position, rows]

    def _query(self, rows: np.ndarray | slice, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate one architecture per row and record it in the histories.

        :return: a new ``(len(_FLOAT_KEYS), len(rows))`` block whose first rows hold the metrics of
            the queries (in the order of ``_QUERY_KEYS``; the infos fill the others), and the rewards.
        """
        draws = self._take_draws(rows) if self._seed_noise else self._no_draws
        values = np.empty((len(_FLOAT_KEYS), len(indices)))
        if self._kernels is None:
            self._query_numpy(rows, indices, draws, values)
        else:
            self._query_compiled(self._rows if rows is _ALL else rows, indices, draws, values)
        if self._reward_fn is valid_acc_reward:
            return values, values[0] / 100.0
        # any other reward sees the metrics dict of each query, as in the single env
        rows_of_values = zip(*values[: len(_QUERY_KEYS)].tolist(), strict=True)
        queries = [dict(zip(_QUERY_KEYS, query, strict=True)) for query in rows_of_values]
        return values, np.array([float(self._reward_fn(query)) for query in queries])

    def _query_numpy(
        self, rows: np.ndarray | slice, indices: np.ndarray, draws: np.ndarray, values: np.ndarray
    ) -> None:
        """:meth:`_query` on arrays: the metrics into ``values``, with the histories updated."""
        if self._seed_noise:  # the column each query observes, as TabularEvaluator.evaluate_one draws it
            observation = draws * self._n_seeds.take(indices)
            observation = observation.astype(np.int64)
            observation += indices * self._columns
        else:
            observation = indices
        valid, cost, ranks = self._observed.take(observation, axis=0).T
        self._constants.take(indices, axis=1, out=values[1 : len(_QUERY_KEYS) - 1])
        values[0], values[len(_QUERY_KEYS) - 1] = valid, cost
        self._n_queries[rows] += 1
        self._sim_time[rows] += cost
        self._observe(rows, indices, valid)
        self._update_top_k(rows, indices, valid, ranks.astype(np.int64))

    def _query_compiled(self, rows: np.ndarray, indices: np.ndarray, draws: np.ndarray, values: np.ndarray) -> None:
        """:meth:`_query` in one compiled loop over ``rows``; the incumbent's rare cases go through
        the same exact rules as in the numpy path."""
        n_rare = self._kernels.query(
            rows, indices, draws, self._seed_noise, self._columns, self._observed, self._n_seeds, self._constants,
            values,
            self._n_queries, self._sim_time, _CLEAR_GAP,
            self._seen, self._log_index, self._log_sum, self._log_count, self._n_distinct, self._best_index,
            self._best_mean, self._best_slot, self._top_index, self._top_rank, self._top_len, self._top_floor,
            self._rank_value, self._onehots, self._onehot_sum, self._top_observation, self._lookups, self._rare,
        )  # fmt: skip
        for position in self._rare[:n_rare].tolist():
            self._observe_exactly(int(rows[position]), int(indices[position]))

    def _observe(self, rows: np.ndarray | slice, indices: np.ndarray, valid: np.ndarray) -> None:
        """:meth:`nasgym.selection.Incumbent.observe` of each row, on arrays: a query clearly ahead
        of its row's best, or equal to it and first queried earlier, takes its place; the best
        queried again keeps it while its mean does not fall. The rare rest (within rounding of the
        best but not equal, or a best that fell) goes through the exact rules one row at a time."""
        row_ids, words, bits = self._rows[rows], indices >> 6, np.left_shift(1, indices & 63)
        seen = self._seen[row_ids, words]
        new = (seen & bits) == 0
        # an architecture new to the episode is logged at the next free slot ...
        slot = self._n_distinct[rows].copy()  # (a copy: the view of _ALL would follow the update)
        new_rows = row_ids[new]
        log = slot[new] * self.num_envs + new_rows
        self._log_index[new_rows, slot[new]] = indices[new]
        self._log_sum[log] = valid[new]
        self._log_count[log] = 1.0
        self._seen[new_rows, words[new]] = seen[new] | bits[new]
        self._n_distinct[new_rows] += 1
        mean = valid
        again = np.flatnonzero(~new)
        if again.size:  # ... and the few queried before add to their slot
            again_rows = row_ids[again]
            for position, row, index in zip(again.tolist(), again_rows.tolist(), indices[again].tolist(), strict=True):
                slot[position] = self._slot_in_log(row, index)
            log = slot[again] * self.num_envs + again_rows
            total = self._log_sum[log] + valid[again]
            count = self._log_count[log] + 1.0
            self._log_sum[log], self._log_count[log] = total, count
            mean = valid.copy()
            mean[again] = total / count

        best_index, best_mean, best_slot = self._best_index[rows], self._best_mean[rows], self._best_slot[rows]
        repeats_best = indices == best_index
        takes = mean > best_mean + _CLEAR_GAP  # clearly ahead (NaN never is)
        takes |= (mean == best_mean) & (slot < best_slot)  # equal, and queried first
        keeps = repeats_best & (mean >= best_mean)  # the best queried again, its mean not fallen
        rare = np.where(repeats_best, ~keeps, (mean >= best_mean - _CLEAR_GAP) & (mean != best_mean) & ~takes)
        self._best_mean[rows] = np.where(takes | keeps, mean, best_mean)
        self._best_index[rows] = np.where(takes, indices, best_index)
        self._best_slot[rows] = np.where(takes, slot, best_slot)
        if rare.any():
            rare_rows = np.flatnonzero(rare) if rows is _ALL else rows[rare]
            for row, index in zip(rare_rows.tolist(), indices[rare].tolist(), strict=True):
                self._observe_exactly(row, index)

    def _observe_exactly(self, row: int, index: int) -> None:
        """The branches of :meth:`Incumbent.observe` a query neither clearly ahead of nor equal to
        the best takes (within rounding of it, or the best fallen)."""
        best = int(self._best_index[row])
        slot = self._slot_in_log(row, index)
        mean = self._mean_of(row, slot)
        if index == best:  # the best fell (or became NaN): who leads now
            self._set_best(row, *self._leader(row))
        elif self._rank(row, slot) > self._rank(row, int(self._best_slot[row])):  # tied within rounding
            self._set_best(row, index, mean, slot)

    def _set_best(self, row: int, index: int, mean: float, slot: int) -> None:
        self._best_index[row], self._best_mean[row], self._best_slot[row] = index, mean, slot

    def _slot_in_log(self, row: int, index: int) -> int:
        """The slot of architecture ``index`` in ``row``'s log (which holds it)."""
        return int(np.flatnonzero(self._log_index[row, : self._n_distinct[row]] == index)[0])

    def _mean_of(self, row: int, slot: int) -> float:
        log = slot * self.num_envs + row
        return float(self._log_sum[log] / self._log_count[log])

    def _rank(self, row: int, slot: int) -> tuple[float, float]:
        """:meth:`Incumbent._rank`: the rounded mean, then the earlier first query."""
        mean = round(self._mean_of(row, slot), COMPARE_DECIMALS)
        return (-math.inf if math.isnan(mean) else mean, -slot)

    def _leader(self, row: int) -> tuple[int, float, int]:
        """:meth:`Incumbent._leader` of one row: the best architecture, its mean and its slot,
        (-1, -inf, -1) when every mean is NaN."""
        logs = slice(row, row + int(self._n_distinct[row]) * self.num_envs, self.num_envs)
        means = self._log_sum[logs] / self._log_count[logs]
        if not (means == means).any():
            return -1, -math.inf, -1
        close = np.flatnonzero(means >= np.nanmax(means) - _CLEAR_GAP).tolist()
        slot = max(close, key=lambda slot: self._rank(row, slot))
        return int(self._log_index[row, slot]), self._mean_of(row, slot), slot

    def _update_top_k(
        self, rows: np.ndarray | slice, indices: np.ndarray, valid: np.ndarray, ranks: np.ndarray
    ) -> None:
        """:meth:`SearchHistory._update_top_k` of each row, on arrays.

        Only a query above the smallest member of a full top-K (any query while it is not full)
        can change it, so the others cost one comparison. A member queried again keeps its best
        observation; any other candidate replaces the smallest (value, index), a free slot first,
        as ``heapreplace`` does.
        """
        picked = np.flatnonzero(valid > self._top_floor[rows])
        if not picked.size:
            return
        rows = picked if rows is _ALL else rows[picked]
        indices, ranks = indices[picked], ranks[picked]
        member_ranks = self._top_rank.take(rows, axis=0).T  # (K, rows): reductions over K are whole-row ones
        hit = self._top_index.take(rows, axis=0).T == indices
        member = hit.any(axis=0)
        if member.any():
            again = np.flatnonzero(member)
            kept = np.maximum(member_ranks[:, again], np.where(hit[:, again], ranks[again], -1))
            member_ranks[:, again] = kept
            self._top_rank[rows[again]] = kept.T
            self._top_floor[rows[again]] = self._rank_value.take(kept.min(axis=0) + 1)
            enter = np.flatnonzero(~member)
            rows, indices, ranks, member_ranks = rows[enter], indices[enter], ranks[enter], member_ranks[:, enter]
        slot = member_ranks.argmin(axis=0)
        flat = rows * self._top_k + slot  # the entry of each row's evicted slot
        evicted = self._top_index.take(flat)
        self._top_index.flat[flat] = indices
        self._top_rank.flat[flat] = ranks
        member_ranks[slot, self._rows[: rows.size]] = ranks
        self._top_floor[rows] = self._rank_value.take(member_ranks.min(axis=0) + 1)
        # the single env's order: the evicted encoding out, then the new one in
        sums = self._onehot_sum.take(rows, axis=0)
        sums -= self._onehots_or_zero.take(evicted, axis=0)
        sums += self._onehots.take(indices, axis=0)
        self._onehot_sum[rows] = sums
        length = self._top_len[rows] + (evicted < 0)
        self._top_len[rows] = length
        self._top_observation[rows] = sums / length[:, None].astype(np.float32)

    # --- infos --------------------------------------------------------------------------------
    def _infos(
        self,
        rows: np.ndarray | slice,
        query_rows: np.ndarray | slice | None = None,
        indices: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Vector infos as SyncVectorEnv builds them: for each key, the values of the rows that
        have it (0, or ``None`` for strings, elsewhere) and its ``_key`` mask.

        :param rows: the rows that report an info (every row on a step, the reset ones on reset).
        :param query_rows: the rows that queried, with the ``indices`` and metric ``values`` (the
            block of :meth:`_query`) of the queries.
        """
        infos: dict[str, Any] = {}
        if values is not None:
            self._add_infos(infos, query_rows, arch=self._arch_strings.take(indices), index=indices)
            self._add_infos(infos, query_rows, **dict(zip(_QUERY_KEYS, values[: len(_QUERY_KEYS)], strict=True)))
        self._add_infos(infos, rows, n_queries=self._n_queries[rows].copy(), sim_time=self._sim_time[rows].copy())
        best_index = self._best_index[rows]
        has_best = best_index >= 0
        best_rows = rows if has_best.all() else (self._rows if rows is _ALL else rows)[has_best]
        if best_rows is _ALL or best_rows.size:
            best_index = best_index if best_rows is rows else best_index[has_best]
            self._add_infos(
                infos,
                best_rows,
                best_valid_acc=self._best_mean[best_rows].copy(),
                best_arch=self._arch_strings.take(best_index),
                best_test_acc=self._test_acc.take(best_index),
            )
        return infos

    def _step_infos(self, indices: np.ndarray, values: np.ndarray) -> dict[str, Any]:
        """:meth:`_infos` of a step on which every sub-env queried and has a best: every key in
        every row, so each column is a row of one new block (the query ``values`` of
        :meth:`_query`, whose free rows it fills) and every mask a row of one all-True block."""
        sim_time, best_valid_acc, best_test_acc = values[len(_QUERY_KEYS) :]
        sim_time[:] = self._sim_time
        best_valid_acc[:] = self._best_mean
        self._test_acc.take(self._best_index, out=best_test_acc)
        counts = np.empty((2, self.num_envs), dtype=np.int64)
        counts[0], counts[1] = indices, self._n_queries
        columns = (
            self._arch_strings.take(indices), counts[0], *values[: len(_QUERY_KEYS)], counts[1],
            sim_time, best_valid_acc, self._arch_strings.take(self._best_index), best_test_acc,
        )  # fmt: skip
        masks = np.ones((len(_STEP_KEYS), self.num_envs), dtype=bool)
        infos: dict[str, Any] = {}
        for key, mask_key, column, mask in zip(_STEP_KEYS, _STEP_MASK_KEYS, columns, masks, strict=True):
            infos[key], infos[mask_key] = column, mask
        return infos

    def _add_infos(self, infos: dict[str, Any], rows: np.ndarray | slice, **values: np.ndarray) -> None:
        """Add each key's values of ``rows`` (new arrays, in row order) and its mask."""
        n = self.num_envs
        if rows is _ALL or rows.size == n:
            # one block of all-True masks, a row per key (one allocation, not one per key)
            masks = np.ones((len(values), n), dtype=bool)
            for (key, column), mask in zip(values.items(), masks, strict=True):
                infos[key], infos[f"_{key}"] = column, mask
            return
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        for key, column in values.items():
            spread = np.full(n, None, dtype=object) if column.dtype == object else np.zeros(n, column.dtype)
            spread[rows] = column
            infos[key], infos[f"_{key}"] = spread, mask.copy()


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
        self._float_radix = self._radix.astype(np.float64)  # (exact: indices are far below 2**53)
        self._n_choices = space.n_choices.astype(np.int64)
        # padded choices of uneven decisions can never win the argmax
        padding = np.where(np.arange(space.max_choices) < space.n_choices[:, None], 0.0, -np.inf)
        self._padding = padding.astype(np.float32) if np.isinf(padding).any() else None

    def _apply_actions(self, actions: Any, rows: np.ndarray | slice) -> tuple[np.ndarray | slice, np.ndarray]:
        is_float32 = type(actions) is np.ndarray and actions.dtype == np.float32
        values = np.ascontiguousarray(actions if is_float32 else float32_values(actions, "actions"))
        if values.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {values.shape}")
        if rows is not _ALL:
            values = values[rows]
        if self._kernels is not None:  # checks the range too
            indices = np.empty(len(values), dtype=np.int64)
            within = self._kernels.first_argmax(values, self._n_choices, self._radix, indices) < 0
        else:
            within = not values.size or (values.min() >= -1.0 and values.max() <= 1.0)  # False for NaN
            indices = self._first_argmax(values) if within else None
        if not within:  # named as given, not as their float32 rounding
            raise out_of_range(np.asarray(actions)[rows])
        return rows, indices

    def _first_argmax(self, values: np.ndarray) -> np.ndarray:
        """The canonical index of the ``argmax`` per decision (the first of equal values) of each row.

        numpy's argmax over a short last axis loops per row; this takes the running maximum over
        the choices (one whole-array ``maximum`` per choice), and the first maximum's choice is the
        number of running maxima still below the final one.
        """
        scores = values.reshape(self._scores_shape)
        if self._padding is not None:
            scores = scores + self._padding
        running = np.empty((scores.shape[2], *scores.shape[:2]), dtype=np.float32)
        running[0] = scores[..., 0]
        for choice in range(1, scores.shape[2]):
            np.maximum(running[choice - 1], scores[..., choice], out=running[choice])
        below = running[:-1] < running[-1]  # (equal values, 0.0 and -0.0 included, are not below)
        choices = below.view(np.uint8).sum(axis=0, dtype=np.uint8)
        return (choices @ self._float_radix).astype(np.int64)


class GlobalNASVectorEnv(_TopKObservationVectorEnv):
    """The native vector env of :class:`~nasgym.envs.global_arch.GlobalNASEnv`: actions
    ``(num_envs, n_decisions)``, one choice per decision; see :class:`NASVectorEnv`."""

    single_env_class = GlobalNASEnv

    def __init__(self, num_envs: int, render_mode: str | None = None, **env_kwargs: Any) -> None:
        super().__init__(num_envs, render_mode, **env_kwargs)
        n_choices = self._space.n_choices
        # one bound for every decision where they all have as many choices (whole-array min and
        # max: a comparison broadcast along the short decision axis loops per row)
        self._uniform_choices = int(n_choices[0]) if (n_choices == n_choices[0]).all() else None
        self._n_choices = n_choices.astype(np.uint64)  # (negative choices wrap above it)
        self._choice_bounds = n_choices.astype(np.int64)  # (the compiled check's)

    def _apply_actions(self, actions: Any, rows: np.ndarray | slice) -> tuple[np.ndarray | slice, np.ndarray]:
        choices = np.asarray(actions)
        if choices.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {choices.shape}")
        if rows is not _ALL:
            choices = choices[rows]
        if choices.dtype == np.int64 and self._kernels is not None:  # checks the range in the same pass
            indices = np.empty(len(choices), dtype=np.int64)
            if self._kernels.choice_index(choices, self._choice_bounds, self._radix, indices) < 0:
                return rows, indices
        elif choices.dtype.kind in "iu" and self._within_range(choices):
            return rows, choices @ self._radix
        return rows, self._space.check_choices(choices, "actions") @ self._radix  # raises, naming the bad choices

    def _within_range(self, choices: np.ndarray) -> bool:
        if not choices.size:
            return True
        if self._uniform_choices is not None:
            return bool(choices.min() >= 0 and choices.max() < self._uniform_choices)
        return not (choices.astype(np.uint64) >= self._n_choices).any()


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
        self._common_position = 0  # the decision every sub-env is at, -1 when they differ
        self._no_rows = np.zeros(0, dtype=np.int64)

    def _reset_flavour(self, rows: np.ndarray | slice) -> None:
        self._position[rows] = 0
        self._partial_index[rows] = 0
        self._partial[rows] = self._reset_observation
        position = self._position
        self._common_position = 0 if rows is _ALL else int(position[0]) if (position == position[0]).all() else -1

    def _apply_actions(self, actions: Any, rows: np.ndarray | slice) -> tuple[np.ndarray | slice, np.ndarray]:
        choice = np.asarray(actions)
        if choice.shape != (self.num_envs,) or choice.dtype.kind not in "iu":
            raise ValueError(f"actions must be {self.num_envs} integers (one choice per sub-env), got {actions!r}")
        if rows is _ALL and self._common_position >= 0:
            return self._advance_together(choice.astype(np.int64, copy=False), self._common_position)
        rows = self._rows if rows is _ALL else rows
        choice, position = choice[rows].astype(np.int64), self._position[rows]
        n_choices = self._space.n_choices[position]
        bad = (choice < 0) | (choice >= n_choices)
        if bad.any():
            first = np.flatnonzero(bad)[0]
            self._refuse(int(rows[first]), int(position[first]), int(choice[first]))
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

    def _advance_together(self, choice: np.ndarray, position: int) -> tuple[np.ndarray | slice, np.ndarray]:
        """:meth:`_apply_actions` when every sub-env steps and all are at decision ``position``
        (sub-envs reset together stay in step): whole columns instead of per-row positions."""
        n_choices = int(self._space.n_choices[position])
        if not (choice.min() >= 0 and choice.max() < n_choices):
            first = int(np.flatnonzero((choice < 0) | (choice >= n_choices))[0])
            self._refuse(first, position, int(choice[first]))
        index = self._partial_index + choice * self._radix[position]
        if position == self._n_decisions - 1:
            self._reset_flavour(_ALL)
            return _ALL, index
        partial, width = self._partial, self._width
        column = position * width
        partial[:, column + width - 1] = 0.0
        partial[self._rows, column + choice] = 1.0
        base = self._n_decisions * width
        partial[:, base + position] = 0.0
        partial[:, base + position + 1] = 1.0
        self._position.fill(position + 1)
        self._partial_index = index
        self._common_position = position + 1
        return self._no_rows, self._no_rows

    def _refuse(self, row: int, position: int, choice: int) -> None:
        """Raise the ``ValueError`` of sub-env ``row``'s out-of-range ``choice`` at decision ``position``."""
        n_choices = int(self._space.n_choices[position])
        raise ValueError(
            f"actions out of range: sub-env {row} is at decision {position}, which accepts 0..{n_choices - 1}, "
            f"got {choice}"
        )

    def _observations(self) -> np.ndarray:
        return self._partial.copy()
