"""ENAS and RSPS with one shared Q-network on the dqn-arch space: does the search return the table's best network?

Each run makes ``gym.make("DQN-Arch-Global-v0", evaluator="supernet", dataset=<task>, budget=<budget>,
steps=<steps>, seed=<seed>)``: one Q-network of the widest widths, sliced for narrower ones, trained
by one Double DQN agent with the task's RL Baselines3 Zoo hyperparameters, ``steps`` environment
steps per query on the queried architecture (:class:`~nasgym.evaluators.rl.DQNSupernetEvaluator`).
The agent (``enas`` with its NAS-Bench-201 defaults, or ``rsps``) spends ``budget - candidates``
queries training the shared network and scores ``candidates`` final ones under the frozen weights;
the search returns the best of those.

Per run, against the committed table (``benchmarks/results/dqn-arch/<task>/table.csv``, every network
trained alone): whether the returned network is the table's best by validation return, its rank in
the table (1 = best), the seconds the run took (every query: training and scoring) as a share of the
exhaustive build's (the sum of the table's ``wall_time``), and the environment steps it trained as a
share of the build's (100 networks x its ``steps``); the Spearman correlation between the
candidates' scores under the shared weights and their table returns; and, after the search, every
network scored under the final shared weights (not counted in the run's seconds): the table's best
network's rank and return there, and the Spearman correlation of all 100 with the table.

Writes ``<name>.json`` (command, configuration, every run, machine, versions, load averages) and
``<name>.md`` (default name ``enas_shared``) to ``benchmarks/results/dqn-arch/<task>/``, beside the
table searches of ``search.json``.

Usage::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dqn_arch_enas.py --task CartPole-v1 --agents enas --seeds 3
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dqn_arch_enas.py --agents rsps --seeds 3 --name rsps_shared
    python benchmarks/dqn_arch_enas.py --budget 6 --candidates 2 --steps 32 --seeds 1 --out /tmp/enas  # smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from scipy import stats

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.provenance import machine, versions, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "dqn-arch"


def read_table(folder: Path) -> tuple[np.ndarray, float, int]:
    """Validation return by canonical index, the build's seconds (sum of ``wall_time``) and its
    environment steps (networks x steps) from the committed table."""
    with (folder / "table.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    if [int(row["index"]) for row in rows] != list(range(len(rows))):
        raise ValueError(f"{folder / 'table.csv'} must hold one row per index, in index order")
    valid_return = np.array([float(row["valid_return"]) for row in rows])
    seconds = sum(float(row["wall_time"]) for row in rows)
    steps = json.loads((folder / "build.json").read_text())["config"]["steps"]
    return valid_return, seconds, len(rows) * int(steps)


def run_one(agent: str, seed: int, args: argparse.Namespace, valid_return: np.ndarray) -> dict[str, Any]:
    """One search; what it returned and spent, against the table."""
    env = gym.make(
        "DQN-Arch-Global-v0", evaluator="supernet", dataset=args.task, budget=args.budget, steps=args.steps,
        seed=seed, device=args.device, num_threads=1,
    )  # fmt: skip
    start = time.perf_counter()
    result = make_agent(agent, candidates=args.candidates).run(env, seed=seed)
    wall = time.perf_counter() - start
    evaluator = env.unwrapped.evaluator
    trained_env_steps = evaluator.trained_steps
    with evaluator.frozen():  # every network under the final shared weights (not part of the search's cost)
        shared = evaluator.evaluate(np.arange(len(valid_return)))["valid_acc"] / 100
    evaluator.close()
    env.close()
    queries, first = result.queries, result.candidates_from
    selected, shared_valid_acc = result.selected()  # the best candidate under the frozen shared weights
    chosen = int(selected["index"])
    candidates = {q["index"]: q["valid_acc"] / 100 for q in queries[first:]}  # frozen weights: one score each
    order = sorted(candidates)
    rho = stats.spearmanr([candidates[i] for i in order], valid_return[order]).statistic if len(order) > 2 else None
    best = int(np.argmax(valid_return))
    rho_all = stats.spearmanr(shared, valid_return).statistic
    return {
        "agent": agent, "seed": seed, "index": chosen, "arch": selected["arch"], "found_best": chosen == best,
        "table_rank": int((valid_return > valid_return[chosen]).sum()) + 1,
        "table_valid_return": float(valid_return[chosen]), "shared_valid_return": shared_valid_acc / 100,
        "best_among_candidates": best in candidates, "distinct_candidates": len(candidates),
        "candidate_spearman": None if rho is None or not np.isfinite(rho) else float(rho),
        "best_shared_rank": int((shared > shared[best]).sum()) + 1, "best_shared_return": float(shared[best]),
        "all_spearman": float(rho_all) if np.isfinite(rho_all) else None,
        "seconds": float(sum(q["cost"] for q in queries)),
        "train_seconds": float(sum(q["cost"] for q in queries[:first])),
        "score_seconds": float(sum(q["cost"] for q in queries[first:])),
        "wall_seconds": wall, "trained_env_steps": trained_env_steps,
    }  # fmt: skip


def report(record: dict[str, Any]) -> str:
    """The markdown of ``record``: one row per run, one per agent beside the table searches."""
    exhaustive, steps = record["exhaustive_seconds"], record["exhaustive_env_steps"]
    lines = [
        f"# ENAS and RSPS with a shared Q-network on dqn-arch {record['task']}",
        "",
        f"`{record['command']}`",
        "",
        f"Budget {record['budget']} queries: {record['budget'] - record['candidates']} train the shared network "
        f"({record['steps']} environment steps each, Double DQN with the zoo's {record['task']} hyperparameters), "
        f"{record['candidates']} score final candidates under the frozen weights. The table's best network is "
        f"index {record['best_index']} (validation return {record['best_valid_return']:.1f}); its exhaustive build "
        f"took {exhaustive:.0f} s and {steps:,} environment steps. {record['machine']}; {record['versions']}; "
        f"load averages {record['load_before']} before, {record['load_after']} after.",
        "",
        "| agent | seed | returned network | table rank (1 = best) | table return | shared-weight return "
        "| best among candidates | Spearman (candidates) | table's best under the shared weights: rank, return "
        "| Spearman (all 100) | seconds | share of exhaustive seconds | share of exhaustive env steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in record["runs"]:
        rho, rho_all = (
            "n/a" if run[key] is None else f"{run[key]:.2f}" for key in ("candidate_spearman", "all_spearman")
        )
        lines.append(
            f"| {run['agent']} | {run['seed']} | {run['index']}: `{run['arch']}` | {run['table_rank']} "
            f"| {run['table_valid_return']:.1f} | {run['shared_valid_return']:.1f} "
            f"| {'yes' if run['best_among_candidates'] else 'no'} | {rho} "
            f"| {run['best_shared_rank']}, {run['best_shared_return']:.1f} | {rho_all} | {run['seconds']:.0f} "
            f"| {run['seconds'] / exhaustive:.1%} | {run['trained_env_steps'] / steps:.1%} |"
        )
    lines += [
        "",
        "Beside the searches of the table (`search.md`: each agent queries networks of the table, 100 queries):",
        "",
        "| agent | runs that returned (weight sharing) or queried (table search) the best | median share of the "
        "exhaustive seconds |",
        "|---|---|---|",
    ]
    for agent in record["agents"]:
        runs = [run for run in record["runs"] if run["agent"] == agent]
        shares = [run["seconds"] / exhaustive for run in runs]
        lines.append(
            f"| {agent} (shared Q-network) | {sum(run['found_best'] for run in runs)} of {len(runs)} "
            f"| {np.median(shares):.1%} (every run's whole cost) |"
        )
    for agent, entry in record["table_search"]["agents"].items():
        share = entry.get("median_cost_share")
        lines.append(
            f"| {agent} (table) | {entry['found_within_100']} of {entry['runs']} "
            f"| {'n/a' if share is None else f'{share:.1%}'} (runs that found it, until then) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1", help="Gymnasium task of the committed table")
    parser.add_argument("--agents", default="enas", help="weight-sharing agents, comma-separated")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. seeds - 1 per agent")
    parser.add_argument("--budget", type=int, default=200, help="queries per search (default 200)")
    parser.add_argument("--candidates", type=int, default=100, help="final candidates (default 100)")
    parser.add_argument("--steps", type=int, default=256, help="environment steps per training query (default 256)")
    parser.add_argument("--device", default="cpu", help="torch device of the shared network (default cpu)")
    parser.add_argument("--out", type=Path, default=None, help="folder of the results (default: the task's)")
    parser.add_argument("--name", default="enas_shared", help="file name of the results, without suffix")
    args = parser.parse_args(argv)
    folder = RESULTS / args.task
    valid_return, exhaustive_seconds, exhaustive_steps = read_table(folder)
    agents = [name.strip() for name in args.agents.split(",") if name.strip()]
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for agent in agents:
        for seed in range(args.seeds):
            runs.append(run_one(agent, seed, args, valid_return))
            print(json.dumps(runs[-1]), flush=True)
    best = int(np.argmax(valid_return))
    record = {
        "command": "python benchmarks/dqn_arch_enas.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "task": args.task, "agents": agents, "seeds": list(range(args.seeds)), "budget": args.budget,
        "candidates": args.candidates, "steps": args.steps, "device": args.device,
        "best_index": best, "best_valid_return": float(valid_return[best]),
        "exhaustive_seconds": exhaustive_seconds, "exhaustive_env_steps": exhaustive_steps,
        "runs": runs, "table_search": json.loads((folder / "search.json").read_text()),
        "machine": machine(), "versions": versions(),
        "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    write_results((args.out or folder) / f"{args.name}.json", record, report(record))


if __name__ == "__main__":
    main()
