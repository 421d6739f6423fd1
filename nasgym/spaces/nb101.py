"""NAS-Bench-101 cells: DAGs of at most 7 vertices and 9 edges, 3 operations, 423,624 unique cells.

A cell is an upper-triangular 7x7 adjacency matrix (vertex 0 is the input, vertex 6 the output)
and one operation per interior vertex (``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``).
As in the official code, a cell is first *pruned* (vertices not on a path from input to output are
dropped), then it is valid when the input reaches the output and the pruned cell has at most 9
edges, and two cells are the same architecture when their pruned graphs are isomorphic with equal
labels: :func:`cell_hash` is the official graph hash (an MD5 Weisfeiler-Lehman fingerprint), so
isomorphic cells share one hash and one row of the benchmark table.

Parameters and FLOPs of the network a cell builds (NAS-Bench-101's: a 3x3 stem conv of 128
channels, 3 stacks of 3 cells with 128/256/512 channels and 2x2 max pools between the stacks, a
global average pool and a dense layer to 10 classes) are computed exactly from the pruned cell by
:func:`params_and_flops`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

NB101_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
INPUT, OUTPUT = "input", "output"
MAX_VERTICES = 7
MAX_EDGES = 9
#: (source, target) of each entry of the upper triangle, row by row: the 21 edge decisions.
NB101_EDGES: tuple[tuple[int, int], ...] = tuple(
    (source, target) for source in range(MAX_VERTICES) for target in range(source + 1, MAX_VERTICES)
)
_STEM_CHANNELS, _N_STACKS, _CELLS_PER_STACK, _N_CLASSES, _RESOLUTION = 128, 3, 3, 10, 32


def _as_cell(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Check a (matrix, ops) pair as the official ModelSpec does, or raise a ValueError naming it."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not 2 <= matrix.shape[0] <= MAX_VERTICES:
        raise ValueError(f"matrix must be a square adjacency matrix of 2..{MAX_VERTICES} vertices, got {matrix.shape}")
    if not np.isin(matrix, (0, 1)).all() or np.tril(matrix).any():
        raise ValueError("matrix must hold 0/1 entries above the diagonal only (an upper-triangular DAG)")
    ops = list(ops)
    if len(ops) != matrix.shape[0] or ops[0] != INPUT or ops[-1] != OUTPUT:
        raise ValueError(f"ops must name every vertex, {INPUT!r} first and {OUTPUT!r} last, got {ops}")
    unknown = [op for op in ops[1:-1] if op not in NB101_OPS]
    if unknown:
        raise ValueError(f"ops {unknown} are unknown; interior vertices accept {list(NB101_OPS)}")
    return matrix.astype(np.int64), ops


def prune(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """The cell without the vertices that are not on a path from input to output (the official
    ``ModelSpec._prune``), or ``None`` when the input does not reach the output."""
    matrix, ops = _as_cell(matrix, ops)
    n = matrix.shape[0]
    from_input = _reachable(matrix, 0)
    to_output = _reachable(matrix.T, n - 1)
    keep = sorted(from_input & to_output)
    if 0 not in keep or n - 1 not in keep:
        return None
    return matrix[np.ix_(keep, keep)], [ops[v] for v in keep]


def _reachable(matrix: np.ndarray, start: int) -> set[int]:
    seen, frontier = {start}, [start]
    while frontier:
        for v in np.flatnonzero(matrix[frontier.pop()]).tolist():
            if v not in seen:
                seen.add(v)
                frontier.append(v)
    return seen


def is_valid(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> bool:
    """Whether the cell is in NAS-Bench-101: the input reaches the output, and the pruned cell has
    at most :data:`MAX_EDGES` edges (bad shapes or labels raise a ValueError instead)."""
    pruned = prune(matrix, ops)
    return pruned is not None and int(pruned[0].sum()) <= MAX_EDGES


def cell_hash(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> str:
    """The official NAS-Bench-101 hash of a cell (``ModelSpec.hash_spec``): equal for isomorphic
    pruned cells with the same labels. Raises a ValueError for a cell that is not valid."""
    pruned = prune(matrix, ops)
    if pruned is None:
        raise ValueError("the cell's input does not reach its output: it is not a NAS-Bench-101 cell")
    matrix, ops = pruned
    if int(matrix.sum()) > MAX_EDGES:
        raise ValueError(f"the pruned cell has {int(matrix.sum())} edges; NAS-Bench-101 allows at most {MAX_EDGES}")
    labels = [-1] + [NB101_OPS.index(op) for op in ops[1:-1]] + [-2]
    n = len(labels)
    out_degree, in_degree = matrix.sum(axis=1).tolist(), matrix.sum(axis=0).tolist()
    hashes = [_md5(str((out_degree[v], in_degree[v], labels[v]))) for v in range(n)]
    sources = [np.flatnonzero(matrix[:, v]).tolist() for v in range(n)]
    targets = [np.flatnonzero(matrix[v]).tolist() for v in range(n)]
    for _ in range(n):
        hashes = [
            _md5(
                "".join(sorted(hashes[w] for w in sources[v]))
                + "|"
                + "".join(sorted(hashes[w] for w in targets[v]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Output channels of every vertex, as the official model builder splits a cell's width: the
    vertices feeding the output share its channels, the others take the widest of their targets."""
    n = matrix.shape[0]
    channels = [0] * n
    channels[0], channels[-1] = in_channels, out_channels
    if n == 2:
        return channels
    fan_in = int(matrix[1:, n - 1].sum())
    share, remainder = divmod(out_channels, fan_in)
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            channels[v] = share + (1 if remainder else 0)
            remainder -= 1 if remainder else 0
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            channels[v] = max(channels[t] for t in range(v + 1, n - 1) if matrix[v, t])
    return channels


