"""Build the whole dqn-arch table (100 Q-networks of a Double DQN agent) on a Gymnasium task and export it.

Runs ``nasgym data build dqn-arch --task T --steps N --seeds S --seed 0`` (resumable: every trained
network is in the result store of ``--cache-dir``, so an interrupted build continues where it
stopped), then writes, under ``benchmarks/results/dqn-arch/<task>/``:

* ``table.csv``: one row per architecture (canonical index order): its decisions, parameters, the
  mean greedy return over the validation and the test episodes (the env's reward and its held-out
  report), the final training return, training and wall seconds;
* ``curves.json``: each architecture's training-return curve (mean return of the training
  episodes ending in each of 20 equal windows of the steps);
* ``build.json`` and ``build.md``: the command, the training configuration, the build's wall time,
  the sum of the per-network seconds, the machine, versions and load averages before and after.

``table.csv`` is what ``benchmarks/dqn_arch_search.py`` and ``benchmarks/dqn_arch_curves.py`` read.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dqn_arch_table.py --task CartPole-v1 --steps 1500 --seeds 1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import sys
import time
from pathlib import Path

from nasgym.bench.provenance import machine, versions
from nasgym.cli import main
from nasgym.evaluators.rl import DQNEvaluator

RESULTS = Path(__file__).resolve().parent / "results" / "dqn-arch"
COLUMNS = (
    "index", "arch", "width1", "activation1", "width2", "activation2", "params",
    "valid_return", "test_return", "train_return", "train_time", "wall_time",
)  # fmt: skip


def main_cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--steps", type=int, required=True, help="environment steps per agent")
    parser.add_argument("--seeds", type=int, default=1, help="agents per architecture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "nasgym-dqn-arch")
    args = parser.parse_args(argv)
    out = RESULTS / args.task
    out.mkdir(parents=True, exist_ok=True)
    os.environ["NASGYM_CACHE_DIR"] = str(args.cache_dir)
    build_argv = [
        "data", "build", "dqn-arch", "--task", args.task, "--steps", str(args.steps), "--seeds", str(args.seeds),
        "--seed", str(args.seed), "--quiet",
    ]  # fmt: skip
    load_before = os.getloadavg()
    start = time.perf_counter()
    said = io.StringIO()
    if main(build_argv, stdout=said) != 0:
        sys.exit("the build failed")
    wall = time.perf_counter() - start
    load_after = os.getloadavg()

    evaluator = DQNEvaluator("dqn-arch", args.task, steps=args.steps, seeds=args.seeds, seed=args.seed)
    stored = dict(evaluator.store.results("dqn-arch", args.task, evaluator.config_hash))
    space = evaluator.space
    rows, curves = [], {}
    for index in range(space.size):
        arch = space.arch_string(index)
        metrics = stored[arch]
        width1, activation1, width2, activation2 = (space.choices[d][c] for d, c in enumerate(space.choices_of(index)))
        rows.append({
            "index": index, "arch": arch, "width1": width1, "activation1": activation1, "width2": width2,
            "activation2": activation2, "params": round(metrics["params"] * 1e6),
            "valid_return": metrics["valid_return"], "test_return": metrics["test_return"],
            "train_return": metrics["train_acc"] / 100.0, "train_time": metrics["train_time"],
            "wall_time": metrics["wall_time"],
        })  # fmt: skip
        curves[arch] = metrics["return_curve"]
    with (out / "table.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "curves.json").write_text(
        json.dumps({"steps": args.steps, "windows": 20, "curves": curves}, indent=1) + "\n"
    )
    best = max(rows, key=lambda row: row["valid_return"])
    record = {
        "command": "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dqn_arch_table.py "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "build_command": "nasgym " + shlex.join(build_argv),
        "config": evaluator.config.experiment(args.task),
        "config_hash": evaluator.config_hash,
        "build_wall_time_s": wall,
        "build_output": said.getvalue().strip(),
        "sum_network_wall_time_s": sum(row["wall_time"] for row in rows),
        "best_arch": best["arch"],
        "best_valid_return": best["valid_return"],
        "machine": machine(),
        "versions": versions(),
        "load_before": load_before,
        "load_after": load_after,
    }
    (out / "build.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main_cli()
