"""Search the built dqn-arch table: does each agent find the best Q-network, and at what share of the exhaustive cost?

Loads ``benchmarks/results/dqn-arch/<task>/table.csv`` (written by ``benchmarks/dqn_arch_table.py``)
into a table source of a temporary nasgym cache, exactly as ``nasgym data build`` writes one, and
runs each agent on ``gym.make("DQN-Arch-Global-v0", evaluator="tabular", dataset=<task>)`` with a
budget of 100 queries (the size of the space) for ``--seeds`` seeds. The best architecture is the
one with the highest validation return (the reward). Per run: the query at which it was first
queried (none if never), and the share of the exhaustive build's cost spent until then: the
training seconds of the distinct networks queried up to that query over those of all 100.

Writes ``search.csv`` (one row per run), ``search.json`` and ``search.md`` (per agent: runs that
found the best within 25, 50 and 100 queries; over the runs that found it, the median queries and
the median cost share with their 95% bootstrap intervals; the command, machine, versions).

Usage::

    python benchmarks/dqn_arch_search.py --task CartPole-v1 --seeds 50
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.provenance import machine, versions
from nasgym.evaluators.build import source_name
from nasgym.tables import TableStore

RESULTS = Path(__file__).resolve().parent / "results" / "dqn-arch"
BUDGET = 100
FOUND_WITHIN = (25, 50, 100)


def write_table_source(folder: Path, task: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The committed table as a table source of ``cache_dir`` (what ``nasgym data build`` writes);
    returns the validation returns and the training seconds by canonical index."""
    with (folder / "table.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    if [int(row["index"]) for row in rows] != list(range(len(rows))):
        raise ValueError(f"{folder / 'table.csv'} must hold one row per index, in index order")
    numeric = ("params", "valid_return", "test_return", "train_time", "wall_time")
    column = {name: np.array([float(row[name]) for row in rows]) for name in numeric}
    params = column["params"] / 1e6
    arrays = {
        "valid_acc": 100.0 * column["valid_return"],
        "test_acc": 100.0 * column["test_return"],
        "train_time": column["train_time"],
        "flops": params,
        "params": params,
        "latency": np.full(len(rows), np.nan),
    }
    config_hash = json.loads((folder / "build.json").read_text())["config_hash"]
    TableStore(cache_dir).write(
        "dqn-arch", task, source_name(config_hash), {k: v[:, None] for k, v in arrays.items()}, config_hash
    )
    return column["valid_return"], column["wall_time"]


def bootstrap_median(values: list[float], rng: np.random.Generator, draws: int = 10_000) -> list[float]:
    """95% percentile bootstrap interval of the median."""
    samples = rng.choice(np.asarray(values), size=(draws, len(values)))
    return np.percentile(np.median(samples, axis=1), [2.5, 97.5]).tolist()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--agents", default="random,rea,reinforce")
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args(argv)
    folder = RESULTS / args.task
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as cache_dir:
        valid_return, seconds = write_table_source(folder, args.task, Path(cache_dir))
        best = int(np.argmax(valid_return))
        for agent in args.agents.split(","):
            for seed in range(args.seeds):
                env = gym.make(
                    "DQN-Arch-Global-v0", evaluator="tabular", dataset=args.task, cache_dir=cache_dir, budget=BUDGET
                )
                queried = [q["index"] for q in make_agent(agent).run(env, seed=seed).queries]
                env.close()
                hit = queried.index(best) + 1 if best in queried else None
                distinct = set(queried[:hit] if hit is not None else queried)
                runs.append({
                    "agent": agent, "seed": seed, "queries_to_best": hit,
                    "cost_share": float(seconds[sorted(distinct)].sum() / seconds.sum()) if hit is not None else None,
                    "distinct_queried": len(distinct),
                })  # fmt: skip
    with (folder / "search.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(runs[0]))
        writer.writeheader()
        writer.writerows(runs)
    rng = np.random.default_rng(0)
    summary = {}
    for agent in args.agents.split(","):
        mine = [run for run in runs if run["agent"] == agent]
        hits = [run for run in mine if run["queries_to_best"] is not None]
        entry: dict[str, Any] = {
            f"found_within_{b}": sum(run["queries_to_best"] <= b for run in hits) for b in FOUND_WITHIN
        } | {"runs": len(mine)}
        if len(hits) >= 2:  # the runs that found it
            queries = [run["queries_to_best"] for run in hits]
            shares = [run["cost_share"] for run in hits]
            entry |= {
                "median_queries_to_best": float(np.median(queries)),
                "median_queries_ci95": bootstrap_median(queries, rng),
                "median_cost_share": float(np.median(shares)),
                "median_cost_share_ci95": bootstrap_median(shares, rng),
            }
        summary[agent] = entry
    record = {
        "command": "python benchmarks/dqn_arch_search.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "task": args.task,
        "best_arch_index": best,
        "best_valid_return": float(valid_return[best]),
        "budget": BUDGET,
        "exhaustive_seconds": float(seconds.sum()),
        "agents": summary,
        "machine": machine(),
        "versions": versions(),
    }
    (folder / "search.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        f"# Search on the dqn-arch {args.task} table ({BUDGET} queries, {args.seeds} seeds per agent)",
        "",
        f"Best architecture: index {best}, validation return {valid_return[best]:.1f}; exhaustive build "
        f"{seconds.sum():.0f} s of training on {machine()}.",
        "",
        "| agent | runs that found it within 25 / 50 / 100 queries | of those that found it: median queries to "
        "best [95% CI] | median share of the exhaustive cost [95% CI] |",
        "|---|---|---|---|",
    ]
    for agent, entry in summary.items():
        found = " / ".join(str(entry[f"found_within_{b}"]) for b in FOUND_WITHIN) + f" of {entry['runs']}"
        if "median_queries_to_best" in entry:
            q, (ql, qh) = entry["median_queries_to_best"], entry["median_queries_ci95"]
            c, (cl, ch) = entry["median_cost_share"], entry["median_cost_share_ci95"]
            lines.append(f"| {agent} | {found} | {q:.1f} [{ql:.1f}, {qh:.1f}] | {c:.1%} [{cl:.1%}, {ch:.1%}] |")
        else:
            lines.append(f"| {agent} | {found} | too few runs found it | too few runs found it |")
    (folder / "search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