def _conv_bn_relu(c_in: int, c_out: int, kernel_area: int, pixels: int) -> tuple[int, int]:
    """(parameters, FLOPs) of a conv without bias, a BN and a ReLU at ``pixels`` output positions."""
    return kernel_area * c_in * c_out + 2 * c_out, (kernel_area * c_in * c_out + 3 * c_out) * pixels


def params_and_flops(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> tuple[float, float]:
    """Trainable parameters (M) and FLOPs (M) of the NAS-Bench-101 network built from a cell.

    Parameters count convs (no bias), batch norms (scale and shift) and the dense layer; they equal
    NAS-Bench-101's ``trainable_parameters``. FLOPs count the multiply-adds of convs and of the
    dense layer, 3 operations per output element of each conv-BN-ReLU (the stem and the 1x1
    projections too), 9 per output element of a 3x3 max pool and 4 of a 2x2 one, as in the FLOPs
    NAS-Bench-Suite-Zero records for these cells.
    """
    pruned = prune(matrix, ops)
    if pruned is None:
        raise ValueError("the cell's input does not reach its output: it builds no network")
    matrix, ops = pruned
    n = matrix.shape[0]
    resolution = _RESOLUTION
    pixels = resolution * resolution
    params = 27 * _STEM_CHANNELS + 2 * _STEM_CHANNELS
    flops = (27 * _STEM_CHANNELS + 3 * _STEM_CHANNELS) * pixels
    in_channels = _STEM_CHANNELS
    for stack in range(_N_STACKS):
        out_channels = _STEM_CHANNELS * 2**stack
        if stack > 0:
            resolution //= 2
            pixels = resolution * resolution
            flops += 4 * in_channels * pixels  # 2x2 max pool before the stack
        for _ in range(_CELLS_PER_STACK):
            channels = _vertex_channels(in_channels, out_channels, matrix)
            # the 1x1 projections of the cell input into the vertices it feeds
            layers = [_conv_bn_relu(in_channels, channels[t], 1, pixels) for t in range(1, n - 1) if matrix[0, t]]
            for t in range(1, n - 1):
                if ops[t] == "conv3x3-bn-relu":
                    layers.append(_conv_bn_relu(channels[t], channels[t], 9, pixels))
                elif ops[t] == "conv1x1-bn-relu":
                    layers.append(_conv_bn_relu(channels[t], channels[t], 1, pixels))
                else:
                    layers.append((0, 9 * channels[t] * pixels))
            if matrix[0, n - 1]:  # the input's projection added to the output
                layers.append(_conv_bn_relu(in_channels, out_channels, 1, pixels))
            params += sum(p for p, _ in layers)
            flops += sum(f for _, f in layers)
            in_channels = out_channels
    params += in_channels * _N_CLASSES + _N_CLASSES
    flops += in_channels * _N_CLASSES
    return params / 1e6, flops / 1e6
