"""LaNAS ablations on NAS-Bench-201 (as in the paper): tree height, Cp, samples between refits and
initial samples, one factor at a time around LaNAS's defaults (height 5, Cp 0.1, 20 samples between
refits, 10 initial samples); and the search dynamics, how the leaves' accuracy distributions
separate as samples grow.

A run is :func:`lanas_sample_efficiency.run_one` of ``lanas[FACTOR=VALUE]`` (the Global env, the
exact leaf sampler, the env's default seed noise): it ends at ``--cap`` queries, or once it has
queried the optimum (best seed-mean validation accuracy) and made at least 300 queries. Its metrics
are the queries until it first queried the optimum (``queries_to_optimum`` of
:mod:`nasgym.bench.scoring`; a run that did not within the cap is censored and counts as more than
the cap) and the best validation accuracy (seed-mean, of the architecture it selects) after 300
queries. Per setting: the median and quartiles over ``--seeds`` seeds.

Search dynamics: LaNAS with its defaults, one run of ``--dynamics-budget`` queries per seed in
``--dynamics-seeds``; after the first 50, 200 and 1,000 of its queries a tree of LaNAS's height is
fitted on those samples (:meth:`agents.lanas.PartitionTree.fit`, as the search refits it), every
architecture of the space is pushed down it, and each leaf's architectures are summarised by the
mean and standard deviation of their true (seed-mean) validation accuracy.

Writes ``benchmarks/results/lanas/ablations.{csv,json,md}``, ``ablations.png`` (the factors) and
``ablations_dynamics.png``; the machine, the versions, the load averages and the command are
recorded.

Usage::

    nice -n 10 python benchmarks/lanas_ablations.py                 # 12 seeds, cap 2,000 (about 15 min here)
    nice -n 10 python benchmarks/lanas_ablations.py --seeds 3 --cap 500 --out /tmp/ablations.json
    python benchmarks/lanas_ablations.py --report-only              # the .md and plots from the JSON
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lanas_sample_efficiency import json_safe, optimal_indices, run_one  # noqa: E402

import nasgym  # noqa: E402, F401  (registers the env ids)
from nasgym.agents import make_agent  # noqa: E402
from nasgym.agents.lanas import ExactLeafSampler, LaNAS, PartitionTree  # noqa: E402
from nasgym.bench.envs import report_evaluator  # noqa: E402
from nasgym.bench.provenance import machine, versions  # noqa: E402

ENV_ID = "NAS-Bench-201-Global-v0"
DATASET = "cifar10"
#: LaNAS's defaults, and the values each factor takes (the others at their defaults).
DEFAULTS = {"height": 5, "cp": 0.1, "refit_interval": 20, "n_init": 10}
FACTORS = {
    "height": (1, 2, 3, 4, 5, 6, 7, 8),
    "cp": (0.0, 0.01, 0.1, 0.5, 1.0),
    "refit_interval": (5, 10, 20, 50, 100),
    "n_init": (5, 10, 50, 100),
}
LABELS = {"height": "tree height", "cp": "Cp", "refit_interval": "samples between refits", "n_init": "initial samples"}
ANYTIME = 300
DYNAMICS_POINTS = (50, 200, 1_000)
RESULTS = Path(__file__).resolve().parent / "results" / "lanas"
FIELDS = ("factor", "value", "seed", "queries_to_optimum", "n_queries", f"best_valid_acc_at_{ANYTIME}", "wall_time")


def settings() -> list[tuple[str, float]]:
    """Every (factor, value) to run; the defaults are one setting, listed under ``"default"``."""
    out = [("default", math.nan)]
    for factor, values in FACTORS.items():
        out += [(factor, value) for value in values if value != DEFAULTS[factor]]
    return out


def agent_text(factor: str, value: float) -> str:
    """``lanas[FACTOR=VALUE]`` as :func:`nasgym.bench.grid.parse_agent` reads it (``lanas``: defaults)."""
    if factor == "default":
        return "lanas"
    return f"lanas[{factor}={json.dumps(type(DEFAULTS[factor])(value))}]"


def quartiles(values: np.ndarray) -> dict[str, float]:
    """Median and quartiles as order statistics (the inverted empirical CDF: each is one run's value,
    ``inf`` where a censored run is)."""
    q1, median, q3 = np.percentile(values, [25, 50, 75], method="inverted_cdf")
    return {"q1": float(q1), "median": float(median), "q3": float(q3)}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: median and quartiles of the queries to the optimum (censored: ``inf``) and of the
    best validation accuracy after :data:`ANYTIME` queries, and how many runs were censored."""
    out = []
    for factor, value in settings():
        group = [r for r in rows if r["factor"] == factor and (factor == "default" or r["value"] == value)]
        if not group:
            continue
        queries = np.array([r["queries_to_optimum"] for r in group], dtype=np.float64)
        queries = np.nan_to_num(queries, nan=math.inf)
        acc = np.array([r[f"best_valid_acc_at_{ANYTIME}"] for r in group], dtype=np.float64)
        out.append({
            "factor": factor,
            "value": value,
            "runs": len(group),
            "censored": int(np.isinf(queries).sum()),
            "queries_to_optimum": quartiles(queries),
            f"best_valid_acc_at_{ANYTIME}": quartiles(acc),
            "median_wall_time_s": float(np.median([r["wall_time"] for r in group])),
        })  # fmt: skip
    return out


