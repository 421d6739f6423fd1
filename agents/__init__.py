"""Search agents, installed as ``nasgym.agents``. Each runs against a nasgym env::

    result = make_agent("random").run(gym.make("NAS-Bench-201-Global-v0", budget=100), seed=0)
    result.summary()["best_valid_acc"]

Registered: ``random`` (any flavour), ``rea`` (Global), ``reinforce`` (Global), ``reinforce-lstm``
(Sequential), ``local`` (Global), ``l2nas`` and ``l2nas-plus`` (Continuous), ``mcts`` (Sequential),
``enas`` and ``rsps`` (Global, on a supernet env: ``evaluator="supernet"``), ``lanas`` (Global),
``tabnas`` (Global, search under a resource constraint),
and ``sb3:<Algorithm>`` for every Stable-Baselines3 / sb3-contrib algorithm of ``SB3_ALGORITHMS``
(``sb3:PPO``, ``sb3:QRDQN``, ...; see :mod:`nasgym.agents.sb3`), and ``optuna:<Sampler>`` (Global) for the
Optuna samplers of ``OPTUNA_SAMPLERS`` (``optuna:TPE``, ...; see :mod:`nasgym.agents.optuna_agent`).
``agent.flavours`` lists what each takes; running one on another flavour raises a ``ValueError``
naming the agent and its flavours.
"""

from __future__ import annotations

from typing import Any

from nasgym.agents.base import QUERY_KEYS, QueryRecorder, SearchAgent, SearchResult
from nasgym.agents.enas import ENAS
from nasgym.agents.l2nas import L2NAS
from nasgym.agents.l2nas_plus import L2NASPlus
from nasgym.agents.lanas import LaNAS
from nasgym.agents.local_search import LocalSearch
from nasgym.agents.mcts import MCTS
from nasgym.agents.optuna_agent import OPTUNA_AGENT_NAMES, OPTUNA_PREFIX, OPTUNA_SAMPLERS, OptunaAgent
from nasgym.agents.random_search import RandomSearch
from nasgym.agents.rea import RegularizedEvolution
from nasgym.agents.reinforce import Reinforce
from nasgym.agents.reinforce_lstm import ReinforceLSTM
from nasgym.agents.rsps import RSPS
from nasgym.agents.sb3 import SB3_AGENT_NAMES, SB3_ALGORITHMS, SB3_PREFIX, SB3Agent
from nasgym.agents.tabnas import TabNAS

AGENTS: dict[str, type[SearchAgent]] = {
    agent.name: agent
    for agent in (
        RandomSearch, RegularizedEvolution, Reinforce, ReinforceLSTM, LocalSearch, L2NAS, L2NASPlus, MCTS, ENAS, RSPS,
        LaNAS, TabNAS,
    )
}


def make_agent(name: str, **kwargs: Any) -> SearchAgent:
    """Instantiate the agent registered under ``name`` (or ``sb3:<Algorithm>``, ``optuna:<Sampler>``) with its
    keyword arguments."""
    if isinstance(name, str) and name.startswith(SB3_PREFIX):
        return SB3Agent(name.removeprefix(SB3_PREFIX), **kwargs)
    if isinstance(name, str) and name.startswith(OPTUNA_PREFIX):
        return OptunaAgent(name.removeprefix(OPTUNA_PREFIX), **kwargs)
    try:
        agent_class = AGENTS[name]
    except KeyError:
        accepted = sorted(AGENTS) + list(SB3_AGENT_NAMES) + list(OPTUNA_AGENT_NAMES)
        raise ValueError(f"agent {name!r} is unknown; accepted: {accepted}") from None
    return agent_class(**kwargs)


__all__ = [
    "AGENTS",
    "ENAS",
    "L2NAS",
    "L2NASPlus",
    "LaNAS",
    "MCTS",
    "OPTUNA_AGENT_NAMES",
    "OPTUNA_SAMPLERS",
    "QUERY_KEYS",
    "SB3_AGENT_NAMES",
    "SB3_ALGORITHMS",
    "LocalSearch",
    "OptunaAgent",
    "QueryRecorder",
    "RSPS",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "ReinforceLSTM",
    "SB3Agent",
    "SearchAgent",
    "SearchResult",
    "TabNAS",
    "make_agent",
]
