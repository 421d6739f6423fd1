"""The DARTS cell space (Liu et al., 2019), as NAS-Bench-301 samples it: about 1.08e18 architectures.

A DARTS network stacks a *normal* and a *reduction* cell. Each cell has two input nodes (0, 1: the
outputs of the two previous cells) and 4 intermediate nodes (2..5); intermediate node ``n`` takes
exactly 2 *distinct* inputs among the nodes before it (``n`` candidates) and applies one of 7
operations to each; the cell's output concatenates nodes 2..5.

Product form (the choice vector): per cell (normal, then reduce) and per intermediate node, three
decisions, in this order:

* ``<cell>_node<n>_inputs``: the unordered input pair, one of the C(n, 2) pairs ``"a_b"`` with
  ``a < b`` in lexicographic order (1, 3, 6 and 10 pairs for nodes 2..5, the levels and order of
  NAS-Bench-301's ``inputs_node_<cell>_<n>`` hyperparameters);
* ``<cell>_node<n>_op_first``: the operation on the edge from input ``a``;
* ``<cell>_node<n>_op_second``: the operation on the edge from input ``b``.

Every choice vector is a distinct, valid architecture, so the space is a plain product of its 24
decisions: (1 * 3 * 6 * 10 * 7**8) ** 2 = 1,076,746,950,455,072,400, about 1.08e18 < 2**63, and the canonical
index is the mixed-radix int64 index of :class:`~nasgym.spaces.base.SearchSpace`. The space is far
too large to enumerate: envs and evaluators compute everything per queried architecture.

Operations in NAS-Bench-301's order (its configuration space): ``max_pool_3x3, avg_pool_3x3,
skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5`` (DARTS's ``none`` is not a
choice: the final DARTS cell never keeps it).

Architectures print as DARTS genotypes, ``Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect',
1), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])``: two ``(op,
input)`` pairs per intermediate node, the lower-numbered input first.

Two more encodings serve the envs:

* features (observations, the continuous relaxation): one weight per candidate edge and
  operation, ``2 cells x 14 edges x 7 ops = 196`` values, edges in DARTS's order (node 2 from
  inputs 0, 1; node 3 from 0, 1, 2; node 4 from 0..3; node 5 from 0..4), 1 where the architecture
  has that edge with that op. Decoding a relaxation keeps each node's two strongest incoming edges
  (an edge's strength is its largest op weight, ties to the lower input), then the argmax op of
  each, as DARTS derives its final cell.
* the sequence (Sequential envs, the ENAS / Zoph et al. order): per cell and node, the first
  input, the second input, the op of the first, the op of the second (32 steps, 7 tokens each).
  An input token ``t`` names candidate ``t mod k`` of the ``k`` candidates it chooses among: node
  ``n``'s first input among its ``n`` predecessors, the second among the ``n - 1`` predecessors
  other than the first, so no token sequence names an invalid cell. Tokens ``t >= k`` are aliases;
  :meth:`DartsSpace.sequence_mask` marks only the canonical ones (``t < k``).
"""

from __future__ import annotations

import re
from itertools import combinations

import numpy as np

from nasgym.spaces.base import SearchSpace

