"""The TabNAS table in kind: a search under a resource limit with the rejection-based reward (TabNAS)
against REINFORCE with TuNAS's Abs penalty reward, with constrained random search and REA beside them.

For every RL learning rate, TabNAS (``--agent tabnas``, ``n_samples`` N) and REINFORCE with the Abs
reward ``Q + beta * |T / T0 - 1|`` for every ``beta`` run ``--seeds`` seeds of ``--budget`` queries
each on one constrained env (default: NAS-Bench-201 cifar100 with a FLOPs limit). What an RL search
finds is its final policy's most likely architecture (``policy_arch``, as the TabNAS tables report
it); random search and REA find their best feasible query. For each found architecture the script
records whether it is feasible, its resource and its quality (the seed-mean validation and test
accuracy of the table, noise-free; on FCNet, whose tables hold losses and no test split, the
validation score ``valid_acc``, minus 100 times the validation MSE, and no test column: see
:func:`quality_of`), and summarises each method: feasible share, resource mean +- std
and median, the share in the last 2% below the limit, quality; then the issue's targets for the
rejection-based reward: feasible in >= 95% of seeds, median resource in the last 2% below the limit
(where the space's granularity has an architecture there: the script lists the resource levels near
the limit), quality at least that of the best-tuned Abs reward (the Abs setting with the best mean
quality among those feasible in >= 95% of seeds; the difference of means over feasible seeds with a
95% bootstrap interval).

The default limit, 47.2 MFLOPs on NAS-Bench-201 cifar100, lies just above one of the space's 28
FLOPs levels (47.11 M: one 1x1 and one 3x3 conv edge), so the last 2% below the limit hold exactly
that level; the next level down is 43.18 M, 8.5% below. About half of the space is feasible, and
the best feasible architecture sits at the limit, below the best of the whole space
(``results/tabnas/nb201_flops.md`` lists these from the table). On this space the
2% window can hold an architecture only where the limit is within 2% above a level.

The limit is ``--limit`` or the resource of a reference architecture (``--reference-arch``: an arch
string, or ``pareto-median``, the middle point by rank of the space's Pareto front, the best
validation accuracy at each resource value kept where it beats every smaller value). Given a
reference, each setting also reports the share of seeds whose found architecture is feasible and at
least as good as the reference (``valid_acc`` >= the reference's). Parameter counts are
printed as integers (``info`` gives them in millions).

Rows are appended to the CSV as runs finish, so an interrupted measurement resumes where it
stopped (``--resume``). Results go to ``<out>/<name>.{csv,json,md}``. ``--render-only`` rewrites the
markdown of an earlier run from its CSV and JSON record (after a change of the report's wording)
without searching, and refuses where the numbers it recomputes differ from the record.

Usage::

    nice -n 10 python benchmarks/tabnas_nb201.py                      # the committed NAS-Bench-201 run
    python benchmarks/tabnas_nb201.py --env-id FFN-Global-v0 --dataset connect_4 --metric params \\
        --reference-arch 144-24 --budget 200 --name ffn_params         # another constrained space
    python benchmarks/tabnas_nb201.py --render-only --name ffn_params  # its markdown again, no search
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.bench.compare import difference
from nasgym.bench.provenance import machine, tables_fingerprint, versions
from nasgym.bench.report import markdown_header
from nasgym.constraints import resource_values

RESULTS = Path(__file__).resolve().parent / "results" / "tabnas"
#: the window below the limit in which the TabNAS targets want the found resource
WINDOW = 0.02
#: the share of seeds in which the rejection-based reward must find a feasible architecture
FEASIBLE_TARGET = 0.95
COLUMNS = (
    "method", "agent", "lr", "beta", "seed", "env", "dataset", "budget", "metric", "resource_limit",
    "found_arch", "found_index", "feasible", "resource", "found_valid_acc", "found_test_acc",
    "best_arch", "best_valid_acc", "best_test_acc", "best_resource", "n_queries", "n_feasible_queries",
    "n_rejected", "wall_time", "tables_fingerprint", "versions", "machine",
)  # fmt: skip


@dataclass(frozen=True)
class Method:
    """One setting of the table: an agent, its arguments, and the env's reward arguments.

    :param name: the row label (``tabnas``, ``abs``, ``random``, ``rea``).
    :param agent: the registered agent name.
    :param lr: the RL learning rate (NaN for random search and REA).
    :param beta: the Abs reward's beta (NaN elsewhere).
    :param agent_kwargs: keyword arguments of the agent.
    :param env_kwargs: keyword arguments the env adds (the reward).
    """

    name: str
    agent: str
    lr: float = math.nan
    beta: float = math.nan
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        parts = [self.name] + ([f"lr={self.lr:g}"] if not math.isnan(self.lr) else [])
        return " ".join(parts + ([f"beta={self.beta:g}"] if not math.isnan(self.beta) else []))

    @property
    def key(self) -> tuple[str, str, str]:
        return self.name, f"{self.lr:g}", f"{self.beta:g}"


def float_list(text: str) -> list[float]:
    """argparse type of a comma-separated list of numbers."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="NAS-Bench-201-Global-v0", help="a Global env id (NAS-Bench-201-Global-v0)")
    parser.add_argument("--dataset", default="cifar100", help="the env's dataset (cifar100)")
    parser.add_argument("--metric", default="flops", help="the constrained resource metric (flops)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument(
        "--limit", type=float, default=47.2,
        help="the resource limit, in the units of info (47.2 MFLOPs: see the module docstring)",
    )  # fmt: skip
    limit.add_argument(
        "--reference-arch", default=None,
        help="set the limit to this architecture's resource: an arch string, or 'pareto-median' (see above)",
    )  # fmt: skip
    parser.add_argument("--budget", type=int, default=1000, help="queries per run (1000)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..seeds-1 per setting (20)")
    parser.add_argument("--lrs", type=float_list, default=[0.01, 0.05, 0.1, 0.5], help="RL learning rates")
    parser.add_argument("--betas", type=float_list, default=[-10, -5, -1, -0.5, -0.1], help="Abs reward betas")
    parser.add_argument("--n-samples", type=int, default=200, help="TabNAS's samples N of P_hat(V) (200)")
    parser.add_argument("--no-baselines", action="store_true", help="skip constrained random search and REA")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results folder ({RESULTS})")
    parser.add_argument("--name", default="nb201_flops", help="file stem of the results (nb201_flops)")
    parser.add_argument("--resume", action="store_true", help="keep the rows of an earlier run, run the rest")
    parser.add_argument(
        "--render-only", action="store_true",
        help="rewrite <name>.md from <name>.csv and <name>.json of an earlier run without searching "
        "(its options are read from the command recorded there)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.budget < 1 or args.seeds < 2:
        parser.error(f"--budget must be >= 1 and --seeds >= 2, got {args.budget} and {args.seeds}")
    if args.render_only:
        given = [
            "--" + dest.replace("_", "-")
            for dest, value in vars(args).items()
            if dest not in ("render_only", "name", "out") and value != parser.get_default(dest)
        ]
        if given:
            parser.error(
                f"--render-only takes --name and --out only (the run's options come from its recorded command), "
                f"got {', '.join(given)}"
            )
    return args


@dataclass(frozen=True)
class Quality:
    """How the report names the quality ``valid_acc`` of a space.

    :param name: its name in table headers and short phrases (``valid acc``, ``valid score``).
    :param unit: ``%`` for an accuracy, else empty.
    :param noun: its name in sentences (``validation accuracy``, ``validation score``).
    :param measured: what the quality columns hold, as the report's legend says it.
    :param has_test: whether the table holds a test accuracy (then a test column follows).
    """

    name: str
    unit: str
    noun: str
    measured: str
    has_test: bool

    @property
    def column(self) -> str:
        """Its table header, with the unit where it has one."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


def quality_of(evaluator: Any) -> Quality:
    """How the report names the quality of the evaluator's space: an accuracy in percent where the
    space says ``valid_acc_is_accuracy``, else a score that its ``valid_acc_meaning`` explains
    (FCNet: minus 100 times the validation MSE); test accuracies only where the table holds one for
    some architecture (FCNet's tables have no test split).

    :param evaluator: the noise-free evaluator the report reads (``noise="mean"``).
    """
    space = evaluator.space
    test_acc = evaluator.evaluate(np.arange(space.size), np.random.default_rng(0))["test_acc"]
    has_test = bool(np.isfinite(test_acc).any())
    if space.valid_acc_is_accuracy:
        noun = "validation accuracy"
        return Quality("valid acc", "%", noun, "validation / test accuracy" if has_test else noun, has_test)
    noun = "validation score"
    measured = f"{noun} ({space.valid_acc_meaning})" + (" / test accuracy" if has_test else "")
    return Quality("valid score", "", noun, measured, has_test)


def pareto_front(column: np.ndarray, quality: np.ndarray) -> list[int]:
    """The Pareto front of (resource, quality), smallest resource first: at each resource value the
    architecture of best quality, kept where it beats every architecture with a smaller resource.

    :param column: the resource of every architecture.
    :param quality: the quality (higher is better) of every architecture.
    """
    front, best = [], -np.inf
    for level in np.unique(column):
        members = np.flatnonzero(column == level)
        top = int(members[np.nanargmax(quality[members])])
        if quality[top] > best:
            front.append(top)
            best = quality[top]
    return front


def resolve_limit(args: argparse.Namespace, report: Any) -> None:
    """Set ``args.limit`` (and ``args.reference_index``) from ``--reference-arch`` where it is given."""
    args.reference_index = None
    if args.reference_arch is None:
        return
    env = gym.make(args.env_id, dataset=args.dataset, budget=1).unwrapped
    column = resource_values(env.evaluator)[args.metric]
    if args.reference_arch == "pareto-median":
        quality = report.evaluate(np.arange(column.size), np.random.default_rng(0))["valid_acc"]
        front = pareto_front(column, quality)
        args.reference_index = front[len(front) // 2]
    else:
        args.reference_index = env.arch_index(args.reference_arch)
    args.limit = float(column[args.reference_index])


def fmt(metric: str, value: float) -> str:
    """A resource value as the tables print it: parameter counts in full, others to 4 digits."""
    return f"{value * 1e6:,.0f}" if metric == "params" else f"{value:.4g}"


def methods(args: argparse.Namespace) -> list[Method]:
    """Every setting of the table, the rejection-based reward first."""
    rl = [Method("tabnas", "tabnas", lr, agent_kwargs={"lr": lr, "n_samples": args.n_samples}) for lr in args.lrs]
    rl += [
        Method("abs", "reinforce", lr, beta, {"lr": lr}, {"reward": "abs", "reward_beta": beta})
        for lr in args.lrs
        for beta in args.betas
    ]
    if args.no_baselines:
        return rl
    return rl + [Method(name, name, agent_kwargs={"reject_infeasible": True}) for name in ("random", "rea")]


def make_env(args: argparse.Namespace, **kwargs: Any) -> gym.Env:
    return gym.make(args.env_id, dataset=args.dataset, constraint={args.metric: args.limit}, **kwargs)


def run_one(method: Method, seed: int, args: argparse.Namespace, report: Any, context: dict[str, str]) -> dict:
    """One search; the row of ``runs.csv``."""
    env = make_env(args, budget=args.budget, **method.env_kwargs)
    unwrapped = env.unwrapped
    result = make_agent(method.agent, **method.agent_kwargs).run(env, seed=seed)
    summary = result.summary()
    stats = summary["agent_stats"]
    found = stats["policy_index"] if "policy_index" in stats else unwrapped.arch_index(summary["best_arch"])
    quality = report.evaluate_one(found, np.random.default_rng(0))  # noise="mean": no draw is used
    best_resource = summary["best_resource"]
    return {
        "method": method.name, "agent": method.agent, "lr": method.lr, "beta": method.beta, "seed": seed,
        "env": args.env_id, "dataset": args.dataset, "budget": args.budget, "metric": args.metric,
        "resource_limit": args.limit, "found_arch": unwrapped.search_space.arch_string(found),
        "found_index": found, "feasible": unwrapped.is_feasible(found),
        "resource": unwrapped.resources(found)[args.metric], "found_valid_acc": quality["valid_acc"],
        "found_test_acc": quality["test_acc"], "best_arch": summary["best_arch"],
        "best_valid_acc": summary["best_valid_acc"], "best_test_acc": summary["best_test_acc"],
        "best_resource": best_resource[args.metric] if best_resource else math.nan,
        "n_queries": summary["n_queries"], "n_feasible_queries": summary["n_feasible_queries"],
        "n_rejected": stats.get("n_rejected", ""), "wall_time": summary["wall_time"], **context,
    }  # fmt: skip


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an earlier ``runs.csv``, typed as :func:`run_one` writes them."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        for key in ("lr", "beta", "resource_limit", "resource", "found_valid_acc", "found_test_acc", "best_resource"):
            row[key] = float(row[key])
        row["seed"], row["found_index"] = int(row["seed"]), int(row["found_index"])
        row["feasible"] = row["feasible"] == "True"
    return rows


def reference(args: argparse.Namespace, report: Any) -> dict[str, Any]:
    """The space's best feasible architecture and the resource levels near the limit (granularity)."""
    evaluator = make_env(args, budget=1).unwrapped.evaluator
    column = resource_values(evaluator)[args.metric]
    valid = report.evaluate(np.arange(column.size), np.random.default_rng(0))
    feasible = column <= args.limit
    best = int(np.nanargmax(np.where(feasible, valid["valid_acc"], -np.inf)))
    levels = np.unique(column[feasible])
    window = levels[levels >= (1 - WINDOW) * args.limit]
    front = pareto_front(column, valid["valid_acc"])
    ref_index = args.reference_index
    return {
        "pareto_front": [
            {
                "arch": evaluator.space.arch_string(i),
                "resource": float(column[i]),
                "valid_acc": float(valid["valid_acc"][i]),
            }
            for i in front
        ],
        "reference_arch": evaluator.space.arch_string(ref_index) if ref_index is not None else None,
        "reference_valid_acc": float(valid["valid_acc"][ref_index]) if ref_index is not None else None,
        "n_archs": int(column.size),
        "n_feasible": int(feasible.sum()),
        "best_feasible_arch": evaluator.space.arch_string(best),
        "best_feasible_resource": float(column[best]),
        "best_feasible_valid_acc": float(valid["valid_acc"][best]),
        "best_feasible_test_acc": float(valid["test_acc"][best]),
        "best_valid_acc": float(np.nanmax(valid["valid_acc"])),
        "n_levels": int(np.unique(column).size),
        "levels_below_limit": [float(v) for v in levels[-3:]],
        "levels_in_window": [float(v) for v in window],
        "archs_in_window": int(np.count_nonzero(feasible & (column >= (1 - WINDOW) * args.limit))),
    }


def summarise(rows: list[dict[str, Any]], method: Method, limit: float, ref: dict[str, Any]) -> dict[str, Any]:
    """Feasible share, resource and quality of the architectures one setting found over its seeds,
    and (given a reference architecture) the share of seeds that found one feasible and as good."""
    mine = [row for row in rows if (row["method"], f"{row['lr']:g}", f"{row['beta']:g}") == method.key]
    resource = np.array([row["resource"] for row in mine])
    feasible = np.array([row["feasible"] for row in mine], dtype=bool)
    valid = np.array([row["found_valid_acc"] for row in mine])
    test = np.array([row["found_test_acc"] for row in mine])
    in_window = feasible & (resource >= (1 - WINDOW) * limit)
    reference_valid = ref["reference_valid_acc"]
    as_good = feasible & (valid >= reference_valid) if reference_valid is not None else None
    return {
        "method": method.name, "label": method.label, "lr": method.lr, "beta": method.beta, "seeds": len(mine),
        "feasible_share": float(feasible.mean()), "resource_mean": float(resource.mean()),
        "resource_std": float(resource.std(ddof=1)), "resource_median": float(np.median(resource)),
        "window_share": float(in_window.mean()),
        "reference_share": float(as_good.mean()) if as_good is not None else None,
        "valid_acc_mean": float(valid.mean()), "valid_acc_std": float(valid.std(ddof=1)),
        "test_acc_mean": float(test.mean()),
        "feasible_valid_acc_mean": float(valid[feasible].mean()) if feasible.any() else math.nan,
        "feasible_test_acc_mean": float(test[feasible].mean()) if feasible.any() else math.nan,
        "_feasible_valid": valid[feasible].tolist(),
    }  # fmt: skip


def targets(summaries: list[dict[str, Any]], limit: float, ref: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for each rejection-based setting, against the best-tuned Abs setting."""
    eligible = [s for s in summaries if s["method"] == "abs" and s["feasible_share"] >= FEASIBLE_TARGET]
    best_abs = max(eligible, key=lambda s: s["feasible_valid_acc_mean"]) if eligible else None
    window_possible = bool(ref["levels_in_window"])
    out: dict[str, Any] = {"best_tuned_abs": best_abs["label"] if best_abs else None, "tabnas": []}
    for s in (s for s in summaries if s["method"] == "tabnas"):
        row = {
            "label": s["label"],
            "feasible_share": s["feasible_share"],
            "feasible_target_met": s["feasible_share"] >= FEASIBLE_TARGET,
            "median_in_window": (1 - WINDOW) * limit <= s["resource_median"] <= limit if window_possible else None,
        }
        if best_abs is not None and len(s["_feasible_valid"]) >= 2:
            diff = difference(np.array(s["_feasible_valid"]), np.array(best_abs["_feasible_valid"]))
            row["valid_acc_minus_best_abs"] = {"estimate": diff.estimate, "low": diff.low, "high": diff.high}
            row["quality_verdict"] = diff.verdict
        out["tabnas"].append(row)
    return out


def markdown(
    args: argparse.Namespace, summaries: list[dict[str, Any]], ref: dict, goals: dict, meta: dict, quality: Quality
) -> str:
    """The report of one run: the space, the settings' table and the targets, its quality named by ``quality``."""
    unit = args.metric
    with_reference = ref["reference_arch"] is not None
    best_test = f", test {ref['best_feasible_test_acc']:.2f}%" if quality.has_test else ""
    lines = [
        f"# {args.env_id} {args.dataset}, {unit} <= {fmt(unit, args.limit)}: rejection-based reward (TabNAS) vs Abs",
        "",
        f"Written by `{meta['command']}` on {meta['machine']} ({meta['versions']}); {meta['runs']} runs of "
        f"{args.budget} queries, {args.seeds} seeds per setting, {meta['wall_time_s']:.0f} s in all (load average "
        f"{meta['load_before'][0]:.1f} before, {meta['load_after'][0]:.1f} after).",
        "",
        f"Space: {ref['n_archs']:,} architectures, {ref['n_feasible']:,} feasible, {ref['n_levels']} distinct {unit} "
        f"values. Best feasible: `{ref['best_feasible_arch']}` ({unit} {fmt(unit, ref['best_feasible_resource'])}, "
        f"valid {ref['best_feasible_valid_acc']:.2f}{quality.unit}{best_test}); best overall valid "
        f"{ref['best_valid_acc']:.2f}{quality.unit}. Highest feasible {unit} levels: "
        f"{', '.join(fmt(unit, v) for v in ref['levels_below_limit'])}; levels in the last {WINDOW:.0%} below the "
        f"limit: {', '.join(fmt(unit, v) for v in ref['levels_in_window']) or 'none'} ({ref['archs_in_window']:,} "
        "architectures).",
        "",
        f"Pareto front ({unit}, {quality.name}; {len(ref['pareto_front'])} points): "
        + ", ".join(f"{fmt(unit, p['resource'])} {p['valid_acc']:.3f}" for p in ref["pareto_front"])
        + ".",
        "",
    ]
    if with_reference:
        lines += [
            f"Limit: the {unit} of the reference `{ref['reference_arch']}` (`--reference-arch {args.reference_arch}`, "
            f"valid {ref['reference_valid_acc']:.3f}). As good: the share of seeds whose found architecture is "
            f"feasible with {quality.noun} >= the reference's.",
            "",
        ]
    columns = ["setting", "feasible", f"{unit} mean +- std", "median", f"in last {WINDOW:.0%}"]
    columns += ["as good as the reference"] if with_reference else []
    columns += [quality.column, f"{quality.name}, feasible only"] + (["test acc (%)"] if quality.has_test else [])
    lines += [
        "Found: the final policy's most likely architecture (RL), the best feasible query (random, REA). "
        f"Quality: its seed-mean {quality.measured} from the table"
        + ("." if quality.has_test else ", which has no test split."),
        "",
        *markdown_header(columns),
    ]
    for s in summaries:
        lines.append(
            f"| {s['label']} | {s['feasible_share']:.0%} | {fmt(unit, s['resource_mean'])} +- "
            f"{fmt(unit, s['resource_std'])} | {fmt(unit, s['resource_median'])} | {s['window_share']:.0%} | "
            + (f"{s['reference_share']:.0%} | " if with_reference else "")
            + f"{s['valid_acc_mean']:.2f} +- {s['valid_acc_std']:.2f} | {s['feasible_valid_acc_mean']:.2f} |"
            + (f" {s['test_acc_mean']:.2f} |" if quality.has_test else "")
        )
    lines += ["", "## Targets of the rejection-based reward", ""]
    lines.append(f"Best-tuned Abs (best mean {quality.name} among Abs settings feasible in >= {FEASIBLE_TARGET:.0%} "
                 f"of seeds): {goals['best_tuned_abs'] or 'none is that feasible'}.")  # fmt: skip
    lines.append("")
    for row in goals["tabnas"]:
        window = {True: "yes", False: "no", None: "not possible (no level in the window)"}[row["median_in_window"]]
        verdict = "no Abs setting to compare"
        if "valid_acc_minus_best_abs" in row:
            d = row["valid_acc_minus_best_abs"]
            verdict = f"{d['estimate']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] ({row['quality_verdict']})"
        lines.append(
            f"- {row['label']}: feasible {row['feasible_share']:.0%} (target >= {FEASIBLE_TARGET:.0%}: "
            f"{'met' if row['feasible_target_met'] else 'missed'}); median in the last {WINDOW:.0%}: {window}; "
            f"{quality.name} minus best-tuned Abs (feasible seeds, 95% CI): {verdict}"
        )
    return "\n".join(lines) + "\n"


def build_report(
    args: argparse.Namespace, rows: list[dict[str, Any]], meta: dict[str, Any], report: Any
) -> tuple[dict[str, Any], str]:
    """The JSON record and the markdown report of a run's rows.

    :param args: the run's options, its limit resolved (:func:`resolve_limit`).
    :param rows: the rows of its CSV.
    :param meta: the run's command, size, wall time, load, machine and versions.
    :param report: the noise-free evaluator of the env (``noise="mean"``).
    """
    ref = reference(args, report)
    summaries = [summarise(rows, method, args.limit, ref) for method in methods(args)]
    goals = targets(summaries, args.limit, ref)
    public = [{k: v for k, v in s.items() if not k.startswith("_")} for s in summaries]
    payload = {"meta": meta, "args": {k: str(v) for k, v in vars(args).items()}, "reference": ref,
               "settings": public, "targets": goals}  # fmt: skip
    return payload, markdown(args, summaries, ref, goals, meta, quality_of(report))


def noise_free_evaluator(args: argparse.Namespace) -> Any:
    """The env's evaluator with ``noise="mean"``: the seed-mean quality the report gives."""
    return gym.make(args.env_id, dataset=args.dataset, noise="mean", budget=1).unwrapped.evaluator


def render_only(args: argparse.Namespace) -> None:
    """Rewrite ``<name>.md`` of an earlier run from its CSV and JSON record, without searching.

    :raises SystemExit: a file is missing, or the numbers recomputed from the CSV and the tables differ
        from the record (the tables or the script's statistics changed since the run: run it again).
    """
    json_path, csv_path = (args.out / f"{args.name}.{suffix}" for suffix in ("json", "csv"))
    missing = [str(path) for path in (json_path, csv_path) if not path.is_file()]
    if missing:
        raise SystemExit(f"--render-only needs the files of an earlier run; missing: {', '.join(missing)}")
    recorded = json.loads(json_path.read_text())
    run_args = parse_args(shlex.split(recorded["meta"]["command"])[2:])  # after "python <script>"
    run_args.out = args.out
    report = noise_free_evaluator(run_args)
    resolve_limit(run_args, report)
    payload, text = build_report(run_args, read_rows(csv_path), recorded["meta"], report)
    del recorded["args"]["out"]  # where the files lie, not what they hold
    payload["args"] = {key: payload["args"][key] for key in recorded["args"]}  # the options the run recorded
    changed = [key for key in recorded if key != "meta" and json.dumps(payload[key]) != json.dumps(recorded[key])]
    if changed:
        raise SystemExit(
            f"--render-only: {', '.join(changed)} recomputed from {csv_path.name} and the tables differ from "
            f"{json_path.name} (the tables or this script's record changed since that run); run the search again"
        )
    (args.out / f"{args.name}.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        render_only(args)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / f"{args.name}.csv"
    report = noise_free_evaluator(args)
    resolve_limit(args, report)
    probe_env = make_env(args, budget=1).unwrapped
    context = {
        "tables_fingerprint": tables_fingerprint(probe_env.evaluator, report),
        "versions": versions(),
        "machine": machine(),
    }
    rows = read_rows(csv_path) if args.resume and csv_path.is_file() else []
    done = {(row["method"], f"{row['lr']:g}", f"{row['beta']:g}", row["seed"]) for row in rows}
    settings = methods(args)
    load_before, start = os.getloadavg(), time.perf_counter()
    with open(csv_path, "a" if rows else "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        if not rows:
            writer.writeheader()
        for seed in range(args.seeds):  # seeds outermost: a partial run covers every setting
            for method in settings:
                if (*method.key, seed) in done:
                    continue
                row = run_one(method, seed, args, report, context)
                writer.writerow(row)
                file.flush()
                rows.append(row)
            print(f"seed {seed} done, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    meta = {
        "command": "python benchmarks/tabnas_nb201.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "runs": len(rows),
        "wall_time_s": time.perf_counter() - start,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        **context,
    }
    payload, text = build_report(args, rows, meta, report)
    (args.out / f"{args.name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
