"""Executing a grid: one run (:func:`execute_run`), many on a local pool of processes or on Ray
(:func:`execute_runs`), and a whole invocation into an output folder (:func:`run_bench`)."""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from nasgym.agents import make_agent
from nasgym.bench.envs import make_env, report_evaluator
from nasgym.bench.grid import BenchConfig, RunSpec
from nasgym.bench.histories import History, consolidate, group_reference, write_pending
from nasgym.bench.provenance import machine, versions
from nasgym.bench.report import record_command, write_failures, write_report
from nasgym.bench.runs import append_run, is_legacy, read_runs, row_key, write_runs
from nasgym.bench.scoring import score_queries


class SimTimeLimit(gym.Wrapper):
    """Truncate the episode at the query whose simulated time (``info["sim_time"]``) reaches ``limit``.

    That query counts, as in NATS-Bench's search scripts (``while total_time < time_budget: query``
    in ``exps/NATS-algos/{random_wo_share,regularized_ea}.py`` of D-X-Y/AutoDL-Projects): a run
    spends at least the limit and overshoots it by less than one query. (The older NAS-Bench-201
    script ``exps/algos/R_EA.py`` dropped that last query instead; at 12,000 s on cifar10 the two
    differ by one query in about a hundred.) Agents need no change: they step until the episode is
    truncated, as they do at the end of a query budget.

    :param env: a nasgym env whose budget is at least what the limit allows
        (:func:`~nasgym.bench.grid.sim_time_query_cap`).
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


def execute_run(run: RunSpec, cache_dir: Path | None = None) -> tuple[dict[str, Any], History]:
    """Run one search; return its ``runs.csv`` row and its history (:mod:`~nasgym.bench.histories`).

    Nothing is written: the process that collects the outcomes writes both, so a run may execute
    on another machine (Ray).
    """
    agent = make_agent(run.agent.name, **run.agent.kwargs)
    env = make_env(run.env_id, run.search_dataset, run.env_kwargs, cache_dir, budget=run.query_cap)
    if run.protocol.sim_time_limit is not None:
        env = SimTimeLimit(env, run.protocol.sim_time_limit)
    try:
        result = agent.run(env, seed=run.seed, env_id=run.env_id)
    finally:
        env.close()
    summary = result.summary()
    if run.protocol.sim_time_limit is not None and summary["sim_time"] < run.protocol.sim_time_limit:
        raise RuntimeError(f"the run stopped at {summary['sim_time']:.0f} simulated s, before the limit")
    indices = np.array([q["index"] for q in result.queries], dtype=np.int64)
    observed = np.array([q["valid_acc"] for q in result.queries], dtype=np.float64)
    score = score_queries(report_evaluator(run.env_id, run.dataset, run.env_args, cache_dir), indices, observed)
    history = {
        "index": indices,
        "valid_acc": observed,
        "sim_time": np.array([q["sim_time"] for q in result.queries], dtype=np.float64),
        "best_valid_acc": score.best_valid_acc,
        "best_test_acc": score.best_test_acc,
    }
    protocol = run.protocol
    row = {
        **score.fields,
        "agent": run.agent.label,
        "env": run.env_id,
        "dataset": run.dataset,
        "budget": protocol.budget,
        "seed": run.seed,
        "n_queries": summary["n_queries"],
        "sim_time": summary["sim_time"],
        "wall_time": summary["wall_time"],
        "sim_time_limit": protocol.sim_time_limit,
        "fidelity": protocol.fidelity,
        "search_dataset": protocol.search_dataset,
        "history": group_reference(run.group_name),
        "env_args": run.env_args,
        "report_fidelity": protocol.report_fidelity,
        "tables_fingerprint": run.tables_fingerprint,
        "versions": versions(),
        "machine": machine(),
    }
    return row, history


@dataclass
class RunOutcome:
    """A finished run: its row and history, or the error that ended it."""

    run: RunSpec
    row: dict[str, Any] | None = None
    error: str | None = None
    history: History | None = None


def run_safely(run: RunSpec, cache_dir: Path | None) -> RunOutcome:
    """:func:`execute_run`, with any failure recorded in the outcome (the grid goes on)."""
    try:
        row, history = execute_run(run, cache_dir)
    except Exception:  # any failure of one run is recorded, and the grid goes on
        return RunOutcome(run, error=traceback.format_exc())
    return RunOutcome(run, row=row, history=history)


def single_threaded() -> None:
    """The grid is parallel across processes: one thread each, unless the user set otherwise."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def _execute_on_pool(
    runs: Sequence[RunSpec], workers: int, on_outcome: Callable[[RunOutcome], None], cache_dir: Path | None
) -> None:
    queue = deque(runs)
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold torch threads
    while queue:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=single_threaded) as pool:
            in_flight: dict[Future, RunSpec] = {}
            broken = False
            while in_flight or (queue and not broken):
                while queue and not broken and len(in_flight) < workers:
                    run = queue.popleft()
                    in_flight[pool.submit(run_safely, run, cache_dir)] = run
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    run = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        outcome = RunOutcome(run, error=f"the worker process running it died: {exc!r}")
                    on_outcome(outcome)


