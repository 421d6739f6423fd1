"""The grid: agents x spaces' envs x datasets x protocols (query budgets, simulated time) x seeds.

:class:`BenchConfig` checks every argument and plans the runs (:class:`RunSpec`) before anything
runs; it needs from a space nothing but its registry rows, ``gym.make`` and the env's evaluator.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.agents import make_agent
from nasgym.agents._utils import parse_keyword_argument
from nasgym.bench.envs import GRID_ARGUMENTS, default_dataset, env_args_text, env_evaluator, make_env, report_evaluator
from nasgym.bench.provenance import tables_fingerprint
from nasgym.bench.spaces import BenchSpace, resolve_space, spaces_of_env_ids
from nasgym.evaluators import Evaluator
from nasgym.tables.metrics import FIDELITY_METRICS

#: the space a grid runs on when given neither a space nor env ids
DEFAULT_SPACE = "nb201"
#: how runs are executed: a local pool of processes, or Ray (local or a cluster)
EXECUTORS = ("process", "ray")


@dataclass(frozen=True)
class AgentSpec:
    """An agent, its arguments and the env flavour it runs on.

    :param name: agent name as :func:`nasgym.agents.make_agent` takes it (``rea``, ``sb3:PPO``).
    :param flavour: env flavour (``Continuous``, ``Global`` or ``Sequential``).
    :param arguments: keyword arguments of the agent, as ``KEY=VALUE,...`` (JSON scalars: numbers,
        true/false, quoted strings); empty: the agent's defaults.
    """

    name: str
    flavour: str
    arguments: str = ""

    @property
    def label(self) -> str:
        """What ``runs.csv`` and the table call it: the name, then ``[arguments]`` if any."""
        return f"{self.name}[{self.arguments}]" if self.arguments else self.name

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(parse_keyword_argument(item) for item in self.arguments.split(",")) if self.arguments else {}

    @property
    def text(self) -> str:
        return f"{self.label}@{self.flavour}"


_AGENT_TEXT = re.compile(r"(?P<name>[^\[\]@]+)(?:\[(?P<arguments>[^\[\]]*)\])?(?:@(?P<flavour>[^\[\]@]*))?")


def parse_agent(text: str, offered: Sequence[str] | None = None) -> AgentSpec:
    """``NAME``, ``NAME[KEY=VALUE,...]`` (the agent's arguments, JSON scalars), each optionally
    followed by ``@Flavour``, e.g. ``reinforce[lr=0.05]``. Without a flavour: the agent's first
    flavour among ``offered``.

    :param text: the agent as ``--agents`` spells it.
    :param offered: the flavours the space's envs offer; ``None``: every flavour.
    :raises ValueError: an unknown agent or argument, or a flavour the agent does not search or the
        space does not offer.
    """
    match = _AGENT_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"agents: {text!r} is not NAME, NAME[KEY=VALUE,...] or either with @Flavour")
    name, flavour, raw = match["name"].strip(), match["flavour"], (match["arguments"] or "").strip()
    try:
        kwargs = dict(parse_keyword_argument(item) for item in raw.split(",")) if raw else {}
        agent = make_agent(name, **kwargs)
    except (ValueError, TypeError, ImportError) as exc:  # TypeError: an argument the agent does not take
        raise ValueError(f"agents: {text!r}: {exc}") from None
    arguments = ",".join(f"{key}={json.dumps(value)}" for key, value in kwargs.items())  # one spelling per run
    usable = [f for f in agent.flavours if offered is None or f in offered]
    if not flavour:
        if not usable:
            raise ValueError(
                f"agents: {text!r} searches the flavours {list(agent.flavours)}, and this space's envs offer "
                f"{list(offered or ())}"
            )
        return AgentSpec(name, usable[0], arguments)
    if flavour not in agent.flavours:
        raise ValueError(
            f"agents: {text!r}: flavour {flavour!r} is not one agent {name!r} searches; accepted: "
            f"{list(agent.flavours)}"
        )
    if offered is not None and flavour not in offered:
        raise ValueError(f"agents: {text!r}: this space has no {flavour} env; its flavours: {list(offered)}")
    return AgentSpec(name, flavour, arguments)


def split_agents(text: str) -> list[str]:
    """Split ``--agents`` at the commas outside brackets: ``rea,reinforce[lr=0.05,momentum=0.8]``."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [item.strip() for item in [*items, current] if item.strip()]


@dataclass(frozen=True)
class Protocol:
    """How a run searches: when it stops, the fidelity of its reward, and the dataset it searches.

    :param budget: number of queries (``None`` for a simulated-time run).
    :param sim_time_limit: simulated seconds (``None`` for a query-budget run).
    :param fidelity: the env's ``fidelity`` behind the validation reward (training epochs), ``None``
        for an env without one; the reported accuracies are at :attr:`report_fidelity`.
    :param search_dataset: search on this dataset's reward and report the selected architecture on
        the run's dataset (the NAS-Bench-201 paper searched cifar10 only); ``None``: search the
        run's dataset itself.
    :param report_fidelity: the env's default fidelity, at which the selected architecture is
        reported (follows from the env: not part of what identifies a run).
    """

    budget: int | None = None
    sim_time_limit: float | None = None
    fidelity: int | None = None
    search_dataset: str | None = None
    report_fidelity: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.budget is None) == (self.sim_time_limit is None):
            raise ValueError("a protocol takes exactly one of budget and sim_time_limit")

    @property
    def variant(self) -> str:
        """What differs from searching the run's own dataset at the reported fidelity ("" if nothing)."""
        lower = self.fidelity is not None and self.report_fidelity is not None and self.fidelity != self.report_fidelity
        parts = [f"{self.fidelity}-epoch reward"] if lower else []
        if self.search_dataset is not None:
            parts.append(f"searched on {self.search_dataset}")
        return ", ".join(parts)

    @property
    def label(self) -> str:
        """``500 queries`` or ``12,000 s simulated``, then the :attr:`variant`."""
        stop = f"{self.budget} queries" if self.budget is not None else f"{self.sim_time_limit:,g} s simulated"
        return f"{stop}, {self.variant}" if self.variant else stop

    @property
    def slug(self) -> str:
        stop = f"b{self.budget}" if self.budget is not None else f"t{self.sim_time_limit:g}"
        fidelity = f"_f{self.fidelity}" if self.fidelity is not None else ""
        return stop + fidelity + (f"_on-{self.search_dataset}" if self.search_dataset else "")

    def sort_key(self) -> tuple:
        return (
            self.budget is None,
            self.budget or self.sim_time_limit,
            self.fidelity is None,
            self.fidelity or 0,
            self.search_dataset or "",
        )


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    :param agent: the agent and its flavour.
    :param env_id: the env it searches.
    :param dataset: dataset the run reports on (and searches, unless the protocol says otherwise).
    :param protocol: stopping rule, reward fidelity and searched dataset.
    :param seed: seed of the env and the agent.
    :param query_cap: the env's query budget: ``protocol.budget``, or for a simulated-time run a
        bound that the limit always reaches first (:func:`sim_time_query_cap`).
    :param env_args: extra ``gym.make`` arguments, as canonical JSON (:func:`env_args_text`).
    :param tables_fingerprint: what its evaluators answer (:func:`tables_fingerprint`).
    """

    agent: AgentSpec
    env_id: str
    dataset: str
    protocol: Protocol
    seed: int
    query_cap: int
    env_args: str = ""
    tables_fingerprint: str = ""

    @property
    def search_dataset(self) -> str:
        return self.protocol.search_dataset or self.dataset

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The ``gym.make`` arguments of the searched env beyond dataset and budget."""
        kwargs = json.loads(self.env_args) if self.env_args else {}
        return kwargs | ({"fidelity": self.protocol.fidelity} if self.protocol.fidelity is not None else {})

    @property
    def key(self) -> tuple:
        return run_key(self.agent.label, self.env_id, self.dataset, self.protocol, self.env_args, self.seed)

    @property
    def group_name(self) -> str:
        """The name of the runs that differ from this one only by seed (their histories share a file)."""
        return group_name(self.agent.label, self.env_id, self.dataset, self.protocol, self.env_args)

    @property
    def name(self) -> str:
        """A file-name-safe name of the run."""
        return re.sub(r"[^A-Za-z0-9._-]", "-", f"{self.group_name}__s{self.seed}")

    def describe(self) -> str:
        args = f" with {self.env_args}" if self.env_args else ""
        return f"{self.agent.text} on {self.env_id} {self.dataset}{args}, {self.protocol.label}, seed {self.seed}"


