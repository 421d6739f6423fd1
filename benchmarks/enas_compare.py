"""ENAS and RSPS against random search, REA and L2NAS-plus at equal compute: the standalone accuracy
of the architecture each returns, on NAS-Bench-201 and digits.

Every method gets the same budget of ``--seconds`` per search, counted in one notion for all: the
env's simulated time ``sim_time``, the sum of the evaluator's ``cost`` over the queries. That is

* for the standalone methods (``random``, ``rea``, ``l2nas-plus``), which query the live evaluator
  (each architecture trained from scratch, ``--epochs`` epochs, batch ``--batch-size``, training
  seed 0): the wall seconds each network's training took when it was trained, charged again for a
  repeated query and charged even when the answer comes from the result store, so the cache saves
  real time without changing what a search may spend. A search stops at the query whose
  ``sim_time`` reaches the budget (:class:`~nasgym.bench.execute.SimTimeLimit`: that query counts)
  and returns the architecture with the best validation accuracy;
* for the weight-sharing methods (``enas``, ``rsps``), which query a supernet env
  (``evaluator="supernet"``, its defaults: 50 SGD steps per query, batch 64; supernet seed = run
  seed): the wall seconds of each query (its training steps and its scoring). Their query budget is
  fixed before the search (its last queries score the final candidates under the frozen shared
  weights: the agents' own rule, ``min(100, budget // 2)``, or ``--candidates``), so it is sized
  from the mean costs of a training and a candidate query in the method's earlier searches of this
  run (before its first: a calibration run on a throwaway supernet): the largest budget whose
  training queries and candidates fit in the seconds (:func:`weight_sharing_budget`). They spend
  about the budget, not exactly it: the seconds each search spent are recorded.

Not counted for anyone: the agent's own computation (ENAS's controller, L2NAS-plus's critic and
actor), building the supernet, starting processes; ``wall_s`` records each search's whole duration.

Then each returned architecture is trained standalone with the live evaluator (same epochs and batch)
once per ``--final-seeds`` training seed (seeds the searches never saw, so the validation accuracy
that picked a standalone method's architecture is not the one reported) and its validation and test
accuracies, averaged over those trainings, are the run's result. Means over the search seeds with
95% percentile-bootstrap intervals, and differences against random search with the same intervals
(:func:`nasgym.bench.compare.difference`; "above" only where the interval excludes zero).

Trainings are kept in a result store of this script's own (``--store``), so that every recorded
cost was measured by this script on one machine (a store filled elsewhere, under another load, would
charge other seconds) and a rerun trains nothing it already holds.

Writes ``compare.json`` (command, machine, versions, load, every search and training),
``compare.md`` and ``compare.png`` to ``--out``, rewritten after each seed.

Usage::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/enas_compare.py --seconds 60 --seeds 0,1,2,3,4
    python benchmarks/enas_compare.py --seconds 30 --seeds 0 --out /tmp/enas-compare --store /tmp/s.sqlite
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.compare import difference
from nasgym.bench.execute import SimTimeLimit
from nasgym.bench.provenance import machine, versions, write_results
from nasgym.evaluators.live import LiveEvaluator
from nasgym.evaluators.supernet import SupernetEvaluator
from nasgym.spaces import get_space
from nasgym.tables.store import default_cache_dir

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "enas"
#: the env each method searches
ENV_IDS = {
    "random": "NAS-Bench-201-Global-v0",
    "rea": "NAS-Bench-201-Global-v0",
    "l2nas-plus": "NAS-Bench-201-Continuous-v0",
    "enas": "NAS-Bench-201-Global-v0",
    "rsps": "NAS-Bench-201-Global-v0",
}
#: how each weight-sharing method's queries train the supernet: ENAS its controller's architecture,
#: RSPS a uniformly drawn path per SGD step (Li & Talwalkar)
SAMPLING = {"enas": "architecture", "rsps": "uniform"}
REFERENCE = "random"
#: query budget of a standalone search, which the seconds end long before (a 3-epoch training on
#: digits takes over a second); L2NAS sizes its replay buffer by it, and L2NAS-plus's re-evaluation
#: (its last 10% of the query budget) never starts: on the deterministic live evaluator a re-query
#: would repeat the same answer
STANDALONE_QUERY_CAP = 10_000
#: queries of the calibration run: training ones (after one warm-up) and frozen ones
CALIBRATION_TRAIN, CALIBRATION_SCORE = 5, 20


def _int_list(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def _methods(text: str) -> list[str]:
    methods = [item.strip() for item in text.split(",") if item.strip()]
    unknown = sorted(set(methods) - set(ENV_IDS))
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"unknown methods {unknown}; accepted: {list(ENV_IDS)}")
    return methods


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="budget of each search, sim_time seconds")
    parser.add_argument("--seeds", type=_int_list, default=[0, 1, 2, 3, 4], help="search seeds (default 0..4)")
    parser.add_argument("--methods", type=_methods, default=list(ENV_IDS), help=f"default {','.join(ENV_IDS)}")
    parser.add_argument("--dataset", default="digits", help="live dataset (default digits)")
    parser.add_argument("--epochs", type=int, default=3, help="standalone training epochs (default 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="standalone batch size (default 128)")
    parser.add_argument("--final-seeds", type=_int_list, default=[1, 2], help="training seeds of the final trainings")
    parser.add_argument(
        "--candidates", type=int, default=None, help="weight-sharing final candidates (default: the agents' own rule)"
    )
    parser.add_argument("--device", default="auto", help="device of all training (default auto: cuda when present)")
    parser.add_argument(
        "--store", type=Path, default=default_cache_dir() / "enas-compare.sqlite", help="this script's result store"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output folder")
    args = parser.parse_args(argv)
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        parser.error(f"--seconds must be a finite number > 0, got {args.seconds}")
    if not args.seeds or not args.final_seeds:
        parser.error("--seeds and --final-seeds each need at least one seed")
    if 0 in args.final_seeds:
        parser.error("--final-seeds must not hold 0, the training seed the standalone searches select by")
    return args


def weight_sharing_budget(
    seconds: float, train_cost: float, score_cost: float, n_candidates: Callable[[int], int]
) -> int:
    """The largest query budget of a weight-sharing search whose training queries and final candidates
    fit in ``seconds``.

    :param seconds: the search's budget.
    :param train_cost: seconds of one training query (its SGD steps and its scoring).
    :param score_cost: seconds of one candidate query (scoring only).
    :param n_candidates: the agent's final candidates for a query budget (``agent.n_candidates``).
    :raises ValueError: not even one training query and one candidate fit.
    """

    def cost(budget: int) -> float:
        candidates = n_candidates(budget)
        return (budget - candidates) * train_cost + candidates * score_cost

    budget = 1
    while cost(budget + 1) <= seconds:  # cost grows with the budget: each query adds a training or a candidate
        budget += 1
    if not 1 <= n_candidates(budget) < budget:
        raise ValueError(
            f"seconds: {seconds:g} s do not fit one training query ({train_cost:.2f} s) and the final candidates "
            f"({score_cost:.3f} s each); give more seconds"
        )
    return budget


def calibrate(args: argparse.Namespace, seed: int) -> tuple[float, float]:
    """Mean seconds of a training query and of a frozen (scoring) query of a throwaway supernet, on
    uniformly drawn architectures."""
    supernet = SupernetEvaluator("nb201", args.dataset, seed=seed, device=args.device, num_threads=1)
    choices = supernet.space.sample(np.random.default_rng(seed), 1 + CALIBRATION_TRAIN + CALIBRATION_SCORE)
    indices = supernet.space.index_of(choices)
    supernet.evaluate_one(int(indices[0]))  # warm-up: first-use allocations
    train = [supernet.evaluate_one(int(i))["cost"] for i in indices[1 : 1 + CALIBRATION_TRAIN]]
    with supernet.frozen():
        score = [supernet.evaluate_one(int(i))["cost"] for i in indices[1 + CALIBRATION_TRAIN :]]
    return float(np.mean(train)), float(np.mean(score))


def query_costs(
    runs: list[dict[str, Any]], method: str, args: argparse.Namespace, seed: int
) -> tuple[float, float] | None:
    """Estimated seconds of a training and of a candidate query of a weight-sharing ``method``: their
    means over its searches so far (which ran under the load of this run), or before the first, a
    calibration run (:func:`calibrate`); ``None`` for a standalone method."""
    if method not in SAMPLING:
        return None
    earlier = [r for r in runs if r["method"] == method]
    if not earlier:
        costs = calibrate(args, seed)
        print(f"{method}: calibrated supernet query {costs[0]:.2f} s training, {costs[1]:.3f} s scoring", flush=True)
        return costs
    n_train, n_candidates = (sum(r[key] for r in earlier) for key in ("n_train", "n_candidates"))
    return sum(r["train_phase_s"] for r in earlier) / n_train, sum(r["candidates_s"] for r in earlier) / n_candidates


def search(method: str, seed: int, args: argparse.Namespace, costs: tuple[float, float] | None) -> dict[str, Any]:
    """One search of ``method`` with ``seed``; the architecture it returns and what it spent.

    :param costs: of a weight-sharing method, the estimated seconds of a training and of a candidate
        query that size its query budget (:func:`weight_sharing_budget`).
    """
    record: dict[str, Any] = {"method": method, "seed": seed}
    if method in SAMPLING:
        agent = make_agent(method, candidates=args.candidates)
        budget = weight_sharing_budget(args.seconds, *costs, agent.n_candidates)
        env = gym.make(
            ENV_IDS[method], dataset=args.dataset, budget=budget, evaluator="supernet", sampling=SAMPLING[method],
            seed=seed, device=args.device, num_threads=1,
        )  # fmt: skip
        record.update(query_budget=budget, estimated_train_query_s=costs[0], estimated_score_query_s=costs[1])
    else:
        env = gym.make(
            ENV_IDS[method], dataset=args.dataset, budget=STANDALONE_QUERY_CAP, evaluator="live", epochs=args.epochs,
            batch_size=args.batch_size, seed=0, workers=1, num_threads=1, device=args.device, progress=False,
            store=args.store,
        )  # fmt: skip
        env = SimTimeLimit(env, args.seconds)
        agent = make_agent(method)
    start = time.perf_counter()
    try:
        result = agent.run(env, seed=seed)
    finally:
        env.close()
    summary = result.summary()
    if method in SAMPLING:
        costs_of = [q["cost"] for q in result.queries]
        record.update(
            n_train=result.candidates_from,
            n_candidates=len(costs_of) - result.candidates_from,
            train_phase_s=sum(costs_of[: result.candidates_from]),
            candidates_s=sum(costs_of[result.candidates_from :]),
        )
    if method not in SAMPLING and summary["sim_time"] < args.seconds:
        raise RuntimeError(f"{method} seed {seed} stopped at {summary['sim_time']:.1f} s, before the budget")
    record.update(
        arch=summary["best_arch"],
        search_valid_acc=summary["best_valid_acc"],  # standalone seed 0, or the supernet score
        n_queries=summary["n_queries"],
        n_distinct=len({q["index"] for q in result.queries}),
        sim_s=summary["sim_time"],
        wall_s=time.perf_counter() - start,
    )
    return record


def final_accuracy(arch: str, args: argparse.Namespace) -> dict[str, Any]:
    """Validation and test accuracy of ``arch`` trained standalone once per final seed, and their means."""
    space = get_space("nb201")
    index = np.array([space.index_of(space.from_string(arch))])
    valid, test = [], []
    for seed in args.final_seeds:
        live = LiveEvaluator(
            "nb201", args.dataset, epochs=args.epochs, batch_size=args.batch_size, seed=seed, workers=1,
            num_threads=1, device=args.device, progress=False, store=args.store,
        )  # fmt: skip
        try:
            metrics = live.evaluate(index)
        finally:
            live.close()
        valid.append(float(metrics["valid_acc"][0]))
        test.append(float(metrics["test_acc"][0]))
    return {
        "final_valid": valid,
        "final_test": test,
        "valid_acc": float(np.mean(valid)),
        "test_acc": float(np.mean(test)),
    }


def summarise(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Per method: seeds, means with 95% intervals of the final accuracies and of what the searches
    spent, and the differences against random search (intervals only from 2 seeds on)."""
    summary: dict[str, Any] = {}
    by_method = {m: [r for r in runs if r["method"] == m] for m in methods}
    for method, rows in by_method.items():
        if not rows:
            continue
        entry: dict[str, Any] = {"n_seeds": len(rows)}
        for key in ("valid_acc", "test_acc", "sim_s", "wall_s", "n_queries"):
            values = np.array([r[key] for r in rows], dtype=np.float64)
            entry[key] = float(values.mean())
            if len(rows) >= 2:
                ci = difference(values, 0.0)
                entry[f"{key}_ci95"] = [ci.low, ci.high]
        reference = by_method.get(REFERENCE, [])
        if method != REFERENCE and len(rows) >= 2 and len(reference) >= 2:
            for key in ("valid_acc", "test_acc"):
                diff = difference(np.array([r[key] for r in rows]), np.array([r[key] for r in reference]))
                entry[f"{key}_vs_{REFERENCE}"] = {
                    "estimate": diff.estimate, "ci95": [diff.low, diff.high], "verdict": diff.verdict
                }  # fmt: skip
        summary[method] = entry
    return summary