#: what every Ray worker runs with: one thread per run, as in the pool
_SINGLE_THREAD = {variable: "1" for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _execute_on_ray(
    runs: Sequence[RunSpec],
    workers: int | None,
    on_outcome: Callable[[RunOutcome], None],
    cache_dir: Path | None,
    address: str | None,
) -> None:
    try:
        import ray
    except ImportError:
        raise ImportError("executor='ray' needs Ray: pip install 'nasgym[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1, runtime_env={"env_vars": _SINGLE_THREAD})(run_safely)
        slots = workers or max(int(ray.cluster_resources().get("CPU", 1)), 1)
        queue = deque(runs)
        in_flight: dict[Any, RunSpec] = {}
        while queue or in_flight:
            while queue and len(in_flight) < slots:  # a few at a time: a dead worker takes only those
                run = queue.popleft()
                in_flight[remote.remote(run, cache_dir)] = run
            (done,), _ = ray.wait(list(in_flight), num_returns=1)
            run = in_flight.pop(done)
            try:
                outcome = ray.get(done)
            except ray.exceptions.RayError as exc:  # the worker died, or the task could not run
                outcome = RunOutcome(run, error=f"the Ray task running it failed: {exc!r}")
            on_outcome(outcome)
    finally:
        if started_here:
            ray.shutdown()


def execute_runs(
    runs: Sequence[RunSpec],
    workers: int | None,
    on_outcome: Callable[[RunOutcome], None],
    cache_dir: Path | None = None,
    executor: str = "process",
    ray_address: str | None = None,
) -> None:
    """Run every run, at most ``workers`` at a time, and hand each outcome over as it finishes.

    Runs go to the pool (or to Ray) one at a time as workers free up, so a worker that dies
    (killed, out of memory) takes only the runs in flight with it: they are reported as failed and
    the rest go on (in a fresh pool). With ``executor="process"``, ``workers == 1`` runs everything
    in this process.

    :param workers: parallel runs; ``None``: one per core (per CPU of the Ray cluster).
    :param executor: ``"process"`` (a local pool) or ``"ray"`` (a local Ray started here, or the
        cluster at ``ray_address``, whose workers need nasgym and the tables' data installed).
    """
    if executor == "ray":
        _execute_on_ray(runs, workers, on_outcome, cache_dir, ray_address)
        return
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for run in runs:
            on_outcome(run_safely(run, cache_dir))
        return
    _execute_on_pool(runs, workers, on_outcome, cache_dir)


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


def failure_record(outcome: RunOutcome) -> dict[str, Any]:
    """One line of ``failures.jsonl``."""
    run = outcome.run
    return {
        "agent": run.agent.label,
        "env": run.env_id,
        "dataset": run.dataset,
        **dataclasses.asdict(run.protocol),
        "env_args": run.env_args,
        "seed": run.seed,
        "error": outcome.error,
    }


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
    if runs_csv.exists() and is_legacy(runs_csv):
        raise ValueError(f"out: {runs_csv} predates the provenance columns; run nasgym bench --migrate --out {out}")
    rows = read_runs(runs_csv)
    consolidate(out, {(row["history"], int(row["seed"])) for row in rows})  # what a killed invocation left
    done = {row_key(row) for row in rows}
    pending = [run for run in runs if run.key not in done]
    # a Ray cluster without --workers runs as many at once as it has CPUs
    local = config.executor == "process" or config.workers is not None
    workers = min(config.workers or os.cpu_count() or 1, max(len(pending), 1)) if local else None
    failures: list[RunOutcome] = []
    bar = tqdm(total=len(pending), desc="nasgym bench", unit="run", disable=not progress)

    def record(outcome: RunOutcome) -> None:
        if outcome.row is not None:
            run, row = outcome.run, outcome.row
            write_pending(out, run.name, row["history"], run.seed, outcome.history)  # history first, then row
            append_run(runs_csv, row)
        else:
            failures.append(outcome)
            bar.write(f"failed: {outcome.run.describe()}")
            bar.set_postfix(failed=len(failures))
        bar.update(1)

    try:
        execute_runs(pending, workers, record, config.cache_dir, config.executor, config.ray_address)
    finally:
        bar.close()
        write_failures(out / "failures.jsonl", [failure_record(f) for f in failures])
        if runs_csv.exists():
            rows = read_runs(runs_csv)
            consolidate(out, {(row["history"], int(row["seed"])) for row in rows})
            write_runs(runs_csv, rows)
    report = BenchReport(len(pending) - len(failures), len(runs) - len(pending), failures, time.perf_counter() - start)
    record_command(
        out,
        {
            "command": config.command_line(),
            "workers": workers,
            "executor": config.executor,
            "runs_completed": report.completed,
            "runs_skipped": report.skipped,
            "runs_failed": len(failures),
            "wall_time_s": round(report.wall_time, 1),
        },
    )
    write_report(out)
    return report