#: the 7 operations, in NAS-Bench-301's order (its configuration space's levels).
DARTS_OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)  # fmt: skip
CELLS: tuple[str, ...] = ("normal", "reduce")
#: intermediate nodes of a cell and the number of candidate inputs of each (the nodes before it)
NODES: tuple[int, ...] = (2, 3, 4, 5)
N_EDGES = sum(NODES)  # 14 candidate edges per cell
#: first edge of each intermediate node in DARTS's edge order
_EDGE_OFFSETS: tuple[int, ...] = tuple(sum(NODES[:k]) for k in range(len(NODES)))
#: the input pairs of each node, lexicographic (NAS-Bench-301's level order)
PAIRS: tuple[tuple[tuple[int, int], ...], ...] = tuple(tuple(combinations(range(n), 2)) for n in NODES)
_N_OPS = len(DARTS_OPS)
_DECISIONS_PER_NODE = 3
_SLOTS = len(CELLS) * len(NODES)  # 8 (cell, node) slots
_TOKENS_PER_NODE = 4  # first input, second input, op of the first, op of the second
_GENOTYPE = re.compile(
    r"Genotype\(normal=\[(?P<normal>[^\]]*)\], normal_concat=(?P<normal_concat>\[2, 3, 4, 5\]|range\(2, 6\)), "
    r"reduce=\[(?P<reduce>[^\]]*)\], reduce_concat=(?P<reduce_concat>\[2, 3, 4, 5\]|range\(2, 6\))\)"
)
_PAIR = re.compile(r"\('(?P<op>[a-z0-9_]+)', (?P<input>\d+)\)")
_EXAMPLE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def _slot_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per (cell, node) slot and pair choice: the global edge index (0..27) of the first and the
    second input's edge, padded to 10 pairs."""
    width = max(len(p) for p in PAIRS)
    first = np.zeros((_SLOTS, width), dtype=np.int64)
    second = np.zeros((_SLOTS, width), dtype=np.int64)
    for slot in range(_SLOTS):
        cell, node = divmod(slot, len(NODES))
        for k, (a, b) in enumerate(PAIRS[node]):
            first[slot, k] = cell * N_EDGES + _EDGE_OFFSETS[node] + a
            second[slot, k] = cell * N_EDGES + _EDGE_OFFSETS[node] + b
    return first, second


_FIRST_EDGE, _SECOND_EDGE = _slot_tables()
_SLOT_ROWS = np.arange(_SLOTS)


