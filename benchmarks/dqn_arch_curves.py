"""Plot the seed slides' observation on a built dqn-arch table: small ReLU Q-networks learn, large sigmoid ones do not.

Reads ``benchmarks/results/dqn-arch/<task>/{table.csv,curves.json}`` (written by
``benchmarks/dqn_arch_table.py``) and draws ``curves.png``: left, the training-return curves of
the smallest and the largest networks with ReLU and with sigmoid on both layers; right, every
network's greedy validation return against its parameter count, by activation pair.

With ``--steps N`` it instead trains the four networks of the left panel afresh for N steps per
agent (``--seeds`` agents each, through the dqn-arch live evaluator and its result store in
``--cache-dir``; the zoo's hyperparameters as in the table) and writes ``curves_<N>.json`` (their
curves and returns, the command, machine, versions, load) and ``curves_<N>.png``: a longer look
than a whole-table budget affords.

Usage::

    python benchmarks/dqn_arch_curves.py --task CartPole-v1
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dqn_arch_curves.py --task CartPole-v1 --steps 5000 --seeds 1
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nasgym.bench.provenance import machine, versions  # noqa: E402
from nasgym.evaluators.rl import DQNEvaluator  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dqn-arch"
#: (width, activation on both layers) of the curves drawn
SHOWN = ((64, "relu"), (128, "relu"), (1024, "sigmoid"), (2048, "sigmoid"))


def arch_string(width: int, activation: str) -> str:
    return f"width1={width},activation1={activation},width2={width},activation2={activation}"


def plot_curves(axes: plt.Axes, record: dict, task: str) -> None:
    """The training-return curves of :data:`SHOWN` from a ``curves.json`` record."""
    steps, windows = record["steps"], record["windows"]
    centres = [(k + 0.5) * steps / windows for k in range(windows)]
    for width, activation in SHOWN:
        curve = record["curves"][arch_string(width, activation)]
        points = [(x, y) for x, y in zip(centres, curve, strict=True) if y is not None]
        axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=f"{width}-{width} {activation}")
    axes.set_xlabel("environment steps")
    axes.set_ylabel("training episode return (window mean)")
    axes.set_title(f"{task}: training return, {steps} steps")
    axes.legend()


def train_shown(args: argparse.Namespace, folder: Path, argv: list[str]) -> None:
    """Train the networks of :data:`SHOWN` for ``args.steps`` steps and write ``curves_<steps>.{json,png}``."""
    evaluator = DQNEvaluator(
        "dqn-arch", args.task, steps=args.steps, seeds=args.seeds, cache_dir=args.cache_dir, progress=False
    )
    space = evaluator.space
    load_before = os.getloadavg()
    curves, returns = {}, {}
    for width, activation in SHOWN:
        arch = arch_string(width, activation)
        evaluator.evaluate_one(int(space.index_of(space.from_string(arch))))
        stored = evaluator.store.get("dqn-arch", arch, args.task, evaluator.config_hash)
        curves[arch] = stored["return_curve"]
        returns[arch] = {key: stored[key] for key in ("valid_return", "test_return", "wall_time")}
    evaluator.close()
    record = {
        "command": "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dqn_arch_curves.py " + shlex.join(argv),
        "config": evaluator.config.experiment(args.task),
        "steps": args.steps,
        "windows": evaluator.config.curve_points,
        "curves": curves,
        "returns": returns,
        "machine": machine(),
        "versions": versions(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    (folder / f"curves_{args.steps}.json").write_text(json.dumps(record, indent=1) + "\n")
    figure, axes = plt.subplots(figsize=(6, 4.2))
    plot_curves(axes, record, args.task)
    figure.tight_layout()
    figure.savefig(folder / f"curves_{args.steps}.png", dpi=110)
    print(json.dumps(returns, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--steps", type=int, help="train the four networks afresh for this many steps per agent")
    parser.add_argument("--seeds", type=int, default=1, help="with --steps: agents per network")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "nasgym-dqn-arch")
    args = parser.parse_args(argv)
    folder = RESULTS / args.task
    if args.steps is not None:
        return train_shown(args, folder, argv if argv is not None else sys.argv[1:])
    with (folder / "table.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    record = json.loads((folder / "curves.json").read_text())
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    plot_curves(left, record, args.task)
    for pair in (("relu", "relu"), ("relu", "sigmoid"), ("sigmoid", "relu"), ("sigmoid", "sigmoid")):
        chosen = [row for row in rows if (row["activation1"], row["activation2"]) == pair]
        right.scatter(
            [int(row["params"]) for row in chosen],
            [float(row["valid_return"]) for row in chosen],
            label=" / ".join(pair),
            s=18,
        )
    right.set_xscale("log")
    right.set_xlabel("parameters of the Q-network")
    right.set_ylabel("greedy validation return")
    right.set_title("every network: return against size")
    right.legend(title="activations")
    figure.tight_layout()
    figure.savefig(folder / "curves.png", dpi=110)
    print(f"wrote {folder / 'curves.png'}")


if __name__ == "__main__":
    main()
