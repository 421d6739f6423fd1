"""``nasgym bench``: run a grid of searches on NAS-Bench-201 and report it beside the published rows.

Every run is one search (:meth:`~nasgym.agents.SearchAgent.run`) of one agent on one dataset with
one seed, under NATS-Bench's seed noise, stopped by a query budget or by a simulated-time limit
(:class:`SimTimeLimit`). Runs go to a pool of processes, and each finished run is appended to
``runs.csv`` at once, so a crash loses nothing and a re-run into the same folder skips what is done.

What a run reports is what NAS-Bench-201, NATS-Bench and the L2NAS paper report: the architecture
with the best *observed* (noisy) validation accuracy among the run's queries is selected, and its
seed-mean 200-epoch validation and test accuracies are reported. An architecture queried more than
once is ranked by the mean of its observations (:mod:`nasgym.selection`); for a run that never
repeats a query that is the scripts' rule. The folder ``out`` holds:

- ``runs.csv``: one row per run (:data:`RUN_COLUMNS`, then :data:`EXTRA_COLUMNS`);
- ``histories/<run>.npz``: per query, the queried index, the observed reward accuracy, the simulated
  time so far, and the seed-mean validation and test accuracy of the best architecture so far;
- ``table.md``: mean +- std per agent x dataset x protocol, beside :data:`REFERENCE_ROWS`;
- ``anytime.png`` (query budgets) and ``anytime_sim_time.png`` (simulated-time runs): best-so-far
  curves, mean and 95% bootstrap band over seeds, one column per dataset;
- ``commands.jsonl``: every invocation (command, nasgym version, date, counts, wall time);
- ``failures.jsonl``: the runs of the latest invocation that failed, with their tracebacks.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import functools
import json
import math
import multiprocessing
import os
import re
import shlex
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import nasgym
from nasgym.agents import make_agent
from nasgym.agents._utils import parse_keyword_argument
from nasgym.agents.base import env_id_flavour
from nasgym.evaluators import TabularEvaluator
from nasgym.selection import incumbents
from nasgym.tables import SPACE_DATASETS
from nasgym.tables.metrics import FIDELITY_METRICS

SPACE = "nb201"
DATASETS: tuple[str, ...] = tuple(SPACE_DATASETS[SPACE])
#: env id of each flavour of the benchmark's space
ENV_ID = "NAS-Bench-201-{flavour}-v0"
#: fidelity (epochs) of the accuracies a run reports, whatever epochs its reward came from
REPORT_FIDELITY = 200

#: the columns every consumer of ``runs.csv`` may rely on, in this order
RUN_COLUMNS: tuple[str, ...] = (
    "agent",
    "env",
    "dataset",
    "budget",
    "seed",
    "best_valid_acc",
    "best_test_acc",
    "best_arch",
    "queries_to_best",
    "n_queries",
    "sim_time",
    "wall_time",
)
#: more columns after :data:`RUN_COLUMNS`: the observed (noisy, reward-fidelity) accuracy of the
#: selected architecture, its index, the rest of the protocol (:class:`Protocol`; an empty
#: ``search_dataset``: the run searched its own dataset) and the run's history file
EXTRA_COLUMNS: tuple[str, ...] = (
    "best_valid_acc_observed",
    "best_index",
    "sim_time_limit",
    "fidelity",
    "search_dataset",
    "history",
)
COLUMNS = RUN_COLUMNS + EXTRA_COLUMNS
#: anytime plot of each x axis
PLOT_FILES = {"queries": "anytime.png", "sim_time": "anytime_sim_time.png"}


@dataclass(frozen=True)
class ReferenceRow:
    """A published (or previously simulated) result, printed beside the grid's rows.

    :param method: method name as its source gives it.
    :param protocol: the query budget or simulated time, and reward, it was measured under.
    :param source: where the numbers come from.
    :param valid: mean validation accuracy (%) per dataset.
    :param test: mean test accuracy (%) per dataset (absent where the source gives none).
    """

    method: str
    protocol: str
    source: str
    valid: dict[str, float]
    test: dict[str, float] = field(default_factory=dict)


def _paper_row(method: str, protocol: str, source: str, *valid_test: tuple[float, float]) -> ReferenceRow:
    return ReferenceRow(
        method,
        protocol,
        source,
        {d: v for d, (v, _) in zip(DATASETS, valid_test, strict=True)},
        {d: t for d, (_, t) in zip(DATASETS, valid_test, strict=True)},
    )


_L2NAS_PAPER = "L2NAS paper table (Mills et al., CIKM 2021), as in shared/DESIGN.md"
_NB201_PROTOCOL = "12,000 s simulated, 12-epoch reward, searched on cifar10 (NAS-Bench-201 protocol)"
_REA_SIMULATION = "plain simulation before issue 3, mean of 40 seeds (shared/DESIGN.md)"
#: the L2NAS paper's NAS-Bench-201 table, and the REA/RS numbers of DESIGN.md at equal query budgets;
#: means only, valid / test, in the order of :data:`DATASETS` (cifar10, cifar100, ImageNet16-120).
#: The RS/REA/REINFORCE/BOHB rows come from the NAS-Bench-201 paper, whose scripts search cifar10
#: only and report the architecture found on every dataset (``scripts-search/algos/R-EA.sh`` sets
#: ``dataset=cifar10``; ``exps/algos/R_EA.py`` asserted it), hence ``--search-dataset cifar10``.
REFERENCE_ROWS: tuple[ReferenceRow, ...] = (
    _paper_row("RS", _NB201_PROTOCOL, _L2NAS_PAPER, (90.93, 93.70), (70.93, 71.04), (44.45, 44.57)),
    _paper_row("REA", _NB201_PROTOCOL, _L2NAS_PAPER, (91.19, 93.92), (71.81, 71.84), (45.15, 45.54)),
    _paper_row("REINFORCE", _NB201_PROTOCOL, _L2NAS_PAPER, (91.09, 93.85), (71.61, 71.71), (45.05, 45.24)),
    _paper_row("BOHB", _NB201_PROTOCOL, _L2NAS_PAPER, (90.82, 93.61), (70.74, 70.85), (44.26, 44.42)),
    _paper_row("arch2vec-BO", "as reported", _L2NAS_PAPER, (91.41, 94.18), (73.35, 73.37), (46.34, 46.27)),
    _paper_row("L2NAS-500", "500 queries", _L2NAS_PAPER, (91.36, 94.11), (72.47, 72.69), (46.23, 46.74)),
    _paper_row("L2NAS-1k", "1000 queries", _L2NAS_PAPER, (91.47, 94.28), (73.02, 73.09), (46.58, 47.03)),
    ReferenceRow("REA", "500 queries", _REA_SIMULATION, dict(zip(DATASETS, (91.56, 73.12, 46.32), strict=True))),
    ReferenceRow("REA", "1000 queries", _REA_SIMULATION, dict(zip(DATASETS, (91.59, 73.28, 46.32), strict=True))),
    ReferenceRow("RS", "500 queries", _REA_SIMULATION, dict(zip(DATASETS, (91.32, 72.34, 45.73), strict=True))),
)


# --- the grid ---------------------------------------------------------------------------------


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
    def env_id(self) -> str:
        return ENV_ID.format(flavour=self.flavour)

    @property
    def text(self) -> str:
        return f"{self.label}@{self.flavour}"


_AGENT_TEXT = re.compile(r"(?P<name>[^\[\]@]+)(?:\[(?P<arguments>[^\[\]]*)\])?(?:@(?P<flavour>[^\[\]@]*))?")


def parse_agent(text: str) -> AgentSpec:
    """``NAME``, ``NAME[KEY=VALUE,...]`` (the agent's arguments, JSON scalars), each optionally
    followed by ``@Flavour`` (default: the agent's first flavour), e.g. ``reinforce[lr=0.05]``.

    :raises ValueError: an unknown agent or argument, or a flavour the agent does not search.
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
    if not flavour:
        return AgentSpec(name, agent.flavours[0], arguments)
    if flavour not in agent.flavours:
        raise ValueError(
            f"agents: {text!r}: flavour {flavour!r} is not one agent {name!r} searches; accepted: "
            f"{list(agent.flavours)}"
        )
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
    :param fidelity: training epochs behind the validation reward (200, or 12 after importing the
        12-epoch data); the reported accuracies are always the 200-epoch ones.
    :param search_dataset: search on this dataset's reward and report the selected architecture on
        the run's dataset (the NAS-Bench-201 paper searched cifar10 only); ``None``: search the
        run's dataset itself.
    """

    budget: int | None = None
    sim_time_limit: float | None = None
    fidelity: int = REPORT_FIDELITY
    search_dataset: str | None = None

    def __post_init__(self) -> None:
        if (self.budget is None) == (self.sim_time_limit is None):
            raise ValueError("a protocol takes exactly one of budget and sim_time_limit")

    @property
    def variant(self) -> str:
        """What differs from searching the run's own dataset on the 200-epoch reward ("" if nothing)."""
        parts = [f"{self.fidelity}-epoch reward"] if self.fidelity != REPORT_FIDELITY else []
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
        return f"{stop}_f{self.fidelity}" + (f"_on-{self.search_dataset}" if self.search_dataset else "")

    def sort_key(self) -> tuple:
        return (self.budget is None, self.budget or self.sim_time_limit, self.fidelity, self.search_dataset or "")


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    :param agent: the agent and its flavour.
    :param dataset: dataset the run reports on (and searches, unless the protocol says otherwise).
    :param protocol: stopping rule, reward fidelity and searched dataset.
    :param seed: seed of the env and the agent.
    :param query_cap: the env's query budget: ``protocol.budget``, or for a simulated-time run a
        bound that the limit always reaches first (:func:`sim_time_query_cap`).
    """

    agent: AgentSpec
    dataset: str
    protocol: Protocol
    seed: int
    query_cap: int

    @property
    def search_dataset(self) -> str:
        return self.protocol.search_dataset or self.dataset

    @property
    def key(self) -> tuple:
        return run_key(self.agent.label, self.agent.env_id, self.dataset, self.protocol, self.seed)

    @property
    def history_path(self) -> str:
        """Path of the run's history, relative to the output folder."""
        name = f"{self.agent.label}__{self.agent.flavour}__{self.dataset}__{self.protocol.slug}__s{self.seed}"
        return f"histories/{re.sub(r'[^A-Za-z0-9._-]', '-', name)}.npz"

    def describe(self) -> str:
        return f"{self.agent.text} on {self.dataset}, {self.protocol.label}, seed {self.seed}"


def run_key(agent: str, env_id: str, dataset: str, protocol: Protocol, seed: int) -> tuple:
    """What identifies a run in ``runs.csv`` (resuming skips runs whose key is there)."""
    return (agent, env_id, dataset, protocol, seed)


def _is_int(value: object, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum


@dataclass(frozen=True)
class BenchConfig:
    """A grid: every agent x dataset x protocol (budgets, simulated time) x seed.

    :param agents: agent names, ``NAME`` or ``NAME@Flavour`` (see :func:`parse_agent`).
    :param datasets: datasets of :data:`DATASETS`.
    :param budgets: query budgets (each >= 1); may be empty when ``sim_time`` is given.
    :param seeds: number of seeds K (>= 1); the runs use seeds ``seed_start .. seed_start + K - 1``.
    :param out: output folder.
    :param seed_start: first seed (>= 0).
    :param sim_time: also run with this simulated-time limit in seconds (> 0), the NAS-Bench-201
        protocol; ``None``: query budgets only.
    :param fidelity: epochs behind the validation reward, one of :data:`FIDELITY_METRICS`' keys.
    :param search_dataset: search this dataset and report the selected architecture on each of
        ``datasets``; ``None``: every dataset searches itself.
    :param workers: processes (``None``: one per core); 1 runs in this process.
    :param cache_dir: table cache; ``None``: ``$NASGYM_CACHE_DIR`` or the user cache.
    """

    agents: Sequence[str]
    datasets: Sequence[str]
    budgets: Sequence[int]
    seeds: int
    out: Path
    seed_start: int = 0
    sim_time: float | None = None
    fidelity: int = REPORT_FIDELITY
    search_dataset: str | None = None
    workers: int | None = None
    cache_dir: Path | None = None

    def protocols(self) -> list[Protocol]:
        """The protocols of the grid, checked: one per budget, and one for the simulated-time limit."""
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
        if self.fidelity not in FIDELITY_METRICS:
            raise ValueError(f"fidelity {self.fidelity!r} is unknown; accepted: {sorted(FIDELITY_METRICS)} (epochs)")
        if self.search_dataset is not None and self.search_dataset not in DATASETS:
            raise ValueError(f"search_dataset {self.search_dataset!r} is unknown; accepted: {list(DATASETS)}")
        common = {"fidelity": self.fidelity, "search_dataset": self.search_dataset}
        protocols = [Protocol(budget=int(budget), **common) for budget in sorted(self.budgets)]
        if limit is not None:
            protocols.append(Protocol(sim_time_limit=float(limit), **common))
        return protocols

    def seed_list(self) -> list[int]:
        for name, value, minimum in (("seeds", self.seeds, 1), ("seed_start", self.seed_start, 0)):
            if not _is_int(value, minimum):
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return list(range(self.seed_start, self.seed_start + self.seeds))

    def dataset_list(self) -> list[str]:
        if not self.datasets:
            raise ValueError(f"datasets: give at least one; accepted: {list(DATASETS)}")
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown:
            raise ValueError(f"datasets: {unknown} unknown; accepted: {list(DATASETS)}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"datasets must not repeat, got {list(self.datasets)}")
        return list(self.datasets)

    def agent_specs(self) -> list[AgentSpec]:
        if not self.agents:
            raise ValueError("agents: give at least one agent name")
        specs = [parse_agent(text) for text in self.agents]
        if len(set(specs)) != len(specs):
            raise ValueError(f"agents must not repeat (after resolving flavours), got {list(self.agents)}")
        return specs

    def command_line(self) -> str:
        """The ``nasgym bench`` command that runs this grid (``workers`` changes no result)."""
        argv = ["nasgym", "bench", "--agents", ",".join(self.agents), "--datasets", ",".join(self.datasets)]
        if self.budgets:
            argv += ["--budgets", ",".join(str(b) for b in self.budgets)]
        if self.sim_time is not None:
            argv += ["--sim-time", f"{self.sim_time:g}"]
        argv += ["--seeds", str(self.seeds), "--seed-start", str(self.seed_start), "--fidelity", str(self.fidelity)]
        if self.search_dataset is not None:
            argv += ["--search-dataset", self.search_dataset]
        return shlex.join([*argv, "--out", str(self.out)])

    def plan(self) -> list[RunSpec]:
        """Every run of the grid, after checking every argument and the tables the runs need.

        :raises ValueError: naming the bad argument and what is accepted, before anything runs.
        """
        protocols, seeds, datasets = self.protocols(), self.seed_list(), self.dataset_list()
        if self.workers is not None and not _is_int(self.workers, 1):
            raise ValueError(f"workers must be an integer >= 1, got {self.workers!r}")
        specs = self.agent_specs()
        searched = [self.search_dataset] if self.search_dataset is not None else datasets
        caps = {}
        for dataset in dict.fromkeys([*searched, *datasets]):
            try:  # builds the tables here, once, before the workers map them
                reward_evaluator = TabularEvaluator(SPACE, dataset, "seed", self.fidelity, self.cache_dir)
                TabularEvaluator(SPACE, dataset, "mean", REPORT_FIDELITY, self.cache_dir)
            except ValueError as exc:
                raise ValueError(f"fidelity: {exc}") from None
            for protocol in protocols:
                caps[dataset, protocol] = protocol.budget or sim_time_query_cap(
                    reward_evaluator, protocol.sim_time_limit
                )
        runs = []
        for protocol in protocols:
            for spec in specs:
                for dataset in datasets:
                    cap = caps[protocol.search_dataset or dataset, protocol]
                    runs += [RunSpec(spec, dataset, protocol, seed, cap) for seed in seeds]
        return runs


def sim_time_query_cap(evaluator: TabularEvaluator, limit: float) -> int:
    """A query budget that a run with the simulated-time ``limit`` never reaches before the limit.

    Every query costs at least the smallest training time in the table, so after
    ``floor(limit / smallest) + 1`` queries the limit has been passed. Agents that size buffers by
    the env's budget (L2NAS, SB3) then allocate for the most queries the limit allows.

    :param evaluator: the runs' tabular evaluator (its fidelity's training times).
    :param limit: simulated seconds.
    """
    metric = FIDELITY_METRICS[evaluator.fidelity]["train_time"]
    if metric not in evaluator.table:
        raise ValueError(f"sim_time: the {evaluator.dataset} table has no {metric!r}, so queries cost no time")
    smallest = float(np.nanmin(np.asarray(evaluator.table.values(metric))))
    if not smallest > 0:
        raise ValueError(
            f"sim_time: the {evaluator.dataset} table has a {metric!r} of {smallest} s; a simulated-time "
            "limit needs every query to cost time"
        )
    return math.floor(limit / smallest) + 1


class SimTimeLimit(gym.Wrapper):
    """Truncate the episode at the query whose simulated time (``info["sim_time"]``) reaches ``limit``.

    That query counts, as in NATS-Bench's search scripts (``while total_time < time_budget: query``
    in ``exps/NATS-algos/{random_wo_share,regularized_ea}.py`` of D-X-Y/AutoDL-Projects): a run
    spends at least the limit and overshoots it by less than one query. (The older NAS-Bench-201
    script ``exps/algos/R_EA.py`` dropped that last query instead; at 12,000 s on cifar10 the two
    differ by one query in about a hundred.) Agents need no change: they step until the episode is
    truncated, as they do at the end of a query budget.

    :param env: a nasgym env whose budget is at least what the limit allows (:func:`sim_time_query_cap`).
    :param limit: simulated seconds, > 0.
    """

    def __init__(self, env: gym.Env, limit: float) -> None:
        super().__init__(env)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit < math.inf:
            raise ValueError(f"limit must be a finite number of simulated seconds > 0, got {limit!r}")
        self.limit = float(limit)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "arch" in info and info["sim_time"] >= self.limit:  # only a step that made a query
            truncated = True
        return obs, reward, terminated, truncated, info


# --- one run ----------------------------------------------------------------------------------


@functools.cache
def _report_evaluator(dataset: str, cache_dir: Path | None) -> TabularEvaluator:
    """Seed-mean, 200-epoch accuracies: what the papers report for a selected architecture."""
    return TabularEvaluator(SPACE, dataset, noise="mean", fidelity=REPORT_FIDELITY, cache_dir=cache_dir)


def execute_run(run: RunSpec, out: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """Run one search, save its history under ``out`` and return its ``runs.csv`` row."""
    agent = make_agent(run.agent.name, **run.agent.kwargs)
    env = gym.make(
        run.agent.env_id,
        dataset=run.search_dataset,
        budget=run.query_cap,
        noise="seed",
        fidelity=run.protocol.fidelity,
        cache_dir=cache_dir,
    )
    if run.protocol.sim_time_limit is not None:
        env = SimTimeLimit(env, run.protocol.sim_time_limit)
    try:
        result = agent.run(env, seed=run.seed, env_id=run.agent.env_id)
    finally:
        env.close()
    summary = result.summary()
    if run.protocol.sim_time_limit is not None and summary["sim_time"] < run.protocol.sim_time_limit:
        raise RuntimeError(f"the run stopped at {summary['sim_time']:.0f} simulated s, before the limit")
    indices = np.array([q["index"] for q in result.queries], dtype=np.int64)
    observed = np.array([q["valid_acc"] for q in result.queries], dtype=np.float64)
    best_indices, _ = incumbents(indices, observed)
    report = _report_evaluator(run.dataset, cache_dir).evaluate(best_indices, np.random.default_rng(0))
    path = out / run.history_path
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        index=indices.astype(np.int32),
        valid_acc=observed,
        sim_time=np.array([q["sim_time"] for q in result.queries], dtype=np.float64),
        best_valid_acc=report["valid_acc"].astype(np.float32),
        best_test_acc=report["test_acc"].astype(np.float32),
    )
    return {
        **{column: summary[column] for column in ("best_arch", "queries_to_best", "n_queries", "sim_time")},
        "agent": run.agent.label,
        "env": run.agent.env_id,
        "dataset": run.dataset,
        "budget": run.protocol.budget,
        "seed": run.seed,
        "best_valid_acc": float(report["valid_acc"][-1]),
        "best_test_acc": float(report["test_acc"][-1]),
        "wall_time": summary["wall_time"],
        "best_valid_acc_observed": summary["best_valid_acc"],
        "best_index": int(best_indices[-1]),
        "sim_time_limit": run.protocol.sim_time_limit,
        "fidelity": run.protocol.fidelity,
        "search_dataset": run.protocol.search_dataset,
        "history": run.history_path,
    }


@dataclass
class RunOutcome:
    """A finished run: its row, or the error that ended it."""

    run: RunSpec
    row: dict[str, Any] | None = None
    error: str | None = None


def _run_safely(run: RunSpec, out: Path, cache_dir: Path | None) -> RunOutcome:
    try:
        return RunOutcome(run, row=execute_run(run, out, cache_dir))
    except Exception:  # any failure of one run is recorded, and the grid goes on
        return RunOutcome(run, error=traceback.format_exc())


def _init_worker() -> None:
    # the grid is parallel across processes: one thread each, unless the user set otherwise
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def execute_runs(
    runs: Sequence[RunSpec],
    out: Path,
    workers: int,
    on_outcome: Callable[[RunOutcome], None],
    cache_dir: Path | None = None,
) -> None:
    """Run every run, at most ``workers`` at a time, and hand each outcome over as it finishes.

    Runs go to the pool one at a time as workers free up, so a worker process that dies (killed,
    out of memory) takes only the runs in flight with it: they are reported as failed and the rest
    go on in a fresh pool. ``workers == 1`` runs everything in this process.
    """
    if workers == 1:
        for run in runs:
            on_outcome(_run_safely(run, out, cache_dir))
        return
    queue = deque(runs)
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold torch threads
    while queue:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            in_flight: dict[Future, RunSpec] = {}
            broken = False
            while in_flight or (queue and not broken):
                while queue and not broken and len(in_flight) < workers:
                    run = queue.popleft()
                    in_flight[pool.submit(_run_safely, run, out, cache_dir)] = run
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    run = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        outcome = RunOutcome(run, error=f"the worker process running it died: {exc!r}")
                    on_outcome(outcome)


# --- runs.csv ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(text: str, kind: type) -> Any:
    return kind(text) if text != "" else None


def row_protocol(row: dict[str, str]) -> Protocol:
    """The protocol of a ``runs.csv`` row (read as strings)."""
    return Protocol(
        _optional(row["budget"], int),
        _optional(row["sim_time_limit"], float),
        int(row["fidelity"]),
        _optional(row["search_dataset"], str),
    )


def row_key(row: dict[str, str]) -> tuple:
    """:func:`run_key` of a ``runs.csv`` row (read as strings)."""
    return run_key(row["agent"], row["env"], row["dataset"], row_protocol(row), int(row["seed"]))


def read_runs(path: Path) -> list[dict[str, str]]:
    """Rows of a ``runs.csv`` (strings), or none if it does not exist.

    :raises ValueError: the file has other columns than :data:`COLUMNS`.
    """
    if not path.exists():
        return []
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"out: {path} has the columns {reader.fieldnames}, expected {list(COLUMNS)}; write into another folder"
            )
        return list(reader)


def append_run(path: Path, row: dict[str, Any]) -> None:
    """Append one row (and the header to a new file), flushed at once so a crash keeps it."""
    new = not path.exists()
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({column: _cell(row[column]) for column in COLUMNS})


def sort_runs(path: Path) -> None:
    """Rewrite ``runs.csv`` in grid order (runs finish in any order), atomically."""
    write_runs(path, read_runs(path))


def write_runs(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` in grid order, atomically."""
    rows = sorted(
        rows,
        key=lambda r: (row_protocol(r).sort_key(), r["agent"], r["env"], DATASETS.index(r["dataset"]), int(r["seed"])),
    )
    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)


def full_precision(table: np.ndarray, indices: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The table values that a history's observations are (histories written before float64 ones
    held float32 values): per query, the value of the queried architecture's seed nearest to it.

    :param table: the reward's (archs x seeds) validation accuracies, NaN where unknown.
    :param indices: queried architectures.
    :param observed: their observed validation accuracies, as the history holds them.
    :raises ValueError: an observation is no seed's value of its architecture.
    """
    candidates = np.asarray(table)[indices]
    distance = np.abs(candidates - np.asarray(observed, dtype=np.float64)[:, None])
    seed = np.argmin(np.where(np.isnan(distance), np.inf, distance), axis=1)
    values = candidates[np.arange(len(indices)), seed]
    mismatch = np.abs(values - observed) > 1e-4
    if mismatch.any():
        first = int(np.argmax(mismatch))
        raise ValueError(
            f"query {first + 1} observed {observed[first]} for architecture {indices[first]}, which is none of "
            f"its seeds' values {candidates[first].tolist()}: the history was written with other tables"
        )
    return values


def rescore(out: Path | str, cache_dir: Path | None = None) -> int:
    """Recompute every run of ``out/runs.csv`` from its history, with the current selection rule
    (:func:`~nasgym.selection.incumbents`) and tables: the selected architecture after each query, its reported
    accuracies (also the test accuracies imported since the run), and the row's columns that follow
    from them. The queries themselves are kept: no agent sees what is selected, so they are what a
    re-run would make. Rewrites the histories whose best-so-far curves changed and ``runs.csv``,
    atomically, then the report. Observations stored as float32 (older histories) are matched to
    the table values they are (:func:`full_precision`), so the result is what a re-run would give.

    :param out: a folder written by :func:`run_bench`.
    :param cache_dir: table cache; ``None``: ``$NASGYM_CACHE_DIR`` or the user cache.
    :returns: the number of runs rescored.
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist; run the grid first")
    rows = read_runs(runs_csv)
    missing = missing_histories(out, rows)
    if missing:
        raise FileNotFoundError(f"out: rescoring needs every run's history, and {_missing_text(out, rows, missing)}")
    reward_tables: dict[tuple[str, int], np.ndarray] = {}  # (searched dataset, fidelity) -> valid_acc seeds
    for row in rows:
        protocol = row_protocol(row)
        searched = (protocol.search_dataset or row["dataset"], protocol.fidelity)
        if searched not in reward_tables:
            reward = TabularEvaluator(SPACE, searched[0], "seed", protocol.fidelity, cache_dir)
            reward_tables[searched] = reward.table.values(FIDELITY_METRICS[protocol.fidelity]["valid_acc"])
        path = out / row["history"]
        with np.load(path) as stored:
            history = dict(stored)
        indices = history["index"].astype(np.int64)
        observed = full_precision(reward_tables[searched], indices, history["valid_acc"])
        best_indices, means = incumbents(indices, observed)
        reporter = _report_evaluator(row["dataset"], cache_dir)
        report = reporter.evaluate(best_indices, np.random.default_rng(0))
        best_curves = {
            "best_valid_acc": report["valid_acc"].astype(np.float32),
            "best_test_acc": report["test_acc"].astype(np.float32),
        }
        if any(not np.array_equal(history[key], curve, equal_nan=True) for key, curve in best_curves.items()):
            partial = path.with_name(path.name + ".partial.npz")  # only what changed: no churn in results kept in git
            np.savez_compressed(partial, **{**history, **best_curves})
            os.replace(partial, path)
        best = int(best_indices[-1])
        row.update(
            best_arch=reporter.space.arch_string(best),
            best_index=str(best),
            best_valid_acc=str(float(report["valid_acc"][-1])),
            best_test_acc=str(float(report["test_acc"][-1])),
            best_valid_acc_observed=str(float(means[-1])),
            queries_to_best=str(int(np.argmax(indices == best)) + 1),
        )
    write_runs(runs_csv, rows)
    _record_command(
        out, {"command": shlex.join(["nasgym", "bench", "--rescore", "--out", str(out)]), "runs_rescored": len(rows)}
    )
    write_report(out)
    return len(rows)


# --- the whole grid ---------------------------------------------------------------------------


@dataclass
class BenchReport:
    """What one invocation did.

    :param completed: runs that finished in this invocation.
    :param skipped: runs already in ``runs.csv``.
    :param failures: runs that failed, with their errors.
    :param wall_time: seconds the invocation took.
    """

    completed: int
    skipped: int
    failures: list[RunOutcome]
    wall_time: float

    def failure_summary(self) -> str:
        lines = [f"{len(self.failures)} of {len(self.failures) + self.completed} runs failed:"]
        for outcome in self.failures:
            last_line = (outcome.error or "").strip().splitlines()[-1:] or ["(no message)"]
            lines.append(f"  {outcome.run.describe()}: {last_line[0]}")
        return "\n".join(lines)


def run_bench(config: BenchConfig, progress: bool = True) -> BenchReport:
    """Run the grid of ``config`` into ``config.out`` (skipping runs already there), then write the
    table and the plots. A failed run is recorded in ``failures.jsonl`` and the others go on.

    :param config: the grid.
    :param progress: show a progress bar over runs.
    :raises ValueError: a bad argument, before anything runs.
    """
    start = time.perf_counter()
    runs = config.plan()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_csv = out / "runs.csv"
    done = {row_key(row) for row in read_runs(runs_csv)}
    pending = [run for run in runs if run.key not in done]
    workers = min(config.workers or os.cpu_count() or 1, max(len(pending), 1))
    failures: list[RunOutcome] = []
    bar = tqdm(total=len(pending), desc="nasgym bench", unit="run", disable=not progress)

    def record(outcome: RunOutcome) -> None:
        if outcome.row is not None:
            append_run(runs_csv, outcome.row)
        else:
            failures.append(outcome)
            bar.write(f"failed: {outcome.run.describe()}")
            bar.set_postfix(failed=len(failures))
        bar.update(1)

    try:
        execute_runs(pending, out, workers, record, config.cache_dir)
    finally:
        bar.close()
        _write_failures(out / "failures.jsonl", failures)
        if runs_csv.exists():
            sort_runs(runs_csv)
    report = BenchReport(len(pending) - len(failures), len(runs) - len(pending), failures, time.perf_counter() - start)
    _record_command(
        out,
        {
            "command": config.command_line(),
            "workers": workers,
            "runs_completed": report.completed,
            "runs_skipped": report.skipped,
            "runs_failed": len(failures),
            "wall_time_s": round(report.wall_time, 1),
        },
    )
    write_report(out)
    return report


def _record_command(out: Path, record: dict[str, Any]) -> None:
    """Append one invocation to ``out/commands.jsonl``, with the nasgym version and the date."""
    line = {
        "command": record["command"],
        "nasgym_version": nasgym.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **record,
    }
    with open(out / "commands.jsonl", "a") as file:
        file.write(json.dumps(line) + "\n")


def _write_failures(path: Path, failures: list[RunOutcome]) -> None:
    """Failures of this invocation only: a stale file would report runs a re-run has since done."""
    if not failures:
        path.unlink(missing_ok=True)
        return
    with open(path, "w") as file:
        for outcome in failures:
            run = outcome.run
            entry = {
                "agent": run.agent.label,
                "env": run.agent.env_id,
                "dataset": run.dataset,
                **dataclasses.asdict(run.protocol),
                "seed": run.seed,
                "error": outcome.error,
            }
            file.write(json.dumps(entry) + "\n")


# --- table and plots --------------------------------------------------------------------------


@dataclass
class Group:
    """The runs of one agent (on one env), dataset and protocol."""

    method: str
    dataset: str
    protocol: Protocol
    rows: list[dict[str, str]] = field(default_factory=list)

    def values(self, column: str) -> np.ndarray:
        return np.array([float(row[column]) for row in self.rows])


def group_runs(rows: Iterable[dict[str, str]]) -> list[Group]:
    """Runs grouped by method, dataset and protocol, in table order.

    The method is the agent name, with ``@Flavour`` where the results hold that agent on more than
    one flavour.
    """
    rows = list(rows)
    envs_of: dict[str, set[str]] = {}
    for row in rows:
        envs_of.setdefault(row["agent"], set()).add(row["env"])
    groups: dict[tuple, Group] = {}
    for row in rows:
        protocol = row_protocol(row)
        method = row["agent"]
        if len(envs_of[method]) > 1:
            method += f"@{env_id_flavour(row['env'])}"
        group = groups.setdefault((method, row["dataset"], protocol), Group(method, row["dataset"], protocol))
        group.rows.append(row)
    return sorted(groups.values(), key=lambda g: (g.protocol.sort_key(), g.method, DATASETS.index(g.dataset)))


def _mean_std(values: np.ndarray) -> str:
    if np.isnan(values).all():
        return "n/a"
    if len(values) < 2:
        return f"{values.mean():.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def format_table(rows: list[dict[str, str]], commands: list[dict[str, Any]], failures: int = 0) -> str:
    """The markdown of ``table.md``: the invocations, the grid's rows, then :data:`REFERENCE_ROWS`."""
    groups = group_runs(rows)
    datasets = [d for d in DATASETS if any(g.dataset == d for g in groups)] or list(DATASETS)
    lines = ["# nasgym bench: NAS-Bench-201", ""]
    lines += ["Produced by (UTC date, nasgym version, command; every invocation into this folder):", ""]
    lines += [f"- {c['date']}, nasgym {c['nasgym_version']}: `{c['command']}`" for c in commands]
    if failures:
        lines += ["", f"**{failures} run(s) of the latest invocation failed** (see failures.jsonl); re-run to retry."]
    lines += [
        "",
        "Each cell: validation / test accuracy (%), mean ± sample std over seeds (n = seeds). A run selects the "
        "architecture with the best observed (noisy) validation accuracy among its queries (the mean of its "
        "observations where it was queried more than once); the cell reports the "
        "seed-mean 200-epoch validation and test accuracy of that architecture, as NAS-Bench-201, NATS-Bench and "
        "the L2NAS paper do. cifar10 validation is the cifar10-valid split. Test is n/a until the test accuracies "
        "are imported (`nasgym data import .../test200_nats_bench.csv`). Reference rows (means only) follow the "
        "grid's rows.",
        "",
        "| method | protocol | " + " | ".join(datasets) + " | source |",
        "|---|---|" + "---|" * len(datasets) + "---|",
    ]
    by_row: dict[tuple, dict[str, Group]] = {}
    for group in groups:
        by_row.setdefault((group.protocol, group.method), {})[group.dataset] = group
    for (protocol, method), cells in by_row.items():
        texts = []
        for dataset in datasets:
            group = cells.get(dataset)
            if group is None:
                texts.append("")
                continue
            valid, test = group.values("best_valid_acc"), group.values("best_test_acc")
            texts.append(f"{_mean_std(valid)} / {_mean_std(test)} (n={len(valid)})")
        lines.append(f"| {method} | {protocol.label} | " + " | ".join(texts) + " | this grid |")
    for ref in REFERENCE_ROWS:
        texts = [
            f"{ref.valid[d]:.2f} / {ref.test[d]:.2f}" if d in ref.test else f"{ref.valid[d]:.2f} / n/a"
            for d in datasets
        ]
        lines.append(f"| {ref.method} | {ref.protocol} | " + " | ".join(texts) + f" | {ref.source} |")
    return "\n".join(lines) + "\n"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_and_band(curves: np.ndarray, n_resamples: int = 1000, level: float = 0.95) -> tuple[np.ndarray, ...]:
    """Mean over seeds (axis 0) and a bootstrap percentile band of that mean, per point.

    :param curves: array (seeds, points).
    :param n_resamples: bootstrap resamples of the seeds.
    :param level: coverage of the band.
    """
    n_seeds = curves.shape[0]
    draws = np.random.default_rng(0).integers(0, n_seeds, size=(n_resamples, n_seeds))
    weights = np.zeros((n_resamples, n_seeds))
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0 / n_seeds)
    resampled = weights @ curves  # (resamples, points): the mean of each resample
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail], axis=0)
    return curves.mean(axis=0), low, high


def curve_on_grid(positions: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A best-so-far step curve read at ``grid``: the value after the last query at or before each
    point (NaN before the first query).

    :param positions: increasing position of each query (its number, or its simulated time).
    :param values: the best-so-far value after each query.
    :param grid: where to read the curve.
    """
    last = np.searchsorted(positions, grid, side="right") - 1
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)


def _line_label(group: Group) -> str:
    variant = group.protocol.variant
    return f"{group.method} ({variant})" if variant else group.method


def plot_anytime(out: Path, groups: list[Group], axis: str) -> Path | None:
    """Draw the best-so-far curves of ``groups`` against queries or simulated time.

    ``axis="queries"`` draws, per method, dataset and protocol variant, the runs of the largest
    query budget; ``axis="sim_time"`` those of the largest simulated-time limit. Returns the PNG's
    path, or ``None`` where no run fits the axis.
    """
    if axis not in PLOT_FILES:
        raise ValueError(f"axis {axis!r} is unknown; accepted: {list(PLOT_FILES)}")
    timed = axis == "sim_time"

    def size(group: Group) -> float | None:
        return group.protocol.sim_time_limit if timed else group.protocol.budget

    candidates = [g for g in groups if size(g) is not None]
    if not candidates:
        return None
    largest: dict[tuple, float] = {}
    for g in candidates:
        line_key = (g.method, g.dataset, g.protocol.variant)
        largest[line_key] = max(largest.get(line_key, 0.0), size(g))
    chosen = [g for g in candidates if size(g) == largest[g.method, g.dataset, g.protocol.variant]]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in DATASETS if any(g.dataset == d for g in chosen)]
    figure, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False, sharex="col")
    # one colour (and line style: dashed for SB3) per line across panels, so one legend serves all
    line_labels = sorted({_line_label(g) for g in chosen}, key=lambda label: (label.startswith("sb3:"), label))
    palette = plt.get_cmap("tab20" if len(line_labels) > 10 else "tab10")
    styles = {
        label: {"color": palette(i % palette.N), "linestyle": "--" if label.startswith("sb3:") else "-"}
        for i, label in enumerate(line_labels)
    }
    # the y range starts where the curves are after 10 queries (10% of the time): the first few
    # queries are far below and would squash the differences that matter
    early_means: dict[tuple[int, int], list[float]] = {}
    for column, dataset in enumerate(datasets):
        for group in (g for g in chosen if g.dataset == dataset):
            grid = np.linspace(0.0, size(group), 400) if timed else np.arange(1, size(group) + 1, dtype=np.float64)
            early = min(len(grid) - 1, 40 if timed else 9)
            histories = [np.load(out / row["history"]) for row in group.rows]
            label = _line_label(group)
            positions = [h["sim_time"] if timed else np.arange(1, len(h["index"]) + 1) for h in histories]
            for row_index, metric in enumerate(("best_valid_acc", "best_test_acc")):
                curves = np.array(
                    [curve_on_grid(p, h[metric], grid) for p, h in zip(positions, histories, strict=True)]
                )
                if np.isnan(curves[:, -1]).all():  # no test accuracies in the tables
                    continue
                mean, low, high = mean_and_band(curves)
                panel = axes[row_index, column]
                panel.plot(grid, mean, label=f"{label}, n={len(histories)}", linewidth=1.2, **styles[label])
                panel.fill_between(grid, low, high, color=styles[label]["color"], alpha=0.12, linewidth=0)
                if np.isfinite(mean[early]):
                    early_means.setdefault((row_index, column), []).append(float(mean[early]))
        axes[0, column].set_title(dataset)
        axes[0, column].set_ylabel("validation accuracy (%)")
        axes[1, column].set_ylabel("test accuracy (%)")
        axes[1, column].set_xlabel("simulated training time (s)" if timed else "queries (log scale)")
        if not timed:  # the first queries gain the most: a log axis shows them beside the late gains
            axes[1, column].set_xscale("log")
        for row_index, panel in enumerate(axes[:, column]):
            panel.grid(alpha=0.3)
            if not panel.lines:
                panel.text(0.5, 0.5, "no test accuracies in the tables", ha="center", transform=panel.transAxes)
            elif (row_index, column) in early_means:
                top = max(float(np.nanmax(line.get_ydata())) for line in panel.lines)
                panel.set_ylim(min(early_means[row_index, column]) - 0.2, top + 0.3)
    legend: dict[str, Any] = {}  # label -> handle, over all panels (a line may miss a dataset)
    for panel in axes.flat:
        for handle, label in zip(*panel.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    figure.suptitle(
        "Best-so-far architecture (best mean observed validation accuracy): its seed-mean 200-epoch accuracy; "
        "mean over seeds, 95% bootstrap band",
        fontsize="medium",
    )
    figure.tight_layout()
    path = out / PLOT_FILES[axis]
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def write_report(out: Path | str) -> str:
    """(Re)build ``table.md`` and the anytime plots from what ``out`` holds; return the table.

    :param out: a folder written by :func:`run_bench`.
    :raises FileNotFoundError: ``out`` has no ``runs.csv``.
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist; run the grid first")
    rows = read_runs(runs_csv)
    failures = len(_read_jsonl(out / "failures.jsonl"))
    table = format_table(rows, _read_jsonl(out / "commands.jsonl"), failures)
    missing = missing_histories(out, rows)
    try:
        import matplotlib  # noqa: F401  (an optional dependency: the table needs none)
    except ImportError:
        warnings.warn(
            "matplotlib is missing (pip install 'nasgym[plot]'): table.md only, no anytime plots", stacklevel=2
        )
    else:
        groups = group_runs(rows)
        for axis, name in PLOT_FILES.items():
            if missing:  # the plots need every history: keep those drawn when they were all there
                if (out / name).exists():
                    table += _plot_link(axis, name)
            elif plot_anytime(out, groups, axis) is None:  # no runs of that kind: no stale plot either
                (out / name).unlink(missing_ok=True)
            else:
                table += _plot_link(axis, name)
        if missing:
            warnings.warn(f"{_missing_text(out, rows, missing)}: the anytime plots are left as they are", stacklevel=2)
    (out / "table.md").write_text(table)
    return table


def _plot_link(axis: str, name: str) -> str:
    return f"\n![best-so-far against {axis.replace('_', ' ')}]({name})\n"


def missing_histories(out: Path, rows: list[dict[str, str]]) -> list[str]:
    """The ``history`` files of ``rows`` that ``out`` does not hold (folders committed without them)."""
    return [row["history"] for row in rows if not (out / row["history"]).exists()]


def _missing_text(out: Path, rows: list[dict[str, str]], missing: list[str]) -> str:
    return (
        f"{len(missing)} of the {len(rows)} runs in {out} have no history (e.g. {missing[0]}); the grid's "
        f"commands in {out / 'commands.jsonl'} rebuild them"
    )
