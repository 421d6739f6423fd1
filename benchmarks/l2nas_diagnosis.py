"""Why faithful L2NAS stays below REA on NAS-Bench-201, measured (``agents/l2nas_plus.py`` says what
L2NAS-plus changes because of it).

1. Repeats and the best architecture queried, from the committed grid's histories
   (``benchmarks/results/nb201``, no new runs): per agent (``l2nas``, ``l2nas-plus``, ``rea``,
   ``random``), dataset and budget, the fraction of a run's queries that repeat an architecture it
   had already queried (over the whole run, and over its first 90%, before L2NAS-plus spends the
   rest re-querying on purpose), and the seed-mean validation accuracy of the best architecture the
   run ever queried (what a perfect selection would return). Means over the seeds with 95%
   bootstrap intervals (:func:`nasgym.bench.compare.difference`), and each agent minus REA.
2. How well the critic ranks architectures (new runs): ``l2nas`` and ``l2nas-plus`` search
   ``NAS-Bench-201-Continuous-v0`` (cifar10, ``--budget`` queries) with seeds ``0..--seeds-1``; at
   the end the critic scores ``--probe`` random architectures in the search's final state, each
   given as the input that critic was trained on (L2NAS: a uniform ``alpha`` in [-1, 1]^30, whose
   argmax is the architecture; L2NAS-plus: the architecture's vertex), and Spearman's rho between
   the scores and the architectures' seed-mean validation accuracy is taken; mean over seeds with a
   95% bootstrap interval.

Results go to ``benchmarks/results/l2nas/diagnosis.{json,md}`` with the command, versions and
machine (:mod:`nasgym.bench.provenance`).

Usage::

    nice -n 10 python benchmarks/l2nas_diagnosis.py                 # a few minutes on 2 cores
    python benchmarks/l2nas_diagnosis.py --seeds 2 --budget 100 --out-dir /tmp/diagnosis
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.compare import Difference, difference
from nasgym.bench.histories import load_histories
from nasgym.bench.provenance import machine, versions
from nasgym.bench.runs import dataset_position, read_runs

REPO = Path(__file__).resolve().parent.parent
GRID = REPO / "benchmarks" / "results" / "nb201"
RESULTS_DIR = REPO / "benchmarks" / "results" / "l2nas"
AGENTS = ("l2nas", "l2nas-plus", "rea", "random")
CRITIC_AGENTS = ("l2nas", "l2nas-plus")
BASELINE = "rea"
#: the share of the budget before L2NAS-plus starts re-querying its leaders (its ``reevaluate=0.1``)
EXPLORATION_SHARE = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=Path, default=GRID, help="the bench folder whose histories part 1 reads")
    parser.add_argument("--seeds", type=int, default=10, help="searches per agent in part 2, seeds 0..N-1")
    parser.add_argument("--budget", type=int, default=500, help="queries per search in part 2")
    parser.add_argument("--probe", type=int, default=1000, help="random architectures the critic scores")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and markdown go")
    args = parser.parse_args(argv)
    for name in ("seeds", "budget", "probe"):
        if getattr(args, name) < 2:
            parser.error(f"--{name} must be >= 2, got {getattr(args, name)}")
    return args


def interval(values: np.ndarray | list[float], minus: np.ndarray | float = 0.0) -> dict[str, float]:
    """Mean of ``values`` (minus ``minus``) and its 95% bootstrap interval over seeds."""
    found: Difference = difference(np.asarray(values, dtype=np.float64), minus)
    return {"mean": found.estimate, "low": found.low, "high": found.high}


def seed_mean_accuracy(dataset: str) -> np.ndarray:
    """Seed-mean 200-epoch validation accuracy of every NAS-Bench-201 architecture on ``dataset``."""
    evaluator = gym.make("NAS-Bench-201-Global-v0", dataset=dataset, noise="mean").unwrapped.evaluator
    return evaluator.evaluate(np.arange(evaluator.space.size), np.random.default_rng(0))["valid_acc"]


def grid_statistics(grid: Path) -> list[dict[str, Any]]:
    """Part 1: repeats and best queried architecture per agent, dataset and budget."""
    rows = [
        row
        for row in read_runs(grid / "runs.csv")
        if row["agent"] in AGENTS and row["budget"] and not row["sim_time_limit"] and not row["env_args"]
    ]
    histories = load_histories(grid)
    accuracy = {dataset: seed_mean_accuracy(dataset) for dataset in dict.fromkeys(row["dataset"] for row in rows)}
    per_cell: dict[tuple[str, int, str], dict[str, list[float]]] = {}
    for row in rows:
        index = histories[row["history"], int(row["seed"])]["index"]
        explored = index[: int(len(index) * EXPLORATION_SHARE)]
        cell = per_cell.setdefault((row["dataset"], int(row["budget"]), row["agent"]), {})
        cell.setdefault("repeat", []).append(1 - len(np.unique(index)) / len(index))
        cell.setdefault("repeat_explore", []).append(1 - len(np.unique(explored)) / len(explored))
        cell.setdefault("best_queried", []).append(float(accuracy[row["dataset"]][index].max()))
    found = []
    order = {agent: position for position, agent in enumerate(AGENTS)}
    cells = sorted(per_cell.items(), key=lambda item: (item[0][1], dataset_position(item[0][0]), order[item[0][2]]))
    for (dataset, budget, agent), values in cells:
        baseline = per_cell[dataset, budget, BASELINE]["best_queried"]
        found.append(
            {
                "dataset": dataset,
                "budget": budget,
                "agent": agent,
                "seeds": len(values["repeat"]),
                "repeat_fraction": interval(values["repeat"]),
                "repeat_fraction_first_90_percent": interval(values["repeat_explore"]),
                "best_queried_valid_acc": interval(values["best_queried"]),
                "best_queried_minus_rea": interval(values["best_queried"], np.asarray(baseline)),
            }
        )
    return found


class FinalObservation(gym.Wrapper):
    """Keeps the last observation the search saw: the critic is probed in the final state."""

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        self.observation, info = self.env.reset(**kwargs)
        return self.observation, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.observation, *rest = self.env.step(action)
        return (self.observation, *rest)


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties sharing their mean rank (as Spearman's rho needs)."""
    order = np.empty(len(values))
    order[np.argsort(values, kind="stable")] = np.arange(len(values))
    _, tie_group = np.unique(values, return_inverse=True)
    return (np.bincount(tie_group, order) / np.bincount(tie_group))[tie_group]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def critic_ranking(agent_name: str, seed: int, budget: int, probe: int, accuracy: np.ndarray) -> float:
    """Part 2: Spearman's rho of the critic's scores and the true accuracies after one search."""
    import torch

    env = FinalObservation(gym.make("NAS-Bench-201-Continuous-v0", dataset="cifar10", budget=budget))
    agent = make_agent(agent_name)
    agent.run(env, seed=seed)
    alphas = np.random.default_rng(10_000 + seed).uniform(-1.0, 1.0, (probe, *env.action_space.shape))
    archs = np.array([env.unwrapped.decode(alpha) for alpha in alphas])
    if agent_name == "l2nas-plus":  # its critic is trained on vertices (``snap``)
        alphas = np.stack([env.unwrapped.vertex(int(arch)) for arch in archs])
    state = torch.from_numpy(np.asarray(env.observation, np.float32).reshape(1, -1)).expand(probe, -1)
    inputs = torch.from_numpy(alphas.reshape(probe, -1).astype(np.float32))
    with torch.no_grad():
        scores = agent.critic(torch.cat([state, inputs], dim=1)).squeeze(1).numpy()
    return spearman(scores, accuracy[archs])


