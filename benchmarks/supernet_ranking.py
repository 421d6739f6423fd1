"""Does weight sharing rank NAS-Bench-201 architectures? Supernet scores against standalone training.

For ``--archs`` architectures drawn uniformly without replacement (seed 0):

1. standalone accuracy: each architecture trained from scratch by the live evaluator on
   ``--dataset`` for ``--epochs`` epochs (its validation accuracy; results come from and go to the
   live result store, so a rerun trains nothing it already holds);
2. supernet scores: a :class:`~nasgym.evaluators.supernet.SupernetEvaluator` trained on uniformly
   sampled paths (random search with parameter sharing), and at each of ``--steps`` (cumulative
   SGD steps) every architecture scored under the shared weights (validation accuracy on the
   fixed validation subset), for each of ``--supernet-seeds``;
3. Kendall tau and Spearman rho between the two, with 95% bootstrap intervals over the
   architectures, and the overlap of the two top-10 sets.

Writes ``ranking.json`` (command, machine, versions, load, timings, every score), ``ranking.md``
and ``ranking.png`` to ``--out``.

Usage::

    nice -n 10 python benchmarks/supernet_ranking.py            # about 30 minutes on a loaded 2-core CPU
    python benchmarks/supernet_ranking.py --archs 20 --steps 20,40 --epochs 1 --out /tmp/ranking  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from nasgym.bench.provenance import machine, versions
from nasgym.evaluators.live import LiveEvaluator
from nasgym.evaluators.supernet import SupernetEvaluator
from nasgym.spaces import get_space

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "enas"
TOP = 10
BOOTSTRAP = 2000


def _int_list(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=200, help="architectures compared (default 200)")
    parser.add_argument("--dataset", default="digits", help="live dataset (default digits)")
    parser.add_argument("--epochs", type=int, default=3, help="standalone training epochs (default 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="standalone batch size (default 128)")
    parser.add_argument(
        "--steps", type=_int_list, default=[250, 500, 1000, 2000], help="supernet checkpoints, cumulative steps"
    )
    parser.add_argument("--supernet-seeds", type=_int_list, default=[0], help="supernet seeds (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="standalone training processes (default 2)")
    parser.add_argument("--device", default="auto", help="device of both (default auto: cuda when present)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output folder")
    parser.add_argument(
        "--standalone-only",
        action="store_true",
        help="only train the standalone networks into the live result store, in --order of their indices and in "
        "groups of --workers, each group looked up first: runs beside each other share the work, and the full "
        "run reads their results from the store",
    )
    parser.add_argument(
        "--order", choices=("descending", "ascending"), default="descending", help="of --standalone-only"
    )
    return parser.parse_args(argv)


def bootstrap_interval(
    x: np.ndarray, y: np.ndarray, statistic: Any, rng: np.random.Generator
) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``statistic(x, y)`` over resampled architectures."""
    n = len(x)
    values = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, n, n)
        values.append(statistic(x[pick], y[pick]))
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def compare(scores: np.ndarray, standalone: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Rank agreement of supernet scores and standalone accuracies."""

    def tau(a: np.ndarray, b: np.ndarray) -> float:
        return float(stats.kendalltau(a, b).statistic)

    def rho(a: np.ndarray, b: np.ndarray) -> float:
        return float(stats.spearmanr(a, b).statistic)

    top_supernet = set(np.argsort(-scores, kind="stable")[:TOP].tolist())
    top_standalone = set(np.argsort(-standalone, kind="stable")[:TOP].tolist())
    return {
        "kendall_tau": tau(scores, standalone),
        "kendall_tau_ci95": bootstrap_interval(scores, standalone, tau, rng),
        "spearman_rho": rho(scores, standalone),
        "spearman_rho_ci95": bootstrap_interval(scores, standalone, rho, rng),
        f"top{TOP}_overlap": len(top_supernet & top_standalone),
        "mean_score": float(np.mean(scores)),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run in results["supernet"]:
        steps = [c["steps"] for c in run["checkpoints"]]
        for key, marker in (("kendall_tau", "o"), ("spearman_rho", "s")):
            values = [c[key] for c in run["checkpoints"]]
            low = [c[key] - c[f"{key}_ci95"][0] for c in run["checkpoints"]]
            high = [c[f"{key}_ci95"][1] - c[key] for c in run["checkpoints"]]
            left.errorbar(steps, values, yerr=[low, high], marker=marker, capsize=3,
                          label=f"{key.replace('_', ' ')}, supernet seed {run['seed']}")  # fmt: skip
    left.axhline(0.0, color="grey", linewidth=0.8)
    left.set_xscale("log")
    left.set_xlabel("supernet SGD steps (uniformly sampled paths)")
    left.set_ylabel("rank correlation with standalone accuracy")
    left.set_title(f"{len(results['archs'])} NAS-Bench-201 architectures on {results['config']['dataset']}")
    left.legend(fontsize=7)
    standalone = np.array([a["standalone_valid_acc"] for a in results["archs"]])
    last = results["supernet"][0]["checkpoints"][-1]
    right.scatter(standalone, last["scores"], s=8, alpha=0.6)
    right.set_xlabel(f"standalone validation accuracy (%), {results['config']['epochs']} epochs")
    right.set_ylabel(f"supernet score (%) after {last['steps']} steps")
    right.set_title(f"seed {results['supernet'][0]['seed']}: tau {last['kendall_tau']:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(results: dict[str, Any]) -> str:
    config = results["config"]
    lines = [
        "# Supernet ranking against standalone training",
        "",
        f"`{results['command']}` on {results['machine']} ({results['versions']}); load average "
        f"{results['load_start']} at the start, {results['load_end']} at the end.",
        "",
        f"{len(results['archs'])} NAS-Bench-201 architectures drawn uniformly (seed 0). Standalone: the live "
        f"evaluator on {config['dataset']}, {config['epochs']} epochs, batch {config['batch_size']} "
        f"({results['timing']['standalone_s']:.0f} s, {results['standalone_trained']} trained now, "
        f"{results['standalone_cached']} from the store). Supernet: uniformly sampled paths, batch 64, "
        "scores on the fixed validation subset; 95% bootstrap intervals over the architectures.",
        "",
        f"| supernet seed | steps | Kendall tau [95% CI] | Spearman rho [95% CI] | top-{TOP} overlap "
        "| mean score (%) |",
        "|---|---|---|---|---|---|",
    ]
    for run in results["supernet"]:
        for c in run["checkpoints"]:
            tau_low, tau_high = c["kendall_tau_ci95"]
            rho_low, rho_high = c["spearman_rho_ci95"]
            lines.append(
                f"| {run['seed']} | {c['steps']} | {c['kendall_tau']:.3f} [{tau_low:.3f}, {tau_high:.3f}] | "
                f"{c['spearman_rho']:.3f} [{rho_low:.3f}, {rho_high:.3f}] | {c[f'top{TOP}_overlap']} | "
                f"{c['mean_score']:.1f} |"
            )
    lines += ["", "Seconds per supernet run (training and scoring): "
              + ", ".join(f"seed {r['seed']}: {r['seconds']:.0f}" for r in results["supernet"]), ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # one thread per process: on a shared CPU more threads only contend
    space = get_space("nb201")
    indices = np.random.default_rng(0).choice(space.size, args.archs, replace=False)
    rng = np.random.default_rng(0)
    live = LiveEvaluator(
        "nb201", args.dataset, epochs=args.epochs, batch_size=args.batch_size, workers=args.workers,
        num_threads=1, device=args.device, progress=True,
    )  # fmt: skip
    if args.standalone_only:
        try:
            ordered = np.sort(indices)[:: -1 if args.order == "descending" else 1]
            for start in range(0, len(ordered), args.workers):
                live.evaluate(ordered[start : start + args.workers])
        finally:
            live.close()
        print(f"standalone: {live.n_trained} trained, {live.n_cached} from the store", flush=True)
        return 0
    load_start = os.getloadavg()
    results: dict[str, Any] = {
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "load_start": [round(x, 2) for x in load_start],
        "config": {"dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
                   "steps": args.steps, "supernet_seeds": args.supernet_seeds},  # fmt: skip
        "timing": {},
        "supernet": [],
    }
    for seed in args.supernet_seeds:
        start = time.perf_counter()
        supernet = SupernetEvaluator(
            "nb201", args.dataset, sampling="uniform", seed=seed, device=args.device, num_threads=1
        )
        checkpoints, done = [], 0
        for steps in args.steps:
            supernet.train_steps(steps - done)
            done = steps
            scores = supernet.score(indices)
            checkpoints.append({"steps": steps, "scores": scores.tolist()})
            print(f"supernet seed {seed}: {steps} steps, {time.perf_counter() - start:.0f} s", flush=True)
        results["supernet"].append({"seed": seed, "checkpoints": checkpoints, "seconds": time.perf_counter() - start})
    start = time.perf_counter()
    try:
        standalone = live.evaluate(indices)
    finally:
        live.close()
    results["timing"]["standalone_s"] = time.perf_counter() - start
    results["standalone_trained"], results["standalone_cached"] = live.n_trained, live.n_cached
    results["live_config_hash"] = live.config_hash
    results["archs"] = [
        {"index": int(i), "arch": space.arch_string(int(i)), "standalone_valid_acc": float(v),
         "standalone_test_acc": float(t)}
        for i, v, t in zip(indices, standalone["valid_acc"], standalone["test_acc"], strict=True)
    ]  # fmt: skip
    for run in results["supernet"]:
        for checkpoint in run["checkpoints"]:
            checkpoint.update(compare(np.array(checkpoint["scores"]), standalone["valid_acc"], rng))
    results["load_end"] = [round(x, 2) for x in os.getloadavg()]
    (args.out / "ranking.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "ranking.md").write_text(markdown(results))
    plot(results, args.out / "ranking.png")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
