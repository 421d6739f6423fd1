"""Wall time of one search run per agent on NAS-Bench-201, several runs each: median and spread.

Each run is ``make_agent(NAME).run(gym.make(ENV, dataset=..., budget=...), seed=s)`` with the agent's
defaults, timed by the run itself (``SearchResult.wall_time``: the search, not ``gym.make``) and by
this process's CPU time over the same call. A
first, short run of every agent is not counted (it imports torch and builds the tables). The agents
take turns run by run, so a load that comes and goes on a shared machine falls on all of them alike;
the load averages before and after are recorded with the machine and the versions.

Results go to ``benchmarks/results/speed/agent_speed.{json,md}``.

Usage::

    python benchmarks/agent_speed.py                       # 7 agents, 1,000 queries, 5 runs each
    python benchmarks/agent_speed.py --agents l2nas,rea --runs 9 --budget 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_nb201 import system_info  # noqa: E402  (the machine record every speed script writes)

import nasgym  # noqa: E402, F401  (registers the env ids)
from nasgym.agents import make_agent  # noqa: E402
from nasgym.bench.provenance import write_results  # noqa: E402

DEFAULT_AGENTS = "random,rea,local,reinforce,reinforce-lstm,l2nas,l2nas-plus"
RESULTS = Path(__file__).resolve().parent / "results" / "speed"
WARMUP_BUDGET = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default=DEFAULT_AGENTS, help=f"comma-separated agent names ({DEFAULT_AGENTS})")
    parser.add_argument("--budget", type=int, default=1000, help="queries per run (1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per agent, seeds 0..runs-1 (5)")
    parser.add_argument("--dataset", default="cifar10", help="NAS-Bench-201 dataset (cifar10)")
    parser.add_argument("--out", type=Path, default=RESULTS / "agent_speed.json", help="JSON file to write")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.runs < 1:
        parser.error(f"--budget and --runs must be >= 1, got {args.budget} and {args.runs}")
    return args


def env_id(agent: str) -> str:
    """The NAS-Bench-201 id of the agent's first flavour (the one ``nasgym bench`` runs it on)."""
    return f"NAS-Bench-201-{make_agent(agent).flavours[0]}-v0"


def run_once(agent: str, budget: int, dataset: str, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process) of one search run of ``budget`` queries."""
    env = gym.make(env_id(agent), dataset=dataset, budget=budget)
    try:
        cpu_start = time.process_time()
        result = make_agent(agent).run(env, seed=seed)
        cpu = time.process_time() - cpu_start
    finally:
        env.close()
    assert len(result.queries) == budget
    return result.wall_time, cpu


def summarise(times: list[float], prefix: str) -> dict:
    """Median, extremes, quartiles and every value, keys prefixed (``wall_``, ``cpu_``)."""
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    stats = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    stats |= {"q1_s": quartiles[0], "q3_s": quartiles[2], "times_s": times}
    return {prefix + key: value for key, value in stats.items()}


def markdown(record: dict) -> str:
    machine = record["machine"]
    lines = [
        f"# Wall time of one search run ({record['budget']} queries, NAS-Bench-201 {record['dataset']})",
        "",
        f"`{machine['command']}`, {machine['time']}",
        "",
        f"CPU {machine['cpu']} ({machine['cpu_affinity']} cores usable), Python {machine['python']}, "
        f"torch {record['torch']}, numpy {machine['numpy']}, nasgym {machine['nasgym']}; load average "
        f"{record['load_before']} before and {record['load_after']} after.",
        "",
        "Wall time is what a user waits; CPU time (of this process) is what the run itself costs, less",
        "sensitive to other processes on a shared machine.",
        "",
        "| agent | env | runs | wall median (s) | wall min - max | CPU median (s) | CPU min - max |",
        "|---|---|---|---|---|---|---|",
    ]
    for agent, stats in record["agents"].items():
        lines.append(
            f"| {agent} | {stats['env']} | {stats['runs']} | {stats['wall_median_s']:.2f} | "
            f"{stats['wall_min_s']:.2f} - {stats['wall_max_s']:.2f} | {stats['cpu_median_s']:.2f} | "
            f"{stats['cpu_min_s']:.2f} - {stats['cpu_max_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    import torch

    args = parse_args(argv)
    agents = [name.strip() for name in args.agents.split(",") if name.strip()]
    for agent in agents:  # not timed: imports, table build, torch's first calls
        run_once(agent, WARMUP_BUDGET, args.dataset, seed=0)
    load_before = [round(x, 2) for x in os.getloadavg()]
    wall: dict[str, list[float]] = {agent: [] for agent in agents}
    cpu: dict[str, list[float]] = {agent: [] for agent in agents}
    for seed in range(args.runs):  # agents take turns, run by run
        for agent in agents:
            wall_s, cpu_s = run_once(agent, args.budget, args.dataset, seed)
            wall[agent].append(wall_s)
            cpu[agent].append(cpu_s)
            print(f"{agent} seed {seed}: {wall_s:.2f} s wall, {cpu_s:.2f} s CPU", flush=True)
    record = {
        "budget": args.budget,
        "dataset": args.dataset,
        "torch": torch.__version__,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": system_info(),
        "agents": {
            agent: {"env": env_id(agent), "torch_threads": getattr(make_agent(agent), "torch_threads", None)}
            | {"runs": args.runs}
            | summarise(wall[agent], "wall_")
            | summarise(cpu[agent], "cpu_")
            for agent in agents
        },
    }
    write_results(args.out, record, markdown(record), indent=2)
    return record


if __name__ == "__main__":
    main()
