"""Sample efficiency on NAS-Bench-201: how many queries each agent makes until it first queries the
global validation optimum (LaNAS's claim, against the agents its paper compares with).

A run is ``make_agent(NAME).run(gym.make("NAS-Bench-201-<Flavour>-v0", dataset=D, budget=CAP), seed=s)``
on the agent's first flavour (as ``nasgym bench`` picks it), with the env's default seed noise. The
optimum is the architecture with the best seed-mean validation accuracy of the dataset, and a run's
count is ``queries_to_optimum`` of :func:`nasgym.bench.scoring.score_queries` (the query at which it
first queried that architecture); a run that did not within ``CAP`` queries is censored (not
found). A run ends at the cap, or once it has found the optimum and made at least ``--min-queries``
(default 1,000, the longest anytime point): the queries before that are the same as in a run to the
cap, since an agent learns only from the queries it has made. An anytime point past the end of some
run of a group is not reported for that group (slow agents run with a lower ``--min-queries``). Random search without repeats needs
``(15,625 + 1) / 2 = 7,813`` queries in expectation; the ``random`` agent samples with repeats.

From the same runs: the best validation accuracy (seed-mean, of the architecture the run selects by
:class:`~nasgym.selection.Incumbent`) after 100, 300 and 1,000 queries.

Each invocation adds its runs to ``benchmarks/results/lanas/sample_efficiency.csv`` (one row per
agent, dataset and seed, with the versions and the machine; runs already there are skipped),
appends its command to ``commands.jsonl`` and rewrites ``sample_efficiency.{json,md,png}`` from
every row: per agent and dataset the median and quartiles of the queries (censored runs count as
more than any cap), how many runs were censored, and LaNAS's speedup against each agent (the
ratio of the medians, with a 95% percentile-bootstrap interval over seeds).

Usage::

    nice -n 10 python benchmarks/lanas_sample_efficiency.py --agents random,rea,local,mcts --seeds 100
    nice -n 10 python benchmarks/lanas_sample_efficiency.py --agents l2nas-plus --seeds 10 --cap 2000 \\
        --min-queries 300
    python benchmarks/lanas_sample_efficiency.py --report-only --readme README.md
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.compare import LEVEL, RESAMPLES, difference
from nasgym.bench.envs import make_env, report_evaluator
from nasgym.bench.grid import parse_agent, split_agents
from nasgym.bench.provenance import _version, machine, versions
from nasgym.bench.report import record_command
from nasgym.bench.scoring import score_queries
from nasgym.evaluators import Evaluator

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
DEFAULT_AGENTS = "lanas,random,rea,l2nas-plus,mcts,optuna:TPE,local"
SPACE_SIZE = 15_625
#: queries random search without repeats needs in expectation: the optimum's position in a random order
RANDOM_EXPECTATION = (SPACE_SIZE + 1) // 2
ANYTIME = (100, 300, 1_000)
RESULTS = Path(__file__).resolve().parent / "results" / "lanas"
RUNS_FILE = "sample_efficiency.csv"
REFERENCE_AGENT = "lanas"
README_START = "<!-- lanas-sample-efficiency:start -->"
README_END = "<!-- lanas-sample-efficiency:end -->"
FIELDS = (
    "agent", "env", "dataset", "seed", "cap", "min_queries", "queries_to_optimum", "n_queries",
    *(f"best_valid_acc_at_{n}" for n in ANYTIME), "wall_time", "versions", "machine",
)  # fmt: skip


class StopAtOptimum(gym.Wrapper):
    """Truncate the episode once an optimal architecture has been queried and at least
    ``min_queries`` queries made (the env's budget still ends it at the cap).

    :param env: a nasgym env.
    :param optimal: canonical indices of the optimal architectures.
    :param min_queries: queries to make at least, >= 1.
    """

    def __init__(self, env: gym.Env, optimal: Sequence[int], min_queries: int) -> None:
        super().__init__(env)
        self.optimal = frozenset(int(index) for index in optimal)
        self.min_queries = min_queries
        self.queries = 0
        self.found = False

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "arch" in info:  # a step that made a query
            self.queries += 1
            self.found = self.found or info["index"] in self.optimal
            truncated = truncated or (self.found and self.queries >= self.min_queries)
        return obs, reward, terminated, truncated, info


def optimal_indices(reporter: Evaluator) -> np.ndarray:
    """The architectures with the space's best seed-mean validation accuracy."""
    every = np.arange(reporter.space.size, dtype=np.int64)
    valid = reporter.evaluate(every, np.random.default_rng(0))["valid_acc"]
    return every[valid >= reporter.best_valid_acc]


def run_one(agent_text: str, dataset: str, seed: int, cap: int, min_queries: int) -> dict[str, Any]:
    """One search run and its row (see the module docstring): it ends at ``cap`` queries, or once it
    has queried the optimum and made at least ``min_queries``."""
    spec = parse_agent(agent_text)
    env_id = f"NAS-Bench-201-{spec.flavour}-v0"
    reporter = report_evaluator(env_id, dataset, "", None)
    env = StopAtOptimum(make_env(env_id, dataset, {}, None, budget=cap), optimal_indices(reporter), min_queries)
    try:
        result = make_agent(spec.name, **spec.kwargs).run(env, seed=seed, env_id=env_id)
    finally:
        env.close()
    indices = np.array([q["index"] for q in result.queries], dtype=np.int64)
    observed = np.array([q["valid_acc"] for q in result.queries], dtype=np.float64)
    score = score_queries(reporter, indices, observed)
    anytime = {
        f"best_valid_acc_at_{n}": float(score.best_valid_acc[n - 1]) if n <= len(indices) else math.nan for n in ANYTIME
    }
    return {
        "agent": spec.label,
        "env": env_id,
        "dataset": dataset,
        "seed": seed,
        "cap": cap,
        "min_queries": min_queries,
        "queries_to_optimum": score.fields["queries_to_optimum"],
        "n_queries": len(indices),
        **anytime,
        "wall_time": round(result.wall_time, 4),
        "versions": versions(),
        "machine": machine(),
    }


# --- the runs file -------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of the runs file (none where it does not exist yet)."""
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the runs file, rows in the order of :data:`DEFAULT_AGENTS`, then dataset and seed."""
    order = {name: k for k, name in enumerate(DEFAULT_AGENTS.split(","))}
    rows = sorted(rows, key=lambda r: (order.get(r["agent"], len(order)), r["agent"], r["dataset"], int(r["seed"])))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def row_key(row: dict[str, Any]) -> tuple[str, str, int]:
    """What identifies a run: agent, dataset and seed."""
    return str(row["agent"]), str(row["dataset"]), int(row["seed"])


def add_row(path: Path, row: dict[str, Any]) -> None:
    """Add (or replace) one run's row, under a lock: several invocations may run at once."""
    folder = os.open(path.parent, os.O_RDONLY)  # the lock: the results folder itself
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        rows = {row_key(old): old for old in read_rows(path)}
        rows[row_key(row)] = row
        write_rows(path, list(rows.values()))
    finally:
        os.close(folder)  # releases the lock


# --- statistics ----------------------------------------------------------------------------------
def queries_array(rows: list[dict[str, str]]) -> np.ndarray:
    """Queries to the optimum per run, ``inf`` for a censored run (more than any cap)."""
    values = np.array([float(row["queries_to_optimum"] or "nan") for row in rows], dtype=np.float64)
    return np.nan_to_num(values, nan=math.inf)


def median_ratio(baseline: np.ndarray | float, reference: np.ndarray, seed: int = 0) -> dict[str, float]:
    """``median(baseline) / median(reference)`` and its percentile-bootstrap interval (each side's
    runs resampled; a number ``baseline`` is fixed). Censored runs are ``inf``: a median among them
    is ``inf``, and so is a ratio over it (``nan`` where both medians are).

    :param baseline: queries per run of the other agent, or a fixed number of queries.
    :param reference: queries per run of the reference agent (LaNAS).
    :param seed: seed of the resampling.
    """
    rng = np.random.default_rng(seed)

    def resampled_medians(values: np.ndarray) -> np.ndarray:
        draws = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
        return np.median(values[draws], axis=1)

    with np.errstate(invalid="ignore"):  # inf / inf
        estimate = float(np.median(baseline) / np.median(reference))
        top = resampled_medians(np.asarray(baseline)) if np.ndim(baseline) else float(baseline)
        ratios = top / resampled_medians(reference)
    ratios = ratios[~np.isnan(ratios)]
    tail = (1 - LEVEL) / 2
    low, high = (np.quantile(ratios, [tail, 1 - tail], method="inverted_cdf") if len(ratios) else (math.nan,) * 2)
    return {"ratio": estimate, "low": float(low), "high": float(high)}


def summarise(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Per dataset and agent: runs, cap, censored runs, quartiles of the queries, anytime means, and
    the reference agent's speedup against each agent."""
    datasets: dict[str, Any] = {}
    for dataset in DATASETS:
        groups: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            if row["dataset"] == dataset:
                groups.setdefault(row["agent"], []).append(row)
        if not groups:
            continue
        reference = queries_array(groups[REFERENCE_AGENT]) if REFERENCE_AGENT in groups else None
        agents = {}
        for agent, group in groups.items():
            queries = queries_array(group)
            q1, median, q3 = np.quantile(queries, [0.25, 0.5, 0.75], method="inverted_cdf")
            caps = sorted({int(row["cap"]) for row in group})
            min_queries = sorted({int(row["min_queries"]) for row in group})
            entry: dict[str, Any] = {
                "runs": len(group),
                "seeds": f"{min(int(r['seed']) for r in group)}..{max(int(r['seed']) for r in group)}",
                "cap": caps[0] if len(caps) == 1 else caps,
                "min_queries": min_queries[0] if len(min_queries) == 1 else min_queries,
                "found": int(np.isfinite(queries).sum()),
                "censored": int(np.isinf(queries).sum()),
                "median": float(median),
                "q1": float(q1),
                "q3": float(q3),
                "wall_time_median_s": float(np.median([float(r["wall_time"]) for r in group])),
            }
            for n in ANYTIME:
                values = np.array([float(r[f"best_valid_acc_at_{n}"]) for r in group])
                mean = difference(values, 0.0) if len(values) > 1 and not np.isnan(values).any() else None
                entry[f"best_valid_acc_at_{n}"] = (
                    {"mean": mean.estimate, "low": mean.low, "high": mean.high} if mean else None
                )
            if reference is not None and agent != REFERENCE_AGENT:
                entry["speedup_of_lanas"] = median_ratio(queries, reference)
            agents[agent] = entry
        summary: dict[str, Any] = {"optimum_valid_acc": report_evaluator(
            "NAS-Bench-201-Global-v0", dataset, "", None).best_valid_acc, "agents": agents}  # fmt: skip
        if reference is not None:
            summary["speedup_of_lanas_over_random_expectation"] = median_ratio(float(RANDOM_EXPECTATION), reference)
        datasets[dataset] = summary
    return datasets


# --- report --------------------------------------------------------------------------------------
def queries_text(value: float) -> str:
    """A number of queries, or ``not found`` for a censored one."""
    return "not found" if math.isinf(value) else f"{value:,.0f}"


def ratio_text(ratio: dict[str, float] | None) -> str:
    """``12.3x [9.1, 15.0]`` (an infinite upper end: ``∞``)."""
    if ratio is None:
        return ""
    if math.isnan(ratio["ratio"]):
        return "n/a (both medians censored)"
    estimate = "≥ cap / median" if math.isinf(ratio["ratio"]) else f"{ratio['ratio']:.1f}x"
    high = "∞" if math.isinf(ratio["high"]) else f"{ratio['high']:.1f}"
    return f"{estimate} [{ratio['low']:.1f}, {high}]"


def table(summary: dict[str, Any]) -> str:
    """The markdown tables of every dataset."""
    lines = []
    for dataset, data in summary.items():
        lines += [
            f"**{dataset}** (optimum: {data['optimum_valid_acc']:.2f}% validation accuracy)",
            "",
            "| agent | runs | cap | censored | median queries [Q1, Q3] | LaNAS speedup [95% CI] "
            "| best valid acc @100 | @300 | @1,000 | queries at least |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for agent, entry in data["agents"].items():
            anytime = [
                f"{entry[f'best_valid_acc_at_{n}']['mean']:.2f}" if entry[f"best_valid_acc_at_{n}"] else "n/a"
                for n in ANYTIME
            ]
            lines.append(
                f"| {agent} | {entry['runs']} | {entry['cap']:,} | {entry['censored']} | "
                f"{queries_text(entry['median'])} [{queries_text(entry['q1'])}, {queries_text(entry['q3'])}] | "
                f"{ratio_text(entry.get('speedup_of_lanas'))} | {' | '.join(anytime)} | {entry['min_queries']:,} |"
            )
        if "speedup_of_lanas_over_random_expectation" in data:
            lines.append(
                f"| random without repeats (expectation) | | {SPACE_SIZE:,} | | {RANDOM_EXPECTATION:,} | "
                f"{ratio_text(data['speedup_of_lanas_over_random_expectation'])} | | | | |"
            )
        lines.append("")
    return "\n".join(lines)


def markdown(summary: dict[str, Any], commands: list[dict[str, Any]]) -> str:
    """The report: how the numbers are made, the tables, and every command that added runs."""
    first = commands[0] if commands else {}
    lines = [
        "# Queries to the global validation optimum on NAS-Bench-201",
        "",
        "Written by `benchmarks/lanas_sample_efficiency.py` from `sample_efficiency.csv`; commands, seeds,",
        "machine and versions in `commands.jsonl` (and per run in the csv).",
        "",
        f"Machine: {first.get('machine', machine())}; {first.get('versions', versions())}.",
        "",
        "A run counts the queries until it first queries the architecture with the best seed-mean",
        "validation accuracy; a run that did not within its cap is censored (counted as not found: more",
        "than any cap, so a median or quartile among censored runs reads 'not found'). LaNAS speedup: the",
        "agent's median over LaNAS's median, with a 95% percentile-bootstrap interval over seeds (an",
        "interval above 1: LaNAS needs fewer queries; its upper end is infinite where a resampled median",
        "is censored). Best valid acc @N: mean over runs of the seed-mean validation accuracy of the",
        "architecture the run selects after N queries ('n/a' where some run of the agent stopped before N:",
        "a run stops once it has found the optimum and made the queries of the last column). Agents with",
        "fewer runs, a lower cap or fewer queries at least were sized to the shared CPU (see the commands).",
        "",
        table(summary),
        "Commands:",
        "",
        *(f"- `{c['command']}` (started {c['date']})" for c in commands),
        "",
    ]
    return "\n".join(lines)


def plot(path: Path, summary: dict[str, Any], rows: list[dict[str, str]]) -> None:
    """ECDF of the queries to the optimum per dataset and agent (censored runs never reach it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = list(dict.fromkeys(agent for data in summary.values() for agent in data["agents"]))
    colours = {agent: f"C{k}" for k, agent in enumerate(agents)}  # one colour per agent in every panel
    fig, axes = plt.subplots(1, len(summary), figsize=(5.2 * len(summary), 4.6), squeeze=False)
    for ax, dataset in zip(axes[0], summary, strict=True):
        for agent in summary[dataset]["agents"]:
            queries = np.sort(queries_array([r for r in rows if r["dataset"] == dataset and r["agent"] == agent]))
            found = queries[np.isfinite(queries)]
            steps = np.arange(1, len(found) + 1) / len(queries)
            x, y = np.concatenate([[1], found]), np.concatenate([[0], steps])
            ax.step(x, y, where="post", color=colours[agent], label=agent)
        grid = np.linspace(1, SPACE_SIZE, 200)
        ax.plot(grid, grid / SPACE_SIZE, "k:", label="random without repeats (exact)")
        ax.axvline(RANDOM_EXPECTATION, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("queries")
        ax.set_title(f"NAS-Bench-201 {dataset}")
    axes[0][0].set_ylabel("fraction of runs that queried the optimum")
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_readme(readme: Path, summary: dict[str, Any]) -> None:
    """Replace the block between the README's markers with the tables."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme}: no block {README_START} ... {README_END} to write the tables into")
    block = f"{README_START}\n\n{table(summary)}\n{README_END}"
    readme.write_text(text[:start] + block + text[end + len(README_END) :])


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` (JSON has no infinity: a censored median)."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def report(out: Path, readme: Path | None = None) -> dict[str, Any]:
    """Rewrite ``sample_efficiency.{json,md,png}`` (and the README block) from the runs file.

    :param out: the results folder.
    :param readme: a README whose sample-efficiency block to rewrite (``None``: none).
    """
    rows = read_rows(out / RUNS_FILE)
    summary = summarise(rows)
    commands_file = out / "commands.jsonl"
    commands = [json.loads(line) for line in commands_file.read_text().splitlines()] if commands_file.is_file() else []
    record = {"random_expectation": RANDOM_EXPECTATION, "anytime": ANYTIME, "datasets": summary, "commands": commands}
    (out / "sample_efficiency.json").write_text(json.dumps(json_safe(record), indent=1, allow_nan=False) + "\n")
    (out / "sample_efficiency.md").write_text(markdown(summary, commands))
    if summary:
        plot(out / "sample_efficiency.png", summary, rows)
    if readme is not None:
        write_readme(readme, summary)
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default=DEFAULT_AGENTS, help=f"comma-separated agents ({DEFAULT_AGENTS})")
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"NAS-Bench-201 datasets ({','.join(DATASETS)})")
    parser.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 per agent and dataset (100)")
    parser.add_argument("--cap", type=int, default=SPACE_SIZE, help=f"query cap per run ({SPACE_SIZE})")
    parser.add_argument(
        "--min-queries",
        type=int,
        default=max(ANYTIME),
        help=f"queries a run makes at least, even after finding the optimum, for the anytime points ({max(ANYTIME)})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--report-only", action="store_true", help="rewrite the summary files from the csv only")
    parser.add_argument("--readme", type=Path, help="also rewrite this README's sample-efficiency block")
    args = parser.parse_args(argv)
    if args.seeds < 1 or not 1 <= args.min_queries <= args.cap <= SPACE_SIZE:
        parser.error(
            f"--seeds must be >= 1 and 1 <= --min-queries <= --cap <= {SPACE_SIZE}, got {args.seeds}, "
            f"{args.min_queries} and {args.cap}"
        )
    unknown = set(args.datasets.split(",")) - set(DATASETS)
    if unknown:
        parser.error(f"--datasets: {sorted(unknown)} unknown; accepted: {list(DATASETS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        agents = [parse_agent(text).label for text in split_agents(args.agents)]  # bad names fail here, not later
        path = args.out / RUNS_FILE
        done = {row_key(row) for row in read_rows(path)}
        command = shlex.join(["python", *sys.argv]) if argv is None else shlex.join(["python", __file__, *argv])
        plan = {"agents": agents, "datasets": args.datasets, "seeds": args.seeds, "cap": args.cap}
        plan |= {"min_queries": args.min_queries, "optuna": _version("optuna")}
        record_command(args.out, {"command": command, **plan})
        start = time.perf_counter()
        for agent in agents:
            for dataset in args.datasets.split(","):
                for seed in range(args.seeds):
                    if (agent, dataset, seed) in done:
                        continue
                    row = run_one(agent, dataset, seed, args.cap, args.min_queries)
                    add_row(path, row)
                    print(f"{agent} {dataset} seed {seed}: {row['queries_to_optimum']} queries "
                          f"({row['wall_time']:.1f} s)", flush=True)  # fmt: skip
        print(f"{len(agents)} agents done in {time.perf_counter() - start:.0f} s", flush=True)
    report(args.out, args.readme)


if __name__ == "__main__":
    main()
