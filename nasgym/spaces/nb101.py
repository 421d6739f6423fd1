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

:class:`NB101Space` is the search space of an imported NAS-Bench-101 table (its cells are the
table's rows), with the choice vectors, encodings and action decoding the envs need.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from nasgym.spaces.tokens import ModuloTokens

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


# --- the 26 decisions of a cell: 21 edges (upper triangle, row by row), then the 5 interior ops ---
N_EDGES = len(NB101_EDGES)  # 21
N_INTERIOR = MAX_VERTICES - 2  # 5
_SOURCES = np.array([s for s, _ in NB101_EDGES])
_TARGETS = np.array([t for _, t in NB101_EDGES])
_N_CHOICES = np.array([2] * N_EDGES + [len(NB101_OPS)] * N_INTERIOR, dtype=np.int64)
#: weight of each decision in a cell's code (mixed radix, first edge most significant)
_CODE_WEIGHTS = np.array([int(np.prod(_N_CHOICES[d + 1 :])) for d in range(len(_N_CHOICES))], dtype=np.int64)
_EDGE_WEIGHTS = _CODE_WEIGHTS[:N_EDGES] // _CODE_WEIGHTS[N_EDGES - 1]  # the edge bits alone, in base 2
_OP_CODES = len(NB101_OPS) ** N_INTERIOR  # 243 op vectors
#: the op features of every (on-path vertices, ops) combination: row ``mask * 243 + ops`` (ops in
#: base 3, vertex 1 most significant) holds the one-hot op of each vertex in ``mask`` (bit v - 1)
_OP_COMBINATIONS = np.array(
    [
        [mask >> v & 1 and (code // 3 ** (N_INTERIOR - 1 - v)) % 3 == op for v in range(N_INTERIOR) for op in range(3)]
        for mask in range(1 << N_INTERIOR)
        for code in range(_OP_CODES)
    ],
    dtype=np.int8,
)
_BIT_COUNT = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.int8)
#: edge k = (s, t) -> 1 << t in column s: edge bits times this give each vertex's targets as a bit mask
_TARGET_BITS = np.zeros((len(NB101_EDGES), MAX_VERTICES), dtype=np.int64)
_TARGET_BITS[np.arange(len(NB101_EDGES)), _SOURCES] = 1 << _TARGETS


def cell_code(choices: np.ndarray) -> int:
    """A choice vector read as one mixed-radix integer (below 2**21 * 3**5, exact in float64): the
    table's :data:`CELL_METRIC`."""
    return int(np.asarray(choices, dtype=np.int64) @ _CODE_WEIGHTS)


def cell_choices(matrix: np.ndarray | Sequence, ops: Sequence[str]) -> np.ndarray:
    """The choice vector (21 edge bits, then 5 op indices into :data:`NB101_OPS`) of a valid cell's
    pruned form, padded to 7 vertices: a cell of ``n < 7`` vertices keeps vertices ``0..n-2`` in
    place, its output moves to vertex 6, and vertices ``n-1..5`` are padding, without edges and
    with op choice 0 (pruning drops them again, so the padded cell has the same hash).

    :raises ValueError: the cell is not a NAS-Bench-101 cell (see :func:`is_valid`).
    """
    pruned = prune(matrix, ops)
    if pruned is None or int(pruned[0].sum()) > MAX_EDGES:
        raise ValueError("the cell is not in NAS-Bench-101: its input must reach its output with at most 9 edges")
    small, small_ops = pruned
    n = small.shape[0]
    place = list(range(n - 1)) + [MAX_VERTICES - 1]  # vertex v of the pruned cell -> vertex place[v]
    padded = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    padded[np.ix_(place, place)] = small
    op_choices = [0] * N_INTERIOR
    for v, op in zip(place[1:-1], small_ops[1:-1], strict=True):
        op_choices[v - 1] = NB101_OPS.index(op)
    return np.concatenate([padded[_SOURCES, _TARGETS], op_choices]).astype(np.int64)


def choices_cell(choices: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The 7x7 matrix and the 7 op labels of one choice vector (inverse of :func:`cell_choices`
    for padded cells; any vector of 21 bits and 5 ops in 0..2 names some 7-vertex cell)."""
    matrix = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    matrix[_SOURCES, _TARGETS] = choices[:N_EDGES]
    return matrix, [INPUT, *(NB101_OPS[int(c)] for c in choices[N_EDGES:]), OUTPUT]


def on_path_vertices(edges: np.ndarray) -> np.ndarray:
    """Which interior vertices (1..5) lie on a path from input to output, for edge bits of shape
    (..., 21): bool (..., 5), vectorised (the vertices :func:`prune` keeps). Edges go from lower
    to higher vertices, so one pass in vertex order finds what the input reaches, and one in
    reverse order what reaches the output (sets of vertices as bit masks)."""
    targets = np.asarray(edges, dtype=np.int64) @ _TARGET_BITS  # (..., 7): bit t for each edge s -> t
    from_input = np.ones(targets.shape[:-1], dtype=np.int64)
    for v in range(MAX_VERTICES - 1):
        from_input |= np.where((from_input >> v) & 1, targets[..., v], 0)
    to_output = np.full(targets.shape[:-1], 1 << (MAX_VERTICES - 1), dtype=np.int64)
    for v in range(MAX_VERTICES - 2, 0, -1):
        to_output |= np.where(targets[..., v] & to_output, 1 << v, 0)
    return ((from_input & to_output)[..., None] >> np.arange(1, MAX_VERTICES - 1)) & 1 > 0


#: the dataset of NAS-Bench-101's table (CIFAR-10 is its only one)
NB101_DATASET = "cifar10"
#: table metrics that hold the space itself: each row's cell (its 26 choices in mixed radix, first
#: edge most significant) and its official hash (4 columns of 32-bit words, most significant first)
CELL_METRIC, HASH_METRIC = "cell", "cell_hash"
_HASH_WORDS = 4
_EDGE_LABELS = ("0", "1")
_EXAMPLE = "edges=0-1,0-2,1-6,2-6|ops=conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu"
#: the space of each loaded table, so that every env on one table shares one space and its lookups
_LOADED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hash_words(module_hash: str) -> list[int]:
    """An official hash (32 hex digits) as 4 integers of 32 bits, most significant first: the
    columns of the table's :data:`HASH_METRIC` (exact in float64)."""
    return [int(module_hash[8 * k : 8 * k + 8], 16) for k in range(_HASH_WORDS)]


class NB101Space(ModuloTokens):
    """The NAS-Bench-101 cells of an imported table; index = row of the table.

    The table (``nasgym data import nasbench_only108.tfrecord``) holds one row per unique cell, in
    ascending order of the official hash, so the official file gives 423,624 indices, and
    isomorphic cells share one. A choice vector is a 7-vertex cell: 21 edge bits (``edge<s>-<t>``,
    the upper triangle row by row) and the ops of vertices 1..5 (``op<v>``, indices into
    :data:`NB101_OPS`). Many vectors name one architecture (isomorphic or with dangling vertices),
    and many name none (the input does not reach the output, or more than 9 edges remain after
    pruning); a row's canonical vector is its pruned cell padded as :func:`cell_choices` says.

    Encodings: :meth:`features` is the 21 edge bits then the one-hot op of each of vertices 1..5,
    all zero for a vertex off every input-output path (padding or dangling), 36 values. The envs'
    actions (Global choice vectors, Sequential tokens, Continuous relaxations) may name a cell
    outside the table; :meth:`decode_choices` then takes the table's cell nearest to it. The
    Sequential envs take 26 tokens of ``Discrete(3)``, one per decision, an edge's token read
    modulo 2 (:class:`~nasgym.spaces.tokens.ModuloTokens`).

    Arch strings list the cell's edges and its 5 interior ops, e.g. ``edges=0-1,0-2,1-6,2-6|ops=
    conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu``.

    :param cells: the canonical choice vector of each row, shape (n, 26).
    :param hashes: the official hash words of each row (n, 4), rows in ascending hash order.
    """

    decodes_actions: ClassVar[bool] = True

    def __init__(self, cells: np.ndarray, hashes: np.ndarray) -> None:
        cells = np.ascontiguousarray(cells, dtype=np.int64)
        hashes = np.asarray(hashes, dtype=np.uint64)
        if cells.ndim != 2 or cells.shape[1] != N_EDGES + N_INTERIOR or hashes.shape != (len(cells), _HASH_WORDS):
            raise ValueError(
                f"cells must have shape (n, {N_EDGES + N_INTERIOR}) and hashes (n, {_HASH_WORDS}), "
                f"got {cells.shape} and {hashes.shape}"
            )
        self._fingerprint = hashlib.sha256((cells @ _CODE_WEIGHTS).tobytes() + hashes.tobytes()).hexdigest()
        super().__init__(
            name="nb101",
            decision_names=[f"edge{s}-{t}" for s, t in NB101_EDGES] + [f"op{v}" for v in range(1, N_INTERIOR + 1)],
            choices=[_EDGE_LABELS] * N_EDGES + [NB101_OPS] * N_INTERIOR,
        )
        self.size = len(cells)
        self._arch_strings = {}  # this table's strings only: another table numbers its cells otherwise
        self._cells = cells
        self._cells.flags.writeable = False
        # two 64-bit keys per hash, sorted as the hashes are: rows are found by binary search
        self._hash_high = (hashes[:, 0] << np.uint64(32)) | hashes[:, 1]
        self._hash_low = (hashes[:, 2] << np.uint64(32)) | hashes[:, 3]
        high, low = self._hash_high, self._hash_low
        if not ((high[1:] > high[:-1]) | ((high[1:] == high[:-1]) & (low[1:] > low[:-1]))).all():
            raise ValueError("hashes must be strictly ascending, one row per cell (the table's row order)")
        self._row_of_code: dict[int, int] | None = None  # built on first use
        self._pattern_codes: np.ndarray | None = None  # the encodings of _encodings(), on first use
        self._members: np.ndarray | None = None
        self._op_codes: np.ndarray | None = None

    @classmethod
    def load(cls, cache_dir: Path | str | None = None) -> NB101Space:
        """The space of the imported NAS-Bench-101 table in the cache (one instance per table).

        :raises ValueError: no table was imported (the message names the file to import).
        """
        from nasgym.tables.repository import load_table  # tables import spaces: loaded on demand

        table = load_table("nb101", NB101_DATASET, cache_dir)
        space = _LOADED.get(table)
        if space is None:
            codes = np.asarray(table.values(CELL_METRIC))[:, 0].astype(np.int64)
            cells = (codes[:, None] // _CODE_WEIGHTS) % _N_CHOICES
            space = _LOADED.setdefault(table, cls(cells, table.values(HASH_METRIC)))
        return space

    @property
    def cache_key(self) -> tuple:
        """The space's kind and the table's cells: two tables number their cells differently."""
        return (type(self), self._fingerprint)

    # --- index <-> choice vectors -------------------------------------------------------------
    def choices_of(self, index: np.ndarray | int) -> np.ndarray:
        return self._cells[self.check_index(index)]

    def _row_of(self, choices: list[int]) -> int | None:
        """The row of the cell a choice list names, ``None`` if the table lacks it; a ``ValueError``
        (from :func:`cell_hash`) if the cell is not in NAS-Bench-101 at all."""
        if self._row_of_code is None:
            self._row_of_code = dict(zip((self._cells @ self._radix_weights).tolist(), range(self.size), strict=True))
        row = self._row_of_code.get(sum(c * w for c, w in zip(choices, self._weights_list, strict=True)))
        if row is not None:
            return row
        digest = cell_hash(*choices_cell(np.asarray(choices)))
        high, low = int(digest[:16], 16), int(digest[16:], 16)
        start = int(np.searchsorted(self._hash_high, np.uint64(high), "left"))
        stop = int(np.searchsorted(self._hash_high, np.uint64(high), "right"))
        for candidate in range(start, stop):
            if int(self._hash_low[candidate]) == low:
                return candidate
        return None

    def index_of(self, choices: np.ndarray) -> np.ndarray:
        """The row of each cell (isomorphic cells share one).

        :raises ValueError: a vector names no NAS-Bench-101 cell, or one the imported table lacks.
        """
        arr = self.check_choices(choices)
        rows = []
        for vector in arr.reshape(-1, self.n_decisions).tolist():
            try:
                row = self._row_of(vector)
            except ValueError as exc:
                raise ValueError(f"choices {vector} name no NAS-Bench-101 cell: {exc}") from None
            if row is None:
                raise ValueError(
                    f"choices {vector} name a NAS-Bench-101 cell that the imported table lacks (it holds "
                    f"{self.size:,} cells); import the official file with 'nasgym data import'"
                )
            rows.append(row)
        return np.array(rows, dtype=np.int64).reshape(arr.shape[:-1])

    def canonical(self, choices: np.ndarray) -> np.ndarray:
        return self.choices_of(self.index_of(choices))

    def decode_choices(self, choices: np.ndarray) -> int:
        """The row an env action's cell names: its own row when it is a cell of the table, else the
        row whose :meth:`features` differ from the action's in the fewest places (ties: the lower
        row), so every action queries an architecture of the table.

        :param choices: one choice vector (checked).
        """
        vector = self.check_choices(choices, "action")
        try:
            row = self._row_of(vector.tolist())
        except ValueError:  # not a NAS-Bench-101 cell: disconnected or more than 9 edges
            row = None
        if row is not None:
            return row
        return self._nearest_row(self.features(vector))

    def _nearest_row(self, wanted: np.ndarray) -> int:
        """The lowest row whose features differ from ``wanted`` (0/1) in the fewest places.

        The distance is the edge part's plus the op part's, each computed once per distinct value
        (per edge pattern of the table, as a bit count of the XOR of 21-bit codes; per combination
        of on-path vertices and ops) and gathered per row: a few passes over the rows.
        """
        pattern_codes, members, op_codes = self._encodings()
        wanted = wanted.astype(np.int64)
        edge_code = int(wanted[:N_EDGES] @ _EDGE_WEIGHTS)
        different = pattern_codes ^ edge_code
        edge_distance = _BIT_COUNT[different & 255] + _BIT_COUNT[(different >> 8) & 255] + _BIT_COUNT[different >> 16]
        op_distance = (_OP_COMBINATIONS != wanted[N_EDGES:]).sum(axis=1, dtype=np.int8)
        total = np.take(edge_distance, members) + np.take(op_distance, op_codes)
        return int(total.argmin())  # the first minimum: the lowest row

    def neighbours(self, choices: np.ndarray) -> np.ndarray:
        """The cells of the table one edge flip or one op change away from ``choices``'s cell,
        changes that leave NAS-Bench-101 dropped, each cell once (the centre not)."""
        centre = self.canonical(choices)
        if centre.ndim != 1:
            raise ValueError(f"choices must be one choice vector of shape ({self.n_decisions},), got {centre.shape}")
        seen = {int(self.index_of(centre))}
        rows = []
        for decision, n_choices in enumerate(self._n_choices_list):
            for choice in range(n_choices):
                if choice == centre[decision]:
                    continue
                vector = centre.tolist()
                vector[decision] = choice
                matrix, ops = choices_cell(np.asarray(vector))
                if not is_valid(matrix, ops):
                    continue
                row = self._row_of(vector)
                if row is not None and row not in seen:
                    seen.add(row)
                    rows.append(row)
        return self.choices_of(np.array(rows, dtype=np.int64)).reshape(-1, self.n_decisions)

    # --- encodings ----------------------------------------------------------------------------
    @property
    def feature_size(self) -> int:
        return N_EDGES + N_INTERIOR * len(NB101_OPS)

    def features(self, choices: np.ndarray) -> np.ndarray:
        """The 21 edge bits, then the one-hot op of vertices 1..5 (zero off every input-output
        path): (..., 36), float32."""
        arr = self.check_choices(choices)
        edges = arr[..., :N_EDGES]
        ops = arr[..., N_EDGES:, None] == np.arange(len(NB101_OPS))
        ops &= on_path_vertices(edges)[..., None]
        return np.concatenate([edges, ops.reshape(arr.shape[:-1] + (-1,))], axis=-1).astype(np.float32)

    def uniform_features(self) -> np.ndarray:
        """The mean features of the table's cells (of a uniformly random architecture)."""
        _, _, op_codes = self._encodings()
        edges = self._cells[:, :N_EDGES].mean(axis=0)
        ops = np.bincount(op_codes, minlength=len(_OP_COMBINATIONS)) @ _OP_COMBINATIONS / self.size
        return np.concatenate([edges, ops]).astype(np.float32)

    def _encodings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The table's features, computed once and compactly: its distinct edge patterns as 21-bit
        codes, the pattern of each row, and each row's row of :data:`_OP_COMBINATIONS`."""
        if self._op_codes is None:
            self._pattern_codes, members = np.unique(self._cells[:, :N_EDGES] @ _EDGE_WEIGHTS, return_inverse=True)
            self._members = members.reshape(-1)
            on_path = on_path_vertices(self._cells[:, :N_EDGES]) @ (1 << np.arange(N_INTERIOR))
            self._op_codes = on_path * _OP_CODES + self._cells[:, N_EDGES:] @ _CODE_WEIGHTS[N_EDGES:]
        return self._pattern_codes, self._members, self._op_codes

    # --- continuous relaxation: one weight per decision and choice, read as a choice vector ------
    def decode_relaxation(self, scores: np.ndarray) -> int:
        """The argmax choice of each decision (an edge's third column never wins), then
        :meth:`decode_choices`."""
        return self.decode_choices((scores + self._relaxation_padding).argmax(axis=1))

    def vertex(self, choices: np.ndarray) -> np.ndarray:
        """+1 at the cell's choices, -1 elsewhere, in the layout of the relaxation (26 x 3)."""
        encoded = self.one_hot(choices)
        return 2.0 * encoded.reshape(encoded.shape[:-2] + (-1,)) - np.float32(1.0)

    # --- tokens: one per decision, Discrete(3); at an edge, token t means t mod 2 -----------------
    def sequence_index(self, tokens: list[int]) -> int:
        """The row of the cell the tokens name (read modulo each decision's choices), by
        :meth:`decode_choices`."""
        return self.decode_choices(np.array([t % n for t, n in zip(tokens, self._n_choices_list, strict=True)]))

    # --- strings ------------------------------------------------------------------------------
    def _arch_string(self, index: int) -> str:
        return self._format(self._cells[index].tolist())

    def _format(self, choices: list[int]) -> str:
        edges = ",".join(f"{s}-{t}" for (s, t), bit in zip(NB101_EDGES, choices, strict=False) if bit)
        return f"edges={edges}|ops={','.join(NB101_OPS[c] for c in choices[N_EDGES:])}"

    def from_string(self, text: str) -> np.ndarray:
        def malformed(why: str) -> ValueError:
            return ValueError(
                f"arch string {text!r} is malformed ({why}); expected 'edges=' and the edges s-t (0 <= s < t <= 6) "
                f"joined by ',', then '|ops=' and the ops of vertices 1..5, each one of {list(NB101_OPS)}, "
                f"e.g. {_EXAMPLE!r}"
            )

        if not isinstance(text, str):
            raise malformed(f"not a string but {type(text).__name__}")
        edge_part, bar, op_part = text.partition("|")
        if not (bar and edge_part.startswith("edges=") and op_part.startswith("ops=")):
            raise malformed("not of the form edges=...|ops=...")
        edge_names = edge_part[len("edges=") :].split(",") if edge_part != "edges=" else []
        names = [f"{s}-{t}" for s, t in NB101_EDGES]
        if any(name not in names for name in edge_names) or len(set(edge_names)) != len(edge_names):
            raise malformed("an edge is not of the form s-t with 0 <= s < t <= 6, or is repeated")
        ops = op_part[len("ops=") :].split(",")
        if len(ops) != N_INTERIOR or any(op not in NB101_OPS for op in ops):
            raise malformed(f"{N_INTERIOR} ops are needed")
        edges = [int(name in edge_names) for name in names]
        return np.array(edges + [NB101_OPS.index(op) for op in ops], dtype=np.int64)