def _mean_ci(entry: dict[str, Any], key: str, digits: int = 1) -> str:
    text = f"{entry[key]:.{digits}f}"
    if f"{key}_ci95" in entry:
        low, high = entry[f"{key}_ci95"]
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def _versus(entry: dict[str, Any], key: str) -> str:
    diff = entry.get(f"{key}_vs_{REFERENCE}")
    if diff is None:  # fewer than 2 seeds on a side
        return "-"
    low, high = diff["ci95"]
    return f"{diff['estimate']:+.1f} [{low:+.1f}, {high:+.1f}] {diff['verdict']}"


def markdown(results: dict[str, Any]) -> str:
    config = results["config"]
    candidates = "min(100, half the query budget) final candidates (the agents' rule)"
    if config["candidates"] is not None:
        candidates = f"{config['candidates']} final candidates"
    lines = [
        "# ENAS and RSPS against standalone search at equal compute",
        "",
        f"`{results['command']}` on {results['machine']} ({results['versions']}); load average "
        f"{results['load_start']} at the start, {results['load_end']} at the end.",
        "",
        f"NAS-Bench-201 on {config['dataset']}; every search spends {config['seconds']:g} s of simulated time "
        "(the evaluator's cost per query: the training seconds of each standalone network, the seconds of each "
        f"supernet query). Standalone searches train each query {config['epochs']} epochs (batch "
        f"{config['batch_size']}, training seed 0); weight-sharing searches train a supernet (50 SGD steps per "
        f"query, batch 64), then score {candidates} under the frozen weights. The returned architecture is "
        f"trained standalone with training seeds {config['final_seeds']} ({config['epochs']} epochs); its "
        "validation and test accuracy (%) are the means of those trainings. Means over the search seeds with "
        '95% percentile-bootstrap intervals; differences against random search, "above" / "below" only where '
        "the interval excludes zero.",
        "",
        "| method | seeds | test acc [95% CI] | test vs random | valid acc [95% CI] | valid vs random "
        "| spent s [95% CI] | wall s | queries |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, entry in results["summary"].items():
        versus = ("reference", "reference") if method == REFERENCE else (
            _versus(entry, "test_acc"), _versus(entry, "valid_acc"))  # fmt: skip
        lines.append(
            f"| {method} | {entry['n_seeds']} | {_mean_ci(entry, 'test_acc')} | {versus[0]} | "
            f"{_mean_ci(entry, 'valid_acc')} | {versus[1]} | {_mean_ci(entry, 'sim_s')} | {entry['wall_s']:.0f} | "
            f"{entry['n_queries']:.0f} |"
        )
    lines += [
        "",
        "Each search: seed, returned architecture, what the search saw of it (standalone: its seed-0 "
        "validation accuracy; weight sharing: its supernet score), queries, simulated and wall seconds, and the "
        "final standalone accuracies.",
        "",
        "| method | seed | arch | search saw | queries (candidates) | spent s | wall s | valid acc | test acc |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        arch = run["arch"].replace("|", "\\|")  # a pipe inside a table cell must be escaped
        queries = f"{run['n_queries']} ({run['n_candidates']})" if "n_candidates" in run else f"{run['n_queries']}"
        lines.append(
            f"| {run['method']} | {run['seed']} | `{arch}` | {run['search_valid_acc']:.1f} | {queries} | "
            f"{run['sim_s']:.1f} | {run['wall_s']:.0f} | {run['valid_acc']:.1f} | {run['test_acc']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for position, (method, entry) in enumerate(results["summary"].items()):
        tests = [r["test_acc"] for r in results["runs"] if r["method"] == method]
        ax.scatter(np.full(len(tests), position) + 0.12, tests, s=14, alpha=0.6, color="grey")
        low, high = entry.get("test_acc_ci95", (entry["test_acc"], entry["test_acc"]))
        ax.errorbar(position, entry["test_acc"], yerr=[[entry["test_acc"] - low], [high - entry["test_acc"]]],
                    marker="o", capsize=4, color="C0")  # fmt: skip
    ax.set_xticks(range(len(results["summary"])), list(results["summary"]))
    ax.set_ylabel("standalone test accuracy (%) of the returned arch")
    config = results["config"]
    ax.set_title(f"NAS-Bench-201 on {config['dataset']}, {config['seconds']:g} s per search", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # one thread: on a shared CPU more threads only contend
    results: dict[str, Any] = {
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "config": {
            "seconds": args.seconds,
            "seeds": args.seeds,
            "methods": args.methods,
            "dataset": args.dataset,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "final_seeds": args.final_seeds,
            "candidates": args.candidates,
            "device": args.device,
            "budget_notion": "sim_time",
        },  # fmt: skip
        "runs": [],
    }
    for seed in args.seeds:
        for method in args.methods:
            run = search(method, seed, args, query_costs(results["runs"], method, args, seed))
            run.update(final_accuracy(run["arch"], args))
            results["runs"].append(run)
            print(
                f"{method} seed {seed}: {run['arch']} after {run['n_queries']} queries, {run['sim_s']:.1f} s "
                f"spent ({run['wall_s']:.0f} s wall): valid {run['valid_acc']:.1f}, test {run['test_acc']:.1f}",
                flush=True,
            )
        results["summary"] = summarise(results["runs"], args.methods)
        results["load_end"] = [round(x, 2) for x in os.getloadavg()]
        write_results(args.out / "compare.json", results, markdown(results))
        plot(results, args.out / "compare.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
