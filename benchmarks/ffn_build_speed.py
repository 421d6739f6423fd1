"""Training speed of an FFN space batched across architectures against one network at a time.

Every architecture of the space (``ffn2``: 400 networks) trains on the same first ``--rows`` rows
of a tabular dataset's training split for ``--epochs`` epochs, twice: batched in padded groups
(:func:`nasgym.training.ffn.group_architectures`, :class:`~nasgym.training.ffn.BatchedFFN`,
:func:`~nasgym.training.ffn.fit_group`, what ``nasgym data build`` runs) and one plain
``torch.nn.Sequential`` after another with the same optimiser, schedule and batches
(``--alone-sample K``: only K networks drawn uniformly without replacement, the whole space's time
estimated as ``space size / K`` times theirs, with its standard error, for ffn3's 8,000). Only
training is timed (the networks, data and optimisers are built outside the clock; evaluation is
left out).
From the batched rate the script derives the training time of a whole build at the given recipe
(``--build-rows`` rows x ``--build-epochs`` epochs): rows and epochs scale the work linearly, so this
is an extrapolation, written as one. The load averages before and after are recorded with the
machine and the versions: on a shared machine they say how much of it the run had.

Results go to ``benchmarks/results/ffn/build_speed.{json,md}``.

Usage::

    python benchmarks/ffn_build_speed.py --data-dir PATH/TO/tabular     # ffn2 on connect_4 (PMLB's files)
    python benchmarks/ffn_build_speed.py --space ffn3 --alone-sample 400 \\
        --out benchmarks/results/ffn/build_speed_ffn3.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_nb201 import system_info  # noqa: E402  (the machine record every speed script writes)

from nasgym.spaces import get_space  # noqa: E402
from nasgym.training.config import TrainConfig  # noqa: E402
from nasgym.training.ffn import BatchedFFN, fit_group, group_architectures, seeded_networks  # noqa: E402
from nasgym.training.tabular import load_tabular  # noqa: E402
from nasgym.training.trainer import sgd_with_schedule  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ffn"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="ffn2", help="ffn2 (400 networks) or ffn3 (8,000)")
    parser.add_argument("--dataset", default="connect_4", help="tabular dataset (connect_4)")
    parser.add_argument(
        "--data-dir", type=Path, help="folder of the tabular datasets (default: <nasgym cache>/datasets/tabular)"
    )
    parser.add_argument("--rows", type=int, default=128, help="training rows each network sees per epoch (128)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs timed (1)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (64)")
    parser.add_argument("--build-rows", type=int, help="rows of the build to extrapolate to (default: the whole split)")
    parser.add_argument("--build-epochs", type=int, default=2, help="epochs of the build to extrapolate to (2)")
    parser.add_argument(
        "--alone-sample",
        type=int,
        help="networks trained one at a time, drawn uniformly (default: every network of the space)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "build_speed.json", help="JSON file to write")
    args = parser.parse_args(argv)
    if min(args.rows, args.epochs, args.batch_size, args.build_epochs) < 1:
        parser.error("--rows, --epochs, --batch-size and --build-epochs must be >= 1")
    return args


def alone_positions(n_archs: int, sample: int | None, seed: int = 0) -> np.ndarray:
    """Positions (sorted) of the networks trained one at a time: all of them, or ``sample`` drawn
    uniformly without replacement, so that ``n_archs / sample`` times their time estimates the
    whole space's without bias.

    :param n_archs: networks in the space.
    :param sample: how many to draw (``None``: every one), 2 (a standard error needs two) to ``n_archs``.
    :param seed: seed of the draw.
    """
    if sample is None:
        return np.arange(n_archs)
    if not 2 <= sample <= n_archs:
        raise ValueError(f"--alone-sample must be in [2, {n_archs}] (the space's networks), got {sample}")
    return np.sort(np.random.default_rng(seed).choice(n_archs, size=sample, replace=False))


def estimate_total(seconds: np.ndarray, n_archs: int) -> tuple[float, float]:
    """``(estimate, standard error)`` of the seconds of all ``n_archs`` networks from those of a
    uniform sample without replacement (:func:`alone_positions`): ``n_archs`` times the sample's mean,
    and its standard error with the finite-population correction (0 for the whole space).

    :param seconds: seconds of each sampled network.
    :param n_archs: networks in the space.
    """
    sample = len(seconds)
    if sample == n_archs:
        return float(np.sum(seconds)), 0.0
    if not 2 <= sample < n_archs:
        raise ValueError(f"a sample of {sample} of {n_archs} networks has no standard error; sample 2 to {n_archs}")
    spread = np.std(seconds, ddof=1) / math.sqrt(sample) * math.sqrt(1.0 - sample / n_archs)
    return float(n_archs * np.mean(seconds)), float(n_archs * spread)


def fit_alone(net: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, config: TrainConfig) -> None:
    """One plain network, trained as :func:`fit_group` trains each of a group."""
    steps = config.epochs * math.ceil(len(y) / config.batch_size)
    optimizer, scheduler = sgd_with_schedule(net.parameters(), config, steps)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), config.batch_size):
            index = order[start : start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(x[index]), y[index]).backward()
            optimizer.step()
            scheduler.step()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    space = get_space(args.space)
    data = load_tabular(args.dataset, args.data_dir)
    x, y = torch.from_numpy(data.x_train[: args.rows]), torch.from_numpy(data.y_train[: args.rows])
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=0.05, device="cpu", progress=False)
    widths = space.widths(space.enumerate())
    positions = alone_positions(space.size, args.alone_sample)  # before any training: bad input fails at once
    fit_alone(*seeded_networks(widths[:1].tolist(), data.n_inputs, data.n_classes, 0), x, y, config)  # warm-up
    load_before = os.getloadavg()
    start_cpu = time.process_time()
    batched = 0.0
    groups = group_architectures(widths)
    for padded, members in groups:
        model = BatchedFFN(seeded_networks(widths[members].tolist(), data.n_inputs, data.n_classes, 0), padded)
        start = time.perf_counter()
        fit_group(model, x, y, config)
        batched += time.perf_counter() - start
    batched_cpu = time.process_time() - start_cpu
    alone_seconds = []
    for arch_widths in widths[positions].tolist():  # built one by one: ffn3's 8,000 at once would not fit
        (net,) = seeded_networks([arch_widths], data.n_inputs, data.n_classes, 0)
        start = time.perf_counter()
        fit_alone(net, x, y, config)
        alone_seconds.append(time.perf_counter() - start)
    alone, alone_se = estimate_total(np.array(alone_seconds), space.size)
    load_after = os.getloadavg()
    build_rows = args.build_rows or len(data.y_train)
    build_row_epochs = build_rows * args.build_epochs / (len(y) * args.epochs)
    result = {
        "space": args.space,
        "n_archs": int(space.size),
        "n_groups": len(groups),
        "dataset": args.dataset,
        "n_inputs": data.n_inputs,
        "rows": len(y),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "batched_train_s": batched,
        "batched_cpu_s": batched_cpu,
        "one_by_one_networks": len(positions),
        "one_by_one_sample_train_s": sum(alone_seconds),
        "one_by_one_train_s": alone,
        "one_by_one_train_s_standard_error": alone_se,
        "speedup": alone / batched,
        "network_rows_per_s_batched": space.size * len(y) * args.epochs / batched,
        "network_rows_per_s_one_by_one": space.size * len(y) * args.epochs / alone,
        "extrapolated_build_rows": build_rows,
        "extrapolated_build_epochs": args.build_epochs,
        "extrapolated_build_train_s": batched * build_row_epochs,
        "extrapolated_build_train_s_one_by_one": alone * build_row_epochs,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "torch_threads": torch.get_num_threads(),
        **system_info(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    alone_label = "one network at a time"
    if len(positions) < space.size:
        alone_label += (
            f" (estimate: {space.size} / {len(positions)} x the {sum(alone_seconds):.1f} s of {len(positions)} "
            f"networks drawn uniformly; standard error {alone_se:.1f} s)"
        )
    table = [
        f"# Training speed of the {args.space} space ({space.size} networks) on {args.dataset}",
        "",
        f"Machine: {result['machine']}; {result['versions']}; load average (1, 5, 15 min) before "
        f"{', '.join(f'{v:.1f}' for v in load_before)}, after {', '.join(f'{v:.1f}' for v in load_after)}; "
        f"{result['torch_threads']} torch thread(s).",
        f"Command: `{result['command']}`",
        "",
        f"Every network trains on the first {len(y)} training rows for {args.epochs} epoch(s), batch "
        f"{args.batch_size} (training only, evaluation not timed):",
        "",
        "| mode | seconds | network-rows per second |",
        "|---|---|---|",
        f"| batched ({len(groups)} padded groups) | {batched:.1f} | {result['network_rows_per_s_batched']:.0f} |",
        f"| {alone_label} | {alone:.1f} | {result['network_rows_per_s_one_by_one']:.0f} |",
        "",
        f"Speedup of batching: {result['speedup']:.1f}x. Extrapolated (linear in rows and epochs, at this "
        f"run's load) training time of a build on {build_rows} rows x {args.build_epochs} epochs: "
        f"{result['extrapolated_build_train_s'] / 60:.0f} min ({result['extrapolated_build_train_s'] / 3600:.1f} h) "
        f"batched, {result['extrapolated_build_train_s_one_by_one'] / 60:.0f} min "
        f"({result['extrapolated_build_train_s_one_by_one'] / 3600:.1f} h) one network at a time.",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