def dynamics(seeds: list[int], budget: int) -> list[dict[str, Any]]:
    """Per seed and sample count of :data:`DYNAMICS_POINTS`: each leaf's architectures (their count,
    mean and standard deviation of the true validation accuracy) under a tree fitted on that many of
    a default LaNAS run's samples, as the search fits it."""
    reporter = report_evaluator(ENV_ID, DATASET, "", None)
    true_acc = reporter.evaluate(np.arange(reporter.space.size), np.random.default_rng(0))["valid_acc"]
    features = ExactLeafSampler(reporter.space).features
    out = []
    for seed in seeds:
        env = gym.make(ENV_ID, dataset=DATASET, budget=budget)
        try:
            result = make_agent("lanas").run(env, seed=seed)
        finally:
            env.close()
        indices = np.array([q["index"] for q in result.queries], dtype=np.int64)
        observed = np.array([q["valid_acc"] for q in result.queries], dtype=np.float64) / 100.0
        for n in DYNAMICS_POINTS:
            if n > len(indices):
                continue
            tree = PartitionTree(LaNAS().height, features.shape[1])
            tree.fit(features[indices[:n]], observed[:n])
            leaf = tree.leaf_of(features)
            leaves = []
            for node in np.unique(leaf):
                acc = true_acc[leaf == node]
                leaves.append({"node": int(node), "architectures": int(acc.size), "mean": float(acc.mean()),
                               "std": float(acc.std()), "samples": int(tree.counts[node])})  # fmt: skip
            out.append({"seed": seed, "samples": n, "leaves": leaves})
    return out


def separation(leaves: list[dict[str, Any]]) -> tuple[float, ...]:
    """Of one tree's leaves: their count, the best leaf's mean, std and size, the worst leaf's mean,
    and the share of the accuracy variance over all architectures that lies between the leaves."""
    sizes = np.array([leaf["architectures"] for leaf in leaves], dtype=np.float64)
    means = np.array([leaf["mean"] for leaf in leaves])
    stds = np.array([leaf["std"] for leaf in leaves])
    grand = np.average(means, weights=sizes)
    between = np.average((means - grand) ** 2, weights=sizes)
    within = np.average(stds**2, weights=sizes)
    best = int(np.argmax(means))
    return len(leaves), means[best], stds[best], sizes[best], means.min(), between / (between + within)


