"""LaNAS's two leaf samplers on NAS-Bench-201: does the large-space mode (discrete hit-and-run over
each region's architectures, the sampler of spaces too large to enumerate) find what the exact
sampler (uniform among the region's unqueried architectures) finds?

Each run is ``LaNAS(sampler=MODE).run(gym.make("NAS-Bench-201-Global-v0", dataset=D, budget=B),
seed=s)`` with LaNAS's defaults otherwise, for both modes on the same seeds. Per run: the
seed-mean validation accuracy of the architecture selected after each of ``--at`` queries
(:func:`nasgym.bench.scoring.score_queries`), the query at which the global optimum was first
queried, the sampler's statistics (fallbacks, regions given up) and the wall time. Per query
count: the mean of each mode and the difference hit-and-run minus exact with a 95% percentile
bootstrap interval over seeds (:func:`nasgym.bench.compare.difference`).

Writes ``benchmarks/results/lanas/modes.{json,md}`` with the command, the machine, the versions
and the load averages before and after.

Usage::

    nice -n 10 python benchmarks/lanas_modes.py                  # cifar10, 10 seeds, 1,000 queries
    nice -n 10 python benchmarks/lanas_modes.py --seeds 20 --dataset cifar100
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents.lanas import LaNAS
from nasgym.bench.compare import difference
from nasgym.bench.envs import report_evaluator
from nasgym.bench.provenance import machine, versions, write_results
from nasgym.bench.scoring import score_queries

ENV_ID = "NAS-Bench-201-Global-v0"
MODES = ("exact", "hit-and-run")
RESULTS = Path(__file__).resolve().parent / "results" / "lanas"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cifar10", help="NAS-Bench-201 dataset (cifar10)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per mode (10)")
    parser.add_argument("--at", default="300,1000", help="query counts to compare at (300,1000); the last: budget")
    parser.add_argument("--out", type=Path, default=RESULTS / "modes.json", help="JSON file to write (.md beside it)")
    args = parser.parse_args(argv)
    try:
        args.at = sorted({int(n) for n in args.at.split(",")})
    except ValueError:
        parser.error(f"--at must be comma-separated integers, got {args.at!r}")
    if args.seeds < 2 or args.at[0] < 1:
        parser.error(f"--seeds must be >= 2 (an interval needs two) and --at >= 1, got {args.seeds} and {args.at}")
    return args


def run_once(mode: str, dataset: str, budget: int, seed: int, at: list[int]) -> dict[str, Any]:
    """One LaNAS run of ``budget`` queries in ``mode``: what :func:`main` records of it."""
    env = gym.make(ENV_ID, dataset=dataset, budget=budget)
    try:
        result = LaNAS(sampler=mode).run(env, seed=seed)
    finally:
        env.close()
    indices = np.array([q["index"] for q in result.queries], dtype=np.int64)
    observed = np.array([q["valid_acc"] for q in result.queries], dtype=np.float64)
    score = score_queries(report_evaluator(ENV_ID, dataset, "", None), indices, observed)
    found = score.fields["queries_to_optimum"]
    return {
        "mode": mode,
        "seed": seed,
        **{f"best_valid_acc_at_{n}": float(score.best_valid_acc[n - 1]) for n in at},
        "queries_to_optimum": found if np.isfinite(found) else None,  # None: not within the budget
        "agent_stats": result.agent_stats,
        "wall_time_s": result.wall_time,
    }


def summarise(runs: list[dict[str, Any]], at: list[int]) -> dict[str, Any]:
    """Per query count, each mode's mean and the difference hit-and-run - exact (95% interval);
    per mode, how many runs found the optimum and their median query, and the median wall time."""
    by_mode = {mode: [r for r in runs if r["mode"] == mode] for mode in MODES}
    comparison = {}
    for n in at:
        values = {mode: np.array([r[f"best_valid_acc_at_{n}"] for r in by_mode[mode]]) for mode in MODES}
        diff = difference(values["hit-and-run"], values["exact"])
        comparison[str(n)] = {
            **{f"mean_{mode}": float(values[mode].mean()) for mode in MODES},
            "difference": diff.estimate,
            "ci95": [diff.low, diff.high],
        }
    modes = {}
    for mode, mode_runs in by_mode.items():
        found = [r["queries_to_optimum"] for r in mode_runs if r["queries_to_optimum"] is not None]
        modes[mode] = {
            "runs": len(mode_runs),
            "found_optimum": len(found),
            "median_queries_to_optimum_of_found": statistics.median(found) if found else None,
            "median_wall_time_s": statistics.median(r["wall_time_s"] for r in mode_runs),
            "mean_fallbacks": statistics.mean(r["agent_stats"]["fallbacks"] for r in mode_runs),
        }
    return {"comparison": comparison, "modes": modes}


def markdown(record: dict[str, Any]) -> str:
    at = record["at"]
    lines = [
        f"# LaNAS leaf samplers on NAS-Bench-201 ({record['dataset']}): exact vs hit-and-run",
        "",
        f"`{record['command']}`",
        "",
        f"{record['seeds']} seeds per mode, {at[-1]} queries per run, LaNAS defaults otherwise. Machine: "
        f"{record['machine']}; {record['versions']}; load averages (1, 5, 15 min) before "
        f"{record['load_before']}, after {record['load_after']}.",
        "",
        "Best validation accuracy (seed-mean, %) of the selected architecture; difference hit-and-run - exact "
        "with a 95% bootstrap interval over seeds:",
        "",
        "| queries | exact | hit-and-run | difference [95% CI] |",
        "|---:|---:|---:|---|",
    ]
    for n in at:
        row = record["summary"]["comparison"][str(n)]
        low, high = row["ci95"]
        lines.append(
            f"| {n} | {row['mean_exact']:.3f} | {row['mean_hit-and-run']:.3f} | "
            f"{row['difference']:+.3f} [{low:+.3f}, {high:+.3f}] |"
        )
    lines += [
        "",
        f"| mode | runs that queried the optimum within {at[-1]} | median query (of those) | "
        "mean fallbacks | median wall time (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode, row in record["summary"]["modes"].items():
        median = row["median_queries_to_optimum_of_found"]
        lines.append(
            f"| {mode} | {row['found_optimum']} / {row['runs']} | {'-' if median is None else f'{median:g}'} | "
            f"{row['mean_fallbacks']:.1f} | {row['median_wall_time_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for seed in range(args.seeds):
        for mode in MODES:  # modes in turns: a load that comes and goes falls on both
            runs.append(run_once(mode, args.dataset, args.at[-1], seed, args.at))
            print(json.dumps(runs[-1]), flush=True)
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "env": ENV_ID,
        "dataset": args.dataset,
        "seeds": args.seeds,
        "at": args.at,
        "machine": machine(),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "summary": summarise(runs, args.at),
        "runs": runs,
    }
    write_results(args.out, record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
