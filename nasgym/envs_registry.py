"""The one table of registered env ids. ``import nasgym`` registers them all with Gymnasium."""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym


@dataclass(frozen=True)
class EnvSpecRow:
    """One registered id: which env class, on which space, with which default kwargs.

    ``test_kwargs`` are what the test suite adds to ``gym.make`` so that the env answers in
    microseconds (the ConvNet ids train every query by default; their tests use the synthetic
    evaluator).

    ``vector_entry_point`` is the native vector env ``gym.make_vec(id, num_envs=N)`` builds: set it
    (from :data:`_VECTOR_FLAVOURS`) for a table-backed space, whose N envs step as arrays.
    """

    id: str
    entry_point: str
    kwargs: dict = field(default_factory=dict)
    test_kwargs: dict = field(default_factory=dict)
    vector_entry_point: str | None = None


_FLAVOURS = {
    "Continuous": "nasgym.envs.continuous:ContinuousNASEnv",
    "Sequential": "nasgym.envs.sequential:SequentialNASEnv",
    "Global": "nasgym.envs.global_arch:GlobalNASEnv",
}
#: the native vector env of each flavour (nasgym.envs.vector)
_VECTOR_FLAVOURS = {flavour: f"nasgym.envs.vector:{flavour}NASVectorEnv" for flavour in _FLAVOURS}
#: spaces whose rows get a native vector env: their default evaluator is a benchmark table
_VECTORISED_SPACES = {"nb201"}
_SPACES = {
    "NAS-Bench-201": "nb201",
    "NAS-Bench-Macro": "nasbench-macro",
    "NAS-Bench-Graph": "nasbench-graph",
    "NAS-Bench-Graph-Proteins": "nasbench-graph-proteins",
    "NATS-Bench-SSS": "nats-sss",
    "NAS-Bench-301": "darts",
    "NAS-Bench-101": "nb101",
    "FCNet": "fcnet",
    "FFN": "ffn2",
}
#: evaluator defaults of spaces not answered by a 200-epoch table: NAS-Bench-301's surrogate (98
#: epochs), the NATS-Bench size space (90 epochs), NAS-Bench-101 (108 epochs), FCNet (100 epochs)
_EVALUATOR_KWARGS = {
    "darts": {"evaluator": "surrogate", "fidelity": 98},
    "nats-sss": {"fidelity": 90},
    "nb101": {"fidelity": 108},
    "fcnet": {"fidelity": 100},
}
#: what the test suite adds for spaces whose benchmark data a user imports (absent in CI)
_TEST_KWARGS = {"nats-sss": {"evaluator": "synthetic"}}
#: the default dataset of spaces whose benchmark has no cifar10 (the envs' default)
_DEFAULT_DATASETS = {
    "nasbench-graph": "cora",
    "nasbench-graph-proteins": "proteins",
    "fcnet": "protein_structure",
    "ffn2": "connect_4",
}

# LaNAS's ConvNet space has no benchmark table: its envs train every query on digits by default
_CONVNET_KWARGS = {"space": "convnet", "dataset": "digits", "evaluator": "live"}
_CONVNET_FLAVOURS = {
    "Sequential": "nasgym.envs.convnet_sequential:ConvNetSequentialEnv",
    "Global": "nasgym.envs.convnet_global:ConvNetGlobalEnv",
}
# the Q-networks of a Double DQN agent: every query trains agents on the Gymnasium task (the dataset)
_DQN_ARCH_KWARGS = {"space": "dqn-arch", "dataset": "CartPole-v1", "evaluator": "live"}
_DQN_ARCH_FLAVOURS = {flavour: _FLAVOURS[flavour] for flavour in ("Sequential", "Global")}
#: spaces with envs of their own flavours that train every query by default (tested on the synthetic evaluator)
_TRAINED_SPACES = (("ConvNet", _CONVNET_FLAVOURS, _CONVNET_KWARGS), ("DQN-Arch", _DQN_ARCH_FLAVOURS, _DQN_ARCH_KWARGS))

ENV_TABLE: tuple[EnvSpecRow, ...] = tuple(
    EnvSpecRow(
        f"{space_id}-{flavour}-v0",
        entry_point,
        {"space": space}
        | ({"dataset": _DEFAULT_DATASETS[space]} if space in _DEFAULT_DATASETS else {})
        | _EVALUATOR_KWARGS.get(space, {}),
        _TEST_KWARGS.get(space, {}),
        vector_entry_point=_VECTOR_FLAVOURS[flavour] if space in _VECTORISED_SPACES else None,
    )
    for space_id, space in _SPACES.items()
    for flavour, entry_point in _FLAVOURS.items()
) + tuple(
    EnvSpecRow(f"{space_id}-{flavour}-v0", entry_point, kwargs, {"evaluator": "synthetic"})
    for space_id, flavours, kwargs in _TRAINED_SPACES
    for flavour, entry_point in flavours.items()
)
ENV_IDS: tuple[str, ...] = tuple(row.id for row in ENV_TABLE)


def register_envs() -> None:
    """Register every id of :data:`ENV_TABLE` (idempotent)."""
    for row in ENV_TABLE:
        if row.id not in gym.registry:
            gym.register(
                id=row.id,
                entry_point=row.entry_point,
                vector_entry_point=row.vector_entry_point,
                kwargs=dict(row.kwargs),
            )