def restore_censored(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as read back from JSON, a censored quantile (written as ``null``) ``inf`` again."""
    for setting in record["summary"]:
        for key in ("queries_to_optimum", f"best_valid_acc_at_{ANYTIME}"):
            setting[key] = {q: math.inf if v is None else v for q, v in setting[key].items()}
    return record


def cell(stats: dict[str, float], digits: int) -> str:
    """``median [q1, q3]``; a censored quantile reads ``censored``."""

    def text(x: float) -> str:
        return "censored" if math.isinf(x) else f"{x:.{digits}f}"

    return f"{text(stats['median'])} [{text(stats['q1'])}, {text(stats['q3'])}]"


def markdown(record: dict[str, Any], stem: str) -> str:
    """The report; ``stem``: the name of the plots beside it."""
    cap = record["cap"]
    lines = [
        f"# LaNAS ablations on NAS-Bench-201 {DATASET}",
        "",
        f"`{record['command']}`",
        "",
        f"Machine: {record['machine']}; {record['versions']}; load averages (1, 5, 15 min) before "
        f"{record['load_before']}, after {record['load_after']}; {record['wall_time_s']:.0f} s in all.",
        "",
        f"One factor at a time around LaNAS's defaults (height {DEFAULTS['height']}, Cp {DEFAULTS['cp']}, "
        f"{DEFAULTS['refit_interval']} samples between refits, {DEFAULTS['n_init']} initial samples), exact leaf "
        f"sampler, {record['seeds']} seeds (0..{record['seeds'] - 1}) per setting, runs capped at {cap:,} queries "
        f"(a run that did not query the optimum by then is censored: more than {cap:,}). Median [quartiles] of the "
        f"queries until the optimum was first queried, and of the best validation accuracy (%, seed-mean, of the "
        f"selected architecture) after {ANYTIME} queries. Random search without repeats (height 1) needs "
        f"7,813 queries in expectation.",
        "",
        "| factor | value | queries to optimum | censored | best valid acc @300 | median run time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in record["summary"]:
        value = "defaults" if s["factor"] == "default" else f"{s['value']:g}"
        factor = "all" if s["factor"] == "default" else LABELS[s["factor"]]
        lines.append(
            f"| {factor} | {value} | {cell(s['queries_to_optimum'], 0)} | {s['censored']}/{s['runs']} | "
            f"{cell(s[f'best_valid_acc_at_{ANYTIME}'], 2)} | {s['median_wall_time_s']:.1f} |"
        )
    lines += [
        "",
        f"![ablations]({stem}.png)",
        "",
        f"## Search dynamics (seeds {record['dynamics_seeds']}, defaults)",
        "",
        "A tree of height 5 fitted on the first n samples of a run; every architecture of the space pushed "
        "down it; per leaf (heap order: the leftmost is the good side of every split) the count and the mean "
        "+- std of the true validation accuracy of its architectures. Per sample count, medians over seeds of: the "
        "best leaf (highest mean accuracy), the worst leaf, and the share of the accuracy variance over the "
        "space that lies between the leaves (1: every leaf holds one accuracy; 0: the leaves do not separate):",
        "",
        "| samples | leaves | best leaf: mean (std) | its architectures | worst leaf mean | variance between leaves |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in DYNAMICS_POINTS:
        snaps = [d for d in record["dynamics"] if d["samples"] == n]
        if not snaps:
            continue
        columns = np.array([separation(snap["leaves"]) for snap in snaps])
        count, best, best_std, size, worst, between = np.median(columns, axis=0)
        lines.append(f"| {n:,} | {count:g} | {best:.2f} ({best_std:.2f}) | {size:g} | {worst:.2f} | {between:.2f} |")
    lines += ["", f"![dynamics]({stem}_dynamics.png)"]
    return "\n".join(lines) + "\n"


def plot(out: Path, record: dict[str, Any]) -> None:
    """The factors' plot (``out`` with ``.png``) and the dynamics' (``<stem>_dynamics.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cap = record["cap"]
    default = next(s for s in record["summary"] if s["factor"] == "default")
    fig, axes = plt.subplots(2, len(FACTORS), figsize=(4.2 * len(FACTORS), 7.0), squeeze=False)
    for column, factor in enumerate(FACTORS):
        group = sorted(
            [s for s in record["summary"] if s["factor"] == factor] + [{**default, "value": DEFAULTS[factor]}],
            key=lambda s: s["value"],
        )
        positions = np.arange(len(group))
        for row, (metric, ylabel) in enumerate(
            (
                ("queries_to_optimum", "queries to optimum"),
                (f"best_valid_acc_at_{ANYTIME}", f"best valid acc @{ANYTIME} (%)"),
            )
        ):
            ax = axes[row, column]
            # censored quantiles (inf) drawn at the cap
            stats = [{k: min(v, cap) if row == 0 else v for k, v in s[metric].items()} for s in group]
            median = np.array([s["median"] for s in stats])
            ax.errorbar(positions, median, yerr=[median - [s["q1"] for s in stats], [s["q3"] for s in stats] - median],
                        fmt="o-", capsize=3)  # fmt: skip
            if row == 0:
                ax.axhline(cap, color="grey", lw=0.8, ls=":", label=f"cap ({cap:,}: censored)")
                ax.set_yscale("log")
                ax.legend(fontsize=8)
            ax.set_xticks(positions, [f"{s['value']:g}" for s in group])
            ax.set_xlabel(LABELS[factor])
            ax.set_ylabel(ylabel)
    fig.suptitle(f"LaNAS ablations, NAS-Bench-201 {DATASET}: median and quartiles over {record['seeds']} seeds")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)

    seed = record["dynamics_seeds"][0]
    snaps = [d for d in record["dynamics"] if d["seed"] == seed]
    fig, axes = plt.subplots(1, len(snaps), figsize=(4.6 * len(snaps), 4.0), squeeze=False, sharey=True)
    for ax, snap in zip(axes[0], snaps, strict=True):
        leaves = snap["leaves"]
        x = np.arange(len(leaves))
        ax.errorbar(x, [leaf["mean"] for leaf in leaves], yerr=[leaf["std"] for leaf in leaves], fmt="o", capsize=3)
        for xi, leaf in zip(x, leaves, strict=True):
            ax.annotate(str(leaf["architectures"]), (xi, leaf["mean"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
        ax.set_xticks(x, [str(leaf["node"]) for leaf in leaves], fontsize=7, rotation=90)
        ax.set_xlabel("leaf (heap order; label: its architectures)")
        ax.set_title(f"after {snap['samples']:,} samples")
    axes[0, 0].set_ylabel("true valid acc of the leaf's architectures (%), mean +- std")
    fig.suptitle(f"LaNAS search dynamics, NAS-Bench-201 {DATASET}, seed {seed}")
    fig.tight_layout()
    fig.savefig(out.with_name(f"{out.stem}_dynamics.png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=12, help="seeds per setting, 0..N-1 (12)")
    parser.add_argument("--cap", type=int, default=2_000, help="queries per run at most (2,000)")
    parser.add_argument("--dynamics-seeds", type=int, default=3, help="runs of the dynamics, seeds 0..N-1 (3)")
    parser.add_argument("--dynamics-budget", type=int, default=1_000, help="queries of each dynamics run (1,000)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "ablations.json", help="JSON file (.csv, .md, .png beside)"
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md and plots from the JSON file")
    args = parser.parse_args(argv)
    if args.report_only:
        record = restore_censored(json.loads(args.out.read_text()))
        args.out.with_suffix(".md").write_text(markdown(record, args.out.stem))
        plot(args.out, record)
        return 0
    for name in ("seeds", "dynamics_seeds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.cap < ANYTIME:
        parser.error(f"--cap must be >= {ANYTIME} (the anytime point), got {args.cap}")
    if args.dynamics_budget < DYNAMICS_POINTS[0]:
        parser.error(f"--dynamics-budget must be >= {DYNAMICS_POINTS[0]}, got {args.dynamics_budget}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows = []
    with open(args.out.with_suffix(".csv"), "w", newline="") as file:  # written as the runs finish
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        for factor, value in settings():
            for seed in range(args.seeds):
                run = run_one(agent_text(factor, value), DATASET, seed, args.cap, ANYTIME)
                rows.append({"factor": factor, "value": value, "seed": seed, **{k: run[k] for k in FIELDS[3:]}})
                writer.writerow(rows[-1])
                file.flush()
            print(factor, value, f"{time.time() - started:.0f} s", flush=True)
    dynamics_seeds = list(range(args.dynamics_seeds))
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "env": ENV_ID,
        "dataset": DATASET,
        "space_size": int(report_evaluator(ENV_ID, DATASET, "", None).space.size),
        "optimal_indices": [int(i) for i in optimal_indices(report_evaluator(ENV_ID, DATASET, "", None))],
        "seeds": args.seeds,
        "cap": args.cap,
        "defaults": DEFAULTS,
        "machine": machine(),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_before": load_before,
        "summary": summarise(rows),
        "dynamics_seeds": dynamics_seeds,
        "dynamics": dynamics(dynamics_seeds, args.dynamics_budget),
        "runs": rows,
    }
    record["load_after"] = [round(x, 2) for x in os.getloadavg()]
    record["wall_time_s"] = time.time() - started
    args.out.write_text(json.dumps(json_safe(record), indent=1, allow_nan=False) + "\n")
    args.out.with_suffix(".md").write_text(markdown(record, args.out.stem))
    plot(args.out, record)
    print(markdown(record, args.out.stem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
