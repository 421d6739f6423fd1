"""NAS-Bench-Graph's GNN space: a link structure of 4 computing nodes and one operation per node.

NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks) describes an architecture by
its links, the input of each of 4 computing nodes (0 = the raw input, ``j`` = computing node
``j``; every leaf feeds the output), and one operation per node. It trained every architecture up
to isomorphism, 26,206 of them on 8 datasets; ``proteins`` has the 5-operation space, 2,021 of them.
Its records are keyed by the hash of a canonical form (its ``Arch.valid_hash``): isomorphic
architectures, e.g. the same nodes listed in another order, share one record.

The space here has 5 decisions, so that every choice vector is an architecture of the benchmark
and every record is reached:

* ``link``: one of the benchmark's 9 canonical link structures (:data:`GRAPH_LINKS`, its
  ``link_list``). Every other link structure is isomorphic to one of them.
* ``op0``: the operation of the first computing node, any but ``skip``.
* ``op1``, ``op2``, ``op3``: the operations of the other nodes, skip included.

The first node is never a skip connection: every record has a form whose first node is not one
(checked over all 26,206 records, and the 2,021 of proteins), and that rules out the one network
the benchmark did not train, the one of 4 skip connections (no graph layer at all). So no choice
vector lacks a record, none needs an error, and none gives a NaN reward. Isomorphic choice vectors
(e.g. ``link=0-0-0-0`` with its ops permuted) are distinct indices with the same record.

The Sequential envs take ``Discrete(9)`` at every step; at op0 (8 choices here, 4 on proteins) a
token ``t`` names choice ``t mod n``, so every token sequence is an architecture, and
``action_masks()`` allows the canonical tokens ``t < n`` only.
"""

from __future__ import annotations

import numpy as np

from nasgym.spaces.tokens import ModuloTokens

#: the benchmark's canonical link structures: the input node of each of the 4 computing nodes.
GRAPH_LINKS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)  # fmt: skip
#: operations of the 8 full datasets, in the benchmark's order (its ``gnn_list``).
GRAPH_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
#: operations of the proteins dataset (its ``gnn_list_proteins``).
PROTEINS_OPS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
SKIP = "skip"
N_NODES = 4


class NASBenchGraphSpace(ModuloTokens):
    """NAS-Bench-Graph's architectures on its 8 full datasets: 9 links x 8 x 9 x 9 x 9 = 52,488
    choice vectors onto its 26,206 records.

    Arch strings name every decision, e.g. ``link=0-1-2-3,op0=gcn,op1=gin,op2=fc,op3=cheb``.
    """

    #: the operations of the datasets this space serves
    ops: tuple[str, ...] = GRAPH_OPS

    def __init__(self, name: str = "nasbench-graph") -> None:
        super().__init__(
            name=name,
            decision_names=["link", *(f"op{i}" for i in range(N_NODES))],
            choices=[
                ["-".join(map(str, link)) for link in GRAPH_LINKS],
                [op for op in self.ops if op != SKIP],
                *([self.ops] * (N_NODES - 1)),
            ],
        )

    def benchmark_arch(self, choices: np.ndarray) -> tuple[list[int], list[str]]:
        """The benchmark's description of one architecture: (links, ops), as its ``Arch`` takes them."""
        link, *ops = self.check_choices(choices).tolist()
        return list(GRAPH_LINKS[link]), [labels[op] for labels, op in zip(self.choices[1:], ops, strict=True)]


class NASBenchGraphProteinsSpace(NASBenchGraphSpace):
    """The 5-operation space of NAS-Bench-Graph's proteins dataset: 9 x 4 x 5 x 5 x 5 = 4,500
    choice vectors onto its 2,021 records."""

    ops = PROTEINS_OPS

    def __init__(self) -> None:
        super().__init__(name="nasbench-graph-proteins")
