"""Wall time of one LaNAS run to the NAS-Bench-201 optimum on this CPU (target: under 60 s).

Each run is ``make_agent("lanas").run(env, seed=s)`` with LaNAS's defaults (on NAS-Bench-201 the
exact leaf sampler) on ``gym.make("NAS-Bench-201-Global-v0", dataset=D, budget=15625)``, wrapped so
that the episode ends at the first query of an optimal architecture (best seed-mean validation
accuracy of the dataset): the time is the search's own (``SearchResult.wall_time``: no imports,
no table load), with the queries it took. A first short run is not counted (it builds the tables).
The machine, the versions and the load averages before and after are recorded.

Writes ``benchmarks/results/lanas/speed.{json,md}``.

Usage::

    python benchmarks/lanas_speed.py                   # cifar10, 10 seeds
    python benchmarks/lanas_speed.py --seeds 20 --dataset ImageNet16-120
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lanas_sample_efficiency import StopAtOptimum, optimal_indices  # noqa: E402  (the optimum and the stop)

import nasgym  # noqa: E402, F401  (registers the env ids)
from nasgym.agents import make_agent  # noqa: E402
from nasgym.bench.envs import report_evaluator  # noqa: E402
from nasgym.bench.provenance import machine, versions, write_results  # noqa: E402

ENV_ID = "NAS-Bench-201-Global-v0"
SPACE_SIZE = 15_625
TARGET_S = 60.0
RESULTS = Path(__file__).resolve().parent / "results" / "lanas"


def run_to_optimum(dataset: str, seed: int, optimal: set[int]) -> dict[str, Any]:
    """One run that stops at its first query of an optimal architecture (or after the whole space)."""
    env = StopAtOptimum(gym.make(ENV_ID, dataset=dataset, budget=SPACE_SIZE), sorted(optimal), min_queries=1)
    try:
        result = make_agent("lanas").run(env, seed=seed)
    finally:
        env.close()
    found = result.queries[-1]["index"] in optimal
    return {
        "seed": seed,
        "queries": len(result.queries),
        "found": found,
        "wall_time_s": result.wall_time,
        "sampler": result.agent_stats["sampler"],
    }


def markdown(record: dict[str, Any]) -> str:
    s = record["summary"]
    lines = [
        f"# One LaNAS run to the NAS-Bench-201 optimum ({record['dataset']})",
        "",
        f"`{record['command']}`",
        "",
        f"Machine: {record['machine']}; {record['versions']}; load averages (1, 5, 15 min) before "
        f"{record['load_before']}, after {record['load_after']}.",
        "",
        f"{s['runs']} runs (seeds 0..{s['runs'] - 1}), LaNAS defaults (sampler {record['sampler']}); "
        f"{s['found']} reached the optimum. Wall time of the search: median {s['median_wall_time_s']:.2f} s, "
        f"max {s['max_wall_time_s']:.2f} s; {s['under_target']} of {s['runs']} runs reached it in under "
        f"{TARGET_S:g} s (the target); "
        f"queries to the optimum: median {s['median_queries']:g}, max {s['max_queries']}.",
        "",
        "| seed | queries | wall time (s) |",
        "|---:|---:|---:|",
        *(f"| {r['seed']} | {r['queries']} | {r['wall_time_s']:.2f} |" for r in record["runs"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cifar10", help="NAS-Bench-201 dataset (cifar10)")
    parser.add_argument("--seeds", type=int, default=10, help="runs, seeds 0..N-1 (10)")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.json", help="JSON file to write (.md beside it)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    optimal = {int(i) for i in optimal_indices(report_evaluator(ENV_ID, args.dataset, "", None))}
    make_agent("lanas").run(gym.make(ENV_ID, dataset=args.dataset, budget=30), seed=0)  # warm-up, not counted
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for seed in range(args.seeds):
        runs.append(run_to_optimum(args.dataset, seed, optimal))
        print(json.dumps(runs[-1]), flush=True)
    walls = [r["wall_time_s"] for r in runs]
    queries = [r["queries"] for r in runs]
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "env": ENV_ID,
        "dataset": args.dataset,
        "sampler": ", ".join(sorted({r["sampler"] for r in runs})),
        "optimal_indices": sorted(optimal),
        "machine": machine(),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "target_s": TARGET_S,
        "summary": {
            "runs": len(runs),
            "found": sum(r["found"] for r in runs),
            "median_wall_time_s": statistics.median(walls),
            "max_wall_time_s": max(walls),
            "under_target": sum(r["found"] and r["wall_time_s"] < TARGET_S for r in runs),
            "median_queries": statistics.median(queries),
            "max_queries": max(queries),
        },
        "runs": runs,
    }
    write_results(args.out, record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