class DartsSpace(SearchSpace):
    """The DARTS normal + reduction cell space in product form (see the module docstring)."""

    def __init__(self) -> None:
        names, choices = [], []
        for cell in CELLS:
            for node, pairs in zip(NODES, PAIRS, strict=True):
                names += [f"{cell}_node{node}_inputs", f"{cell}_node{node}_op_first", f"{cell}_node{node}_op_second"]
                choices += [[f"{a}_{b}" for a, b in pairs], DARTS_OPS, DARTS_OPS]
        super().__init__(name="darts", decision_names=names, choices=choices)
        self._pair_index = [{pair: k for k, pair in enumerate(pairs)} for pairs in PAIRS]

    # --- encodings ----------------------------------------------------------------------------
    @property
    def feature_size(self) -> int:
        return len(CELLS) * N_EDGES * _N_OPS

    def features(self, choices: np.ndarray) -> np.ndarray:
        """Edge-op encoding (..., 196), float32: 1 at (cell, edge, op) of each chosen edge."""
        arr = self.check_choices(choices)
        lead = arr.shape[:-1]
        slots = arr.reshape(-1, _SLOTS, _DECISIONS_PER_NODE)
        pairs, first_ops, second_ops = slots[..., 0], slots[..., 1], slots[..., 2]
        first = _FIRST_EDGE[_SLOT_ROWS, pairs] * _N_OPS + first_ops
        second = _SECOND_EDGE[_SLOT_ROWS, pairs] * _N_OPS + second_ops
        out = np.zeros((len(slots), self.feature_size), dtype=np.float32)
        rows = np.arange(len(slots))[:, None]
        out[rows, first] = 1.0
        out[rows, second] = 1.0
        return out.reshape(lead + (self.feature_size,))

    def edge_ops(self, choices: np.ndarray) -> np.ndarray:
        """The op of each candidate edge (..., 28) int64: normal cell's 14 edges then the reduction
        cell's, in DARTS's edge order; -1 where the cell does not have that edge."""
        arr = self.check_choices(choices)
        lead = arr.shape[:-1]
        slots = arr.reshape(-1, _SLOTS, _DECISIONS_PER_NODE)
        out = np.full((len(slots), len(CELLS) * N_EDGES), -1, dtype=np.int64)
        rows = np.arange(len(slots))[:, None]
        out[rows, _FIRST_EDGE[_SLOT_ROWS, slots[..., 0]]] = slots[..., 1]
        out[rows, _SECOND_EDGE[_SLOT_ROWS, slots[..., 0]]] = slots[..., 2]
        return out.reshape(lead + (len(CELLS) * N_EDGES,))

    def uniform_features(self) -> np.ndarray:
        """The mean edge-op encoding of a uniformly random architecture: node ``n`` keeps each of
        its ``n`` candidate edges with probability 2 / n, with each op equally likely."""
        per_edge = np.concatenate([np.full(n, 2.0 / (n * _N_OPS)) for n in NODES])
        return np.tile(np.repeat(per_edge, _N_OPS), len(CELLS)).astype(np.float32)

    # --- continuous relaxation ----------------------------------------------------------------
    @property
    def relaxation_shape(self) -> tuple[int, int]:
        return (len(CELLS) * N_EDGES, _N_OPS)

    def decode_relaxation(self, scores: np.ndarray) -> int:
        """DARTS's derivation: per node the two incoming edges with the largest op weight (ties: the
        lower input), then the argmax op of each (ties: the first op)."""
        strengths = scores.max(axis=1).tolist()
        ops = scores.argmax(axis=1).tolist()
        index = 0
        weights = iter(self._weights_list)
        for cell in range(len(CELLS)):
            for node, offset in zip(NODES, _EDGE_OFFSETS, strict=True):
                start = cell * N_EDGES + offset
                ranked = sorted(range(node), key=lambda j: -strengths[start + j])  # stable: ties to the lower
                a, b = sorted(ranked[:2])
                pair = self._pair_index[node - 2][(a, b)]
                index += pair * next(weights) + ops[start + a] * next(weights) + ops[start + b] * next(weights)
        return index

    # --- sequence (ENAS order) ----------------------------------------------------------------
    @property
    def sequence_length(self) -> int:
        return _SLOTS * _TOKENS_PER_NODE

    @property
    def sequence_width(self) -> int:
        return max(_N_OPS, max(NODES))

    def _candidates(self, position: int) -> int:
        """How many candidates the token at ``position`` chooses among."""
        node = NODES[(position // _TOKENS_PER_NODE) % len(NODES)]
        step = position % _TOKENS_PER_NODE
        return node if step == 0 else node - 1 if step == 1 else _N_OPS

    def sequence_valid(self, prefix: list[int], token: int) -> bool:
        return 0 <= token < self.sequence_width

    def sequence_mask(self, prefix: list[int]) -> np.ndarray:
        """The canonical tokens of the next step: ``t < k`` for an input among ``k`` candidates."""
        return np.arange(self.sequence_width) < self._candidates(len(prefix))

    def sequence_index(self, tokens: list[int]) -> int:
        index = 0
        weights = iter(self._weights_list)
        for slot in range(_SLOTS):
            node = NODES[slot % len(NODES)]
            start = slot * _TOKENS_PER_NODE
            first_token, second_token, first_op, second_op = tokens[start : start + _TOKENS_PER_NODE]
            first = first_token % node
            second = second_token % (node - 1)
            second += second >= first  # among the predecessors other than the first
            if first > second:
                first, second, first_op, second_op = second, first, second_op, first_op
            pair = self._pair_index[node - 2][(first, second)]
            index += pair * next(weights) + first_op * next(weights) + second_op * next(weights)
        return index

    def sequence_of(self, choices: np.ndarray) -> list[int]:
        arr = self.check_choices(choices)
        if arr.ndim != 1:
            raise ValueError(f"choices must be one choice vector of shape ({self.n_decisions},), got {arr.shape}")
        tokens = []
        for slot, (pair, first_op, second_op) in enumerate(arr.reshape(_SLOTS, _DECISIONS_PER_NODE).tolist()):
            a, b = PAIRS[slot % len(NODES)][pair]
            tokens += [a, b - 1, first_op, second_op]  # b > a: its rank among the others is b - 1
        return tokens

    # --- strings ------------------------------------------------------------------------------
    def genotype(self, choices: np.ndarray) -> dict[str, list[tuple[str, int]]]:
        """``{"normal": [(op, input), ...], "reduce": [...]}``, 8 pairs per cell (DARTS's Genotype lists)."""
        return self._genotype(self.check_choices(choices).tolist())

    def cell_graphs(self, choices: np.ndarray) -> list[tuple[str, list[tuple[int, int, str]]]]:
        """The normal and the reduction cell: inputs 0, 1, intermediate nodes 2..5, two edges into
        each intermediate node carrying their operations (the cell output, the concatenation of
        nodes 2..5, is not drawn)."""
        genotype = self.genotype(choices)
        return [
            (cell, [(source, 2 + k // 2, op) for k, (op, source) in enumerate(pairs)])
            for cell, pairs in genotype.items()
        ]

    def _genotype(self, choices: list[int]) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {cell: [] for cell in CELLS}
        for slot in range(_SLOTS):
            cell, node = divmod(slot, len(NODES))
            pair, first_op, second_op = choices[slot * 3 : slot * 3 + 3]
            a, b = PAIRS[node][pair]
            out[CELLS[cell]] += [(DARTS_OPS[first_op], a), (DARTS_OPS[second_op], b)]
        return out

    def _format(self, choices: list[int]) -> str:
        cells = self._genotype(choices)
        return (
            f"Genotype(normal={cells['normal']!r}, normal_concat=[2, 3, 4, 5], "
            f"reduce={cells['reduce']!r}, reduce_concat=[2, 3, 4, 5])"
        )

    def from_string(self, text: str) -> np.ndarray:
        """Inverse of :meth:`to_string`; the two pairs of a node may come in either order, and the
        concat lists may print as ``range(2, 6)`` (as DARTS's own search prints them)."""

        def malformed(why: str) -> ValueError:
            return ValueError(
                f"genotype string {text!r} is malformed ({why}); expected a DARTS genotype with 8 (op, input) "
                f"pairs per cell, 2 per node with distinct inputs among the nodes before it, op in "
                f"{list(DARTS_OPS)}, e.g. {_EXAMPLE!r}"
            )

        if not isinstance(text, str):
            raise malformed(f"not a string but {type(text).__name__}")
        match = _GENOTYPE.fullmatch(text.strip())
        if match is None:
            raise malformed("not of the form Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...], ...)")
        out = []
        for cell in CELLS:
            body = match[cell]
            pairs = list(_PAIR.finditer(body))
            if len(pairs) != 2 * len(NODES) or ", ".join(p[0] for p in pairs) != body.strip():
                raise malformed(f"the {cell} cell needs {2 * len(NODES)} pairs ('op', input)")
            for k, node in enumerate(NODES):
                (op_1, in_1), (op_2, in_2) = ((p["op"], int(p["input"])) for p in pairs[2 * k : 2 * k + 2])
                for op, source in ((op_1, in_1), (op_2, in_2)):
                    if op not in DARTS_OPS:
                        raise malformed(f"unknown operation {op!r}")
                    if source >= node:
                        raise malformed(f"node {node} of the {cell} cell takes inputs 0..{node - 1}, got {source}")
                if in_1 == in_2:
                    raise malformed(f"node {node} of the {cell} cell takes input {in_1} twice")
                if in_1 > in_2:
                    (op_1, in_1), (op_2, in_2) = (op_2, in_2), (op_1, in_1)
                out += [self._pair_index[node - 2][(in_1, in_2)], DARTS_OPS.index(op_1), DARTS_OPS.index(op_2)]
        return np.array(out, dtype=np.int64)