def group_name(agent: str, env_id: str, dataset: str, protocol: Protocol, env_args: str) -> str:
    """The name of the runs of an agent, env, dataset, protocol and env arguments: all their seeds."""
    return f"{env_id}__{agent}__{dataset}__{protocol.slug}" + (f"__{env_args}" if env_args else "")


def run_key(agent: str, env_id: str, dataset: str, protocol: Protocol, env_args: str, seed: int) -> tuple:
    """What identifies a run in ``runs.csv`` (resuming skips runs whose key is there)."""
    return (agent, env_id, dataset, protocol, env_args, seed)


def _is_int(value: object, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum


def sim_time_query_cap(evaluator: Evaluator, limit: float) -> int:
    """A query budget that a run with the simulated-time ``limit`` never reaches before the limit.

    Every query costs at least the smallest training time in the table, so after
    ``floor(limit / smallest) + 1`` queries the limit has been passed. Agents that size buffers by
    the env's budget (L2NAS, SB3) then allocate for the most queries the limit allows.

    :param evaluator: the runs' tabular evaluator (its fidelity's training times).
    :param limit: simulated seconds.
    :raises ValueError: the evaluator has no table of training times, or one with a time <= 0.
    """
    table = getattr(evaluator, "table", None)
    metric = FIDELITY_METRICS.get(getattr(evaluator, "fidelity", None), {}).get("train_time")
    if table is None or metric is None:
        raise ValueError(
            f"sim_time: the {evaluator!r} evaluator has no table of training times to bound a simulated-time run by"
        )
    if metric not in table:
        raise ValueError(f"sim_time: the {evaluator.dataset} table has no {metric!r}, so queries cost no time")
    smallest = float(np.nanmin(np.asarray(table.values(metric))))
    if not smallest > 0:
        raise ValueError(
            f"sim_time: the {evaluator.dataset} table has a {metric!r} of {smallest} s; a simulated-time "
            "limit needs every query to cost time"
        )
    return math.floor(limit / smallest) + 1


@dataclass(frozen=True)
class EnvContext:
    """What the grid learns from one env on one (searched, reported) dataset pair.

    :param fidelity: the reward's fidelity (the one given, else the env's default; ``None``: the env has none).
    :param report_fidelity: the fidelity of the reported accuracies (the env's default).
    :param fingerprint: :func:`~nasgym.bench.provenance.tables_fingerprint` of its evaluators.
    :param reward: the evaluator of the searched env.
    """

    fidelity: int | None
    report_fidelity: int | None
    fingerprint: str
    reward: Evaluator


def env_context(
    env_id: str, searched: str, dataset: str, fidelity: int | None, env_args: str, cache_dir: Path | None
) -> EnvContext:
    """Make the env ``env_id`` searching ``searched`` (with ``fidelity`` where given) and its report
    evaluator on ``dataset``, and read what a run on them depends on.

    :param env_args: extra ``gym.make`` arguments as JSON (:func:`~nasgym.bench.envs.env_args_text`).
    """
    kwargs = json.loads(env_args) if env_args else {}
    env = make_env(env_id, searched, kwargs, cache_dir, **({"fidelity": fidelity} if fidelity is not None else {}))
    try:
        reward = env_evaluator(env)
    finally:
        env.close()
    report = report_evaluator(env_id, dataset, env_args, cache_dir)
    fidelity = fidelity if fidelity is not None else getattr(reward, "fidelity", None)
    return EnvContext(fidelity, getattr(report, "fidelity", None), tables_fingerprint(reward, report), reward)


@dataclass(frozen=True)
class BenchConfig:
    """A grid: every agent x dataset x protocol (budgets, simulated time) x seed, on the envs of a
    space (or on explicit env ids).

    :param agents: agent names, ``NAME`` or ``NAME@Flavour`` (see :func:`parse_agent`).
    :param datasets: datasets to run on each space; ``None``: each space's own (every dataset of its
        tables, else its env's default dataset).
    :param budgets: query budgets (each >= 1); may be empty when ``sim_time`` is given.
    :param seeds: number of seeds K (>= 1); the runs use seeds ``seed_start .. seed_start + K - 1``.
    :param out: output folder.
    :param seed_start: first seed (>= 0).
    :param sim_time: also run with this simulated-time limit in seconds (> 0), the NAS-Bench-201
        protocol; ``None``: query budgets only.
    :param fidelity: the env's ``fidelity`` behind the reward (epochs); ``None``: the env's default.
    :param search_dataset: search this dataset and report the selected architecture on each of
        ``datasets``; ``None``: every dataset searches itself.
    :param workers: parallel runs (``None``: one per core); 1 runs in this process.
    :param cache_dir: table cache, passed to ``gym.make``; ``None``: the env's default.
    :param space: a registered space, by name (``nb201``) or env-id prefix (``NAS-Bench-201``);
        ``None``: ``nb201`` unless ``envs`` are given.
    :param envs: explicit registered env ids (instead of ``space``).
    :param env_args: extra ``gym.make`` arguments of every env (JSON values; ``fidelity`` here is
        the same as the ``fidelity`` parameter).
    :param executor: ``"process"`` (a local pool) or ``"ray"``.
    :param ray_address: the Ray cluster to connect to; ``None``: start a local Ray.
    """

    agents: Sequence[str]
    datasets: Sequence[str] | None
    budgets: Sequence[int]
    seeds: int
    out: Path
    seed_start: int = 0
    sim_time: float | None = None
    fidelity: int | None = None
    search_dataset: str | None = None
    workers: int | None = None
    cache_dir: Path | None = None
    space: str | None = None
    envs: Sequence[str] = ()
    env_args: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "process"
    ray_address: str | None = None

    def stops(self) -> list[tuple[int | None, float | None]]:
        """(budget, sim_time_limit) of each protocol, checked: one per budget, then the time limit."""
        if not self.budgets and self.sim_time is None:
            raise ValueError("budgets: give at least one query budget, or a sim_time limit")
        if not all(_is_int(budget, 1) for budget in self.budgets):
            raise ValueError(f"budgets must be integers >= 1 (queries), got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError(f"budgets must not repeat, got {list(self.budgets)}")
        limit = self.sim_time
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit < math.inf
        ):
            raise ValueError(f"sim_time must be a finite number of simulated seconds > 0, got {limit!r}")
        stops: list[tuple[int | None, float | None]] = [(int(budget), None) for budget in sorted(self.budgets)]
        return stops + ([(None, float(limit))] if limit is not None else [])

    def seed_list(self) -> list[int]:
        for name, value, minimum in (("seeds", self.seeds, 1), ("seed_start", self.seed_start, 0)):
            if not _is_int(value, minimum):
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return list(range(self.seed_start, self.seed_start + self.seeds))

    def space_list(self) -> list[BenchSpace]:
        """The spaces of the grid, each with the env ids it runs."""
        if self.envs:
            if self.space is not None:
                raise ValueError("space and envs: give one (envs are the env ids of a space)")
            return spaces_of_env_ids(list(self.envs))
        return [resolve_space(self.space or DEFAULT_SPACE)]

    def reward_arguments(self) -> tuple[int | None, str]:
        """The reward's fidelity (``None``: the env's default) and the other env arguments as JSON."""
        env_args = dict(self.env_args)
        for key, flag in GRID_ARGUMENTS.items():
            if key in env_args:
                raise ValueError(f"env_args: {key!r} is set by the grid; use {flag}")
        if "constraint" in env_args:  # the scores select among every query, feasible or not
            raise ValueError(
                "env_args: 'constraint' is not taken by the grid, whose scores select among every query; "
                "measure a constrained search with benchmarks/tabnas_nb201.py"
            )
        fidelity = self.fidelity
        if "fidelity" in env_args:
            if fidelity is not None:
                raise ValueError("fidelity is given twice: as fidelity and in env_args; give one")
            fidelity = env_args.pop("fidelity")
        if fidelity is not None and not _is_int(fidelity, 1):
            raise ValueError(f"fidelity must be an integer >= 1 (epochs), got {fidelity!r}")
        return fidelity, env_args_text(env_args)

    def dataset_list(self, space: BenchSpace, env_args: str) -> list[str]:
        """The datasets of ``space``: those given, else the space's own."""
        if self.datasets is None:
            if space.table_datasets:
                return list(space.table_datasets)
            env_id = next(iter(space.env_ids.values()))
            return [default_dataset(env_id, json.loads(env_args) if env_args else {}, self.cache_dir)]
        if not self.datasets:
            raise ValueError(
                f"datasets: give at least one; accepted: {list(space.table_datasets) or 'the env default'}"
            )
        if space.table_datasets:
            unknown = [d for d in self.datasets if d not in space.table_datasets]
            if unknown:
                raise ValueError(f"datasets: {unknown} unknown; accepted: {list(space.table_datasets)}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"datasets must not repeat, got {list(self.datasets)}")
        return list(self.datasets)

    def agent_specs(self, space: BenchSpace | None = None) -> list[AgentSpec]:
        """The agents, each on its flavour of ``space`` (``None``: the default space)."""
        space = space or resolve_space(DEFAULT_SPACE)
        if not self.agents:
            raise ValueError("agents: give at least one agent name")
        specs = [parse_agent(text, space.flavours) for text in self.agents]
        if len(set(specs)) != len(specs):
            raise ValueError(f"agents must not repeat (after resolving flavours), got {list(self.agents)}")
        return specs

    def command_line(self) -> str:
        """The ``nasgym bench`` command that runs this grid (``workers`` and the executor change no result)."""
        argv = ["nasgym", "bench", "--agents", ",".join(self.agents)]
        if self.envs:
            argv += ["--envs", ",".join(self.envs)]
        elif self.space is not None:
            argv += ["--space", self.space]
        if self.datasets is not None:
            argv += ["--datasets", ",".join(self.datasets)]
        if self.budgets:
            argv += ["--budgets", ",".join(str(b) for b in self.budgets)]
        if self.sim_time is not None:
            argv += ["--sim-time", f"{self.sim_time:g}"]
        argv += ["--seeds", str(self.seeds), "--seed-start", str(self.seed_start)]
        if self.fidelity is not None:
            argv += ["--fidelity", str(self.fidelity)]
        if self.search_dataset is not None:
            argv += ["--search-dataset", self.search_dataset]
        for key, value in self.env_args.items():
            argv += ["--env-arg", f"{key}={json.dumps(value)}"]
        return shlex.join([*argv, "--out", str(self.out)])

    def plan(self) -> list[RunSpec]:
        """Every run of the grid, after checking every argument and the envs the runs need.

        :raises ValueError: naming the bad argument and what is accepted, before anything runs.
        """
        stops, seeds = self.stops(), self.seed_list()
        if self.workers is not None and not _is_int(self.workers, 1):
            raise ValueError(f"workers must be an integer >= 1, got {self.workers!r}")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r} is unknown; accepted: {list(EXECUTORS)}")
        fidelity, env_args = self.reward_arguments()
        runs = []
        for space in self.space_list():
            datasets = self.dataset_list(space, env_args)
            if self.search_dataset is not None and space.table_datasets:
                if self.search_dataset not in space.table_datasets:
                    raise ValueError(
                        f"search_dataset {self.search_dataset!r} is unknown; accepted: {list(space.table_datasets)}"
                    )
            specs = self.agent_specs(space)
            for env_id in dict.fromkeys(space.env_ids[spec.flavour] for spec in specs):
                contexts = {
                    d: env_context(env_id, self.search_dataset or d, d, fidelity, env_args, self.cache_dir)
                    for d in datasets
                }
                for budget, limit in stops:
                    for dataset, context in contexts.items():
                        protocol = Protocol(
                            budget, limit, context.fidelity, self.search_dataset, context.report_fidelity
                        )
                        cap = budget if limit is None else sim_time_query_cap(context.reward, limit)
                        runs += [
                            RunSpec(spec, env_id, dataset, protocol, seed, cap, env_args, context.fingerprint)
                            for spec in specs
                            if space.env_ids[spec.flavour] == env_id
                            for seed in seeds
                        ]
        return runs