def markdown(report: dict[str, Any]) -> str:
    def text(found: dict[str, float], scale: float = 1.0, digits: int = 2) -> str:
        mean, low, high = (found[key] * scale for key in ("mean", "low", "high"))
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    lines = [
        "# Why faithful L2NAS stays below REA on NAS-Bench-201",
        "",
        f"`{report['command']}`, {report['date']}; {report['machine']}; {report['versions']}",
        "",
        "## 1. Repeats and the best architecture queried (committed grid `benchmarks/results/nb201`)",
        "",
        "Mean over seeds [95% bootstrap interval]. Repeats: share of a run's queries (%) that repeat an "
        "architecture it had already queried, over the whole run and over its first 90% (L2NAS-plus spends "
        "the last 10% re-querying its leaders on purpose). Best queried: seed-mean 200-epoch validation "
        "accuracy (%) of the best architecture the run ever queried, and that minus REA's.",
        "",
        "| dataset | queries | agent | seeds | repeats (%) | repeats, first 90% (%) | best queried | minus REA |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cell in report["grid"]:
        minus = "" if cell["agent"] == BASELINE else text(cell["best_queried_minus_rea"])
        lines.append(
            f"| {cell['dataset']} | {cell['budget']} | {cell['agent']} | {cell['seeds']} | "
            f"{text(cell['repeat_fraction'], 100, 1)} | {text(cell['repeat_fraction_first_90_percent'], 100, 1)} | "
            f"{text(cell['best_queried_valid_acc'])} | {minus} |"
        )
    critic = report["critic"]
    lines += [
        "",
        f"## 2. The critic's ranking after a search (NAS-Bench-201-Continuous-v0, cifar10, {critic['budget']} queries)",
        "",
        f"Spearman's rho between the critic's scores of {critic['probe']} random architectures in the search's "
        "final state (L2NAS: scored at a uniform alpha whose argmax is the architecture; L2NAS-plus: at its "
        "vertex) and their seed-mean validation accuracy; mean over seeds [95% bootstrap interval].",
        "",
        "| agent | seeds | Spearman rho | per seed |",
        "|---|---|---|---|",
    ]
    for agent, found in critic["agents"].items():
        per_seed = ", ".join(f"{rho:.2f}" for rho in found["per_seed"])
        lines.append(f"| {agent} | {len(found['per_seed'])} | {text(found['spearman_rho'])} | {per_seed} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    accuracy = seed_mean_accuracy("cifar10")
    critic: dict[str, Any] = {"budget": args.budget, "probe": args.probe, "agents": {}}
    for agent in CRITIC_AGENTS:
        rhos = [critic_ranking(agent, seed, args.budget, args.probe, accuracy) for seed in range(args.seeds)]
        critic["agents"][agent] = {"per_seed": rhos, "spearman_rho": interval(rhos)}
        print(f"{agent}: Spearman rho per seed {np.round(rhos, 3).tolist()}", flush=True)
    report = {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "grid": grid_statistics(args.grid),
        "critic": critic,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "diagnosis.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    text = markdown(report)
    (args.out_dir / "diagnosis.md").write_text(text)
    print(text)
    return report


if __name__ == "__main__":
    main()
