"""NAS-Bench-101 cells: pruning, validity, the official graph hash, and parameter / FLOPs counts,
checked against 500 real NAS-Bench-101 cells (NAS-Bench-Suite-Zero's records)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from nb101_records import suite_zero_cells

from nasgym.spaces.nb101 import INPUT, NB101_OPS, OUTPUT, cell_hash, is_valid, params_and_flops, prune

CONV3, CONV1, POOL = NB101_OPS


@pytest.fixture(scope="module")
def records(shared_data):
    return [(matrix, ops, values) for (matrix, ops), values in suite_zero_cells(shared_data)]


def test_params_and_flops_equal_the_records(records):
    for matrix, ops, values in records:
        params, flops = params_and_flops(matrix, ops)
        assert params == pytest.approx(values["params"], abs=1e-9)
        assert flops == pytest.approx(values["flops"], abs=1e-9)


def test_hash_groups_only_repeats_of_one_cell(records):
    """The records store raw, unpruned matrices, and each holds one of the 3 trained repeats of its
    cell: cells the hash calls equal must show at most 3 distinct validation accuracies, and
    their pruned graphs must have equal sizes and label counts."""
    groups = collections.defaultdict(list)
    for matrix, ops, values in records:
        assert is_valid(matrix, ops)
        groups[cell_hash(matrix, ops)].append((prune(matrix, ops), values["val_accuracy"]))
    assert 200 < len(groups) < 500  # many records repeat a cell under another vertex order
    for members in groups.values():
        assert len({round(accuracy, 9) for _, accuracy in members}) <= 3
        shapes = {(m.shape[0], int(m.sum()), tuple(sorted(ops))) for (m, ops), _ in members}
        assert len(shapes) == 1


def test_hash_is_invariant_to_vertex_order_and_sensitive_to_labels():
    matrix = np.array(
        [
            [0, 1, 1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0],
        ]
    )
    ops = [INPUT, CONV3, CONV1, POOL, OUTPUT]
    # swap interior vertices 1<->2 (and relabel): the same cell
    order = [0, 2, 1, 3, 4]
    permuted = matrix[np.ix_(order, order)]
    permuted_ops = [ops[v] for v in order]
    # the permuted matrix is upper triangular again only if edges still go forward: 2->3 becomes 1->3
    assert not np.tril(permuted).any()
    assert cell_hash(permuted, permuted_ops) == cell_hash(matrix, ops)
    assert cell_hash(matrix, [INPUT, CONV1, CONV3, POOL, OUTPUT]) != cell_hash(matrix, ops)
    # a vertex that the input reaches but that reaches nothing is pruned away: the same cell
    dangling = np.zeros((6, 6), dtype=int)
    dangling[:4, :4] = matrix[:4, :4]
    dangling[:4, 5] = matrix[:4, 4]  # the output moves from vertex 4 to vertex 5
    dangling[0, 4] = 1
    dangling_ops = [INPUT, CONV3, CONV1, POOL, CONV3, OUTPUT]
    assert prune(dangling, dangling_ops)[0].shape == (5, 5)
    assert cell_hash(dangling, dangling_ops) == cell_hash(matrix, ops)


def test_validity_follows_the_official_rules():
    full = np.triu(np.ones((7, 7), dtype=int), k=1)  # 21 edges: too many
    ops = [INPUT, CONV3, CONV3, CONV3, CONV3, CONV3, OUTPUT]
    assert not is_valid(full, ops)
    with pytest.raises(ValueError, match="at most 9"):
        cell_hash(full, ops)
    disconnected = np.zeros((7, 7), dtype=int)
    disconnected[0, 1] = 1
    assert prune(disconnected, ops) is None and not is_valid(disconnected, ops)
    with pytest.raises(ValueError, match="does not reach"):
        params_and_flops(disconnected, ops)
    with pytest.raises(ValueError, match="upper-triangular"):
        cell_hash(full.T, ops)
    with pytest.raises(ValueError, match="unknown"):
        cell_hash(np.triu(np.ones((3, 3), dtype=int), k=1), [INPUT, "conv5x5", OUTPUT])
    with pytest.raises(ValueError, match="input"):
        cell_hash(np.triu(np.ones((3, 3), dtype=int), k=1), [CONV3, CONV3, OUTPUT])
