"""Compiled steps of the native vector envs (numba, the ``fast`` extra).

:class:`~nasgym.envs.vector.NASVectorEnv` keeps each sub-env's search history in arrays over the
sub-envs; its numpy path updates them in whole-array passes, which at N = 1024 cost about 150
numpy calls a step. :func:`query` does the same updates in one compiled loop over the sub-envs,
writing into the env's arrays in place; :func:`first_argmax` (Continuous: argmax per decision) and
:func:`choice_index` (Global: a choice per decision) check and decode the actions.

``cache=True`` keeps the machine code on disk (next to this file, or in ``NUMBA_CACHE_DIR``), so
only the first process on a machine compiles them. The single envs do not use them: importing
numba and loading the machine code cost each process far more than a single env's step (a few
microseconds) would win back in a search (``benchmarks/speed_nb201.py`` measures both).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_argmax(values: np.ndarray, n_choices: np.ndarray, radix: np.ndarray, indices: np.ndarray) -> int:
    """The canonical index of the argmax per decision (the first of equal values) of each row of
    ``values``, into ``indices``, after checking that every value is within [-1, 1].

    :param values: ``(rows, n_decisions * max_choices)`` float32 action scores.
    :param n_choices: the number of choices of each decision (padded choices never win).
    :param radix: the index weight of each decision's choice.
    :return: the first row with a value outside [-1, 1] or NaN (``indices`` is then not
        written), -1 when every value is within.
    """
    flat = values.reshape(-1)
    within = True
    for i in range(flat.shape[0]):  # (one flat pass: no early exit, so it runs in vector registers)
        within &= abs(flat[i]) <= np.float32(1.0)  # (False for NaN)
    if not within:
        for row in range(values.shape[0]):
            for c in range(values.shape[1]):
                if not abs(values[row, c]) <= np.float32(1.0):
                    return row
    width = values.shape[1] // n_choices.shape[0]
    indices[:] = 0
    for decision in range(n_choices.shape[0]):  # decision-major: the same trip count for every row
        start, weight = decision * width, radix[decision]
        for row in range(values.shape[0]):
            best, choice = values[row, start], 0
            for c in range(1, n_choices[decision]):
                # strictly greater: equal values, 0.0 and -0.0 included, keep the first (selects,
                # not branches: random scores would mispredict half of them)
                value = values[row, start + c]
                greater = value > best
                choice = c if greater else choice
                best = value if greater else best
            indices[row] += choice * weight
    return -1


@njit(cache=True)
def choice_index(choices: np.ndarray, n_choices: np.ndarray, radix: np.ndarray, indices: np.ndarray) -> int:
    """The canonical index of each row of integer ``choices`` (one per decision), into
    ``indices``, checking the range in the same pass.

    :return: the first row with a choice outside ``0..n_choices[d] - 1``, -1 when every one is within.
    """
    for row in range(choices.shape[0]):
        index = 0
        within = True
        for decision in range(choices.shape[1]):
            choice = choices[row, decision]
            within &= (choice >= 0) & (choice < n_choices[decision])
            index += choice * radix[decision]
        if not within:
            return row
        indices[row] = index
    return -1


@njit(cache=True)
def query(
    rows: np.ndarray,
    indices: np.ndarray,
    draws: np.ndarray,
    seed_noise: bool,
    columns: int,
    observed: np.ndarray,
    n_seeds: np.ndarray,
    constants: np.ndarray,
    metrics: np.ndarray,
    n_queries: np.ndarray,
    sim_time: np.ndarray,
    clear_gap: float,
    seen: np.ndarray,
    log_index: np.ndarray,
    log_sum: np.ndarray,
    log_count: np.ndarray,
    n_distinct: np.ndarray,
    best_index: np.ndarray,
    best_mean: np.ndarray,
    best_slot: np.ndarray,
    top_index: np.ndarray,
    top_rank: np.ndarray,
    top_len: np.ndarray,
    top_floor: np.ndarray,
    rank_value: np.ndarray,
    onehots: np.ndarray,
    onehot_sum: np.ndarray,
    top_observation: np.ndarray,
    lookups: np.ndarray,
    rare: np.ndarray,
) -> int:
    """Query architecture ``indices[j]`` in sub-env ``rows[j]``, for every ``j``: what
    :meth:`NASVectorEnv._query` does on arrays, in one loop.

    The observation is row ``index * columns + int(draws[j] * n_seeds[index])`` of ``observed``
    (with ``seed_noise``; else row ``index``), as ``TabularEvaluator.evaluate_one`` draws it. The
    history follows the same rules as :meth:`NASVectorEnv._observe` and
    :meth:`NASVectorEnv._update_top_k` (whose docstrings say why they are those of the single
    env): the log of distinct architectures, the incumbent's common cases, and the top-K (members
    keep their best observation, any other candidate above the smallest member replaces it, its
    encoding's sum updated in the single env's order). The other arguments are the env's arrays of
    the same names (without the underscore).

    :param seen: ``(rows, words)`` int64 bitsets, bit ``index % 64`` of word ``index // 64`` set
        once the row's episode has queried ``index``: 1 bit per architecture keeps them in cache,
        and only a repeat scans the row's ``log_index`` (row-major: a few cache lines) for its slot.

    :param constants: ``(4, architectures)``, the metrics that do not depend on the drawn seed.
    :param metrics: ``(>= 6, rows)``, its first six rows written with the query metrics in the
        order of ``_QUERY_KEYS`` (validation accuracy, the rows of ``constants``, cost).
    :param lookups: ``(2, rows)`` int64 scratch (each query's observation row and whether it was seen).
    :param rare: written with the positions ``j`` whose incumbent update needs the exact rules
        (within rounding of the best but not equal, or the best fallen), left to the caller.
    :return: how many positions ``rare`` holds.
    """
    n = n_distinct.shape[0]
    k = top_index.shape[1]
    width = onehots.shape[1]
    # first the table reads and history lookups, which do not depend on each other, so the CPU
    # overlaps their cache misses; then the updates, whose branches depend on them
    for j in range(rows.shape[0]):
        row, index = rows[j], indices[j]
        observation = index * columns + int(draws[j] * n_seeds[index]) if seed_noise else index
        metrics[0, j] = observed[observation, 0]
        metrics[5, j] = observed[observation, 1]
        lookups[0, j] = observation
        lookups[1, j] = (seen[row, index >> 6] >> (index & 63)) & 1
    for key in range(constants.shape[0]):  # a pass per metric: one read and one write stream each
        for j in range(rows.shape[0]):
            metrics[1 + key, j] = constants[key, indices[j]]
    n_rare = 0
    for j in range(rows.shape[0]):
        row, index, value, cost = rows[j], indices[j], metrics[0, j], metrics[5, j]
        observation = lookups[0, j]
        n_queries[row] += 1
        sim_time[row] += cost
        # the log: a new architecture takes the next free slot, a known one adds to its slot
        if lookups[1, j] == 0:
            slot = n_distinct[row]
            log = slot * n + row
            log_index[row, slot] = index
            log_sum[log] = value
            log_count[log] = 1.0
            seen[row, index >> 6] |= np.int64(1) << (index & 63)
            n_distinct[row] = slot + 1
            mean = value
        else:
            slot = 0
            while log_index[row, slot] != index:
                slot += 1
            log = slot * n + row
            log_sum[log] = log_sum[log] + value
            log_count[log] = log_count[log] + 1.0
            mean = log_sum[log] / log_count[log]
        # the incumbent: clearly ahead, or equal and queried first, takes the best's place; the
        # best queried again keeps it while its mean does not fall
        best = best_mean[row]
        if index == best_index[row]:
            if mean >= best:
                best_mean[row] = mean
            else:  # fell: the exact rules find the leader
                rare[n_rare] = j
                n_rare += 1
        elif mean > best + clear_gap or (mean == best and slot < best_slot[row]):
            best_index[row], best_mean[row], best_slot[row] = index, mean, slot
        elif mean >= best - clear_gap and mean != best:  # within rounding: the exact rules decide
            rare[n_rare] = j
            n_rare += 1
        # the top-K, by (best observed validation accuracy, index) as observation ranks
        if not value > top_floor[row]:  # (NaN never enters)
            continue
        rank = int(observed[observation, 2])
        hit = -1
        for s in range(k):
            if top_index[row, s] == index:
                hit = s
                break
        if hit >= 0:
            if rank > top_rank[row, hit]:
                top_rank[row, hit] = rank
        else:
            lowest = 0
            for s in range(1, k):
                if top_rank[row, s] < top_rank[row, lowest]:
                    lowest = s
            evicted = top_index[row, lowest]
            top_index[row, lowest] = index
            top_rank[row, lowest] = rank
            if evicted >= 0:
                for c in range(width):
                    onehot_sum[row, c] = onehot_sum[row, c] - onehots[evicted, c]
            else:
                top_len[row] += 1
            length = np.float32(top_len[row])
            for c in range(width):
                onehot_sum[row, c] = onehot_sum[row, c] + onehots[index, c]
                top_observation[row, c] = onehot_sum[row, c] / length
        smallest = top_rank[row, 0]
        for s in range(1, k):
            smallest = min(smallest, top_rank[row, s])
        top_floor[row] = rank_value[smallest + 1]
    return n_rare
