"""Live-evaluation benchmark, in one run.

Measures, and prints PASS/FAIL where there is a target:

1. training throughput (images/s) of nasgym's pipeline (``Trainer.fit``: cosine schedule, metric
   accumulation, progress bar, amp/channels-last switches) / a plain hand-written torch loop, on
   the same NAS-Bench-201 network (same initial weights), the same digits tensors, the same
   device, batch size and optimizer; interleaved rounds, medians                  -> >= 0.9
2. one digits evaluation of NAS-Bench-201 networks (``evaluate_architecture`` with the default
   recipe: batch 256, SGD + Nesterov, cosine) on this machine: seconds per epoch, and the whole
   evaluation's wall time (report only)
3. overhead of a cached lookup: ``ResultStore.get`` in a store of 15,625 results, and the whole
   ``LiveEvaluator.evaluate_one`` path for a stored architecture                   -> < 1 ms

Timings on a shared machine are noisy: what counts are ratios measured within one run. Results go
to ``benchmarks/results/live/live_training.{json,md}`` with the command line, versions and device.

Usage::

    python benchmarks/live_training.py                       # about two minutes on a CPU
    python benchmarks/live_training.py --rounds 7 --epochs 5 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasgym.bench.provenance import cpu_model, machine
from nasgym.evaluators.live import LiveEvaluator
from nasgym.evaluators.store import ResultStore
from nasgym.models import build_network
from nasgym.spaces import NB201Space
from nasgym.training import TrainConfig
from nasgym.training.data import ImageDataset, dataset_on
from nasgym.training.trainer import Trainer, evaluate_architecture, resolve_device

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "live"
#: the best cifar10 cell of NAS-Bench-201, and the largest cell (every edge a 3x3 conv)
ARCHS = {
    "best cifar10 cell": (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    ),
    "all 3x3 convs": (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved throughput rounds (medians over them)")
    parser.add_argument("--round-epochs", type=int, default=2, help="epochs per throughput round")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of the throughput comparison")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each digits evaluation")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared CPU)")
    parser.add_argument("--lookups", type=int, default=5000, help="cached lookups timed")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and markdown go")
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: nn.Module, data: ImageDataset, config: TrainConfig, device: torch.device) -> float:
    """The reference: a hand-written loop over the same tensors; seconds of ``config.epochs`` epochs."""
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=config.nesterov,
    )  # fmt: skip
    images, labels = data.train.images, data.train.labels
    mean, std = data.mean.view(1, -1, 1, 1), data.std.view(1, -1, 1, 1)
    model.train()
    sync(device)
    start = time.perf_counter()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), device=device)
        for first in range(0, len(labels), config.batch_size):
            index = order[first : first + config.batch_size]
            x = (images[index].float() - mean) / std
            loss = F.cross_entropy(model(x), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    sync(device)
    return time.perf_counter() - start


def throughput(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    space = NB201Space()
    data = dataset_on("digits", None, device)
    config = TrainConfig(epochs=args.round_epochs, batch_size=args.batch_size, device=str(device))
    trainer = Trainer(config, device)
    torch.manual_seed(0)
    initial = build_network("nb201", space.from_string(ARCHS["best cifar10 cell"]), 10, in_channels=1)
    images = args.round_epochs * len(data.train)
    # warm-up of both (allocator, kernels, first-optimizer imports), not timed
    trainer.fit(trainer.prepare(copy.deepcopy(initial)), data)
    plain_loop(copy.deepcopy(initial).to(device), data, config, device)
    pipeline, plain = [], []
    for round_ in range(args.rounds):
        for first in (round_ % 2, 1 - round_ % 2):  # alternate which goes first: no drift favours one
            if first == 0:
                pipeline.append(images / trainer.fit(trainer.prepare(copy.deepcopy(initial)), data).train_time)
            else:
                plain.append(images / plain_loop(copy.deepcopy(initial).to(device), data, config, device))
    ratio = statistics.median(pipeline) / statistics.median(plain)
    return {
        "arch": ARCHS["best cifar10 cell"],
        "batch_size": args.batch_size,
        "epochs_per_round": args.round_epochs,
        "pipeline_images_per_s": pipeline,
        "plain_images_per_s": plain,
        "ratio": ratio,
        "target": ">= 0.9",
        "pass": ratio >= 0.9,
    }


def digits_evaluations(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    space = NB201Space()
    config = TrainConfig(epochs=args.epochs, device=str(device), progress=False)
    out = {}
    for name, arch in ARCHS.items():
        metrics = evaluate_architecture("nb201", space.from_string(arch), "digits", config)
        out[name] = {
            "arch": arch,
            "seconds_per_epoch": metrics["train_time"] / args.epochs,
            "evaluation_wall_s": metrics["wall_time"],
            "epochs": args.epochs,
            "batch_size": config.batch_size,
            "valid_acc": metrics["valid_acc"],
            "params_M": metrics["params"],
            "flops_M": metrics["flops"],
        }
    return out


def lookups(args: argparse.Namespace) -> dict[str, Any]:
    space = NB201Space()
    with tempfile.TemporaryDirectory() as folder:
        evaluator = LiveEvaluator("nb201", "digits", store=Path(folder) / "live.sqlite", epochs=1, progress=False)
        store: ResultStore = evaluator.store
        experiment = evaluator.config.experiment("digits")
        metrics = {
            "valid_acc": 90.0,
            "test_acc": 89.0,
            "flops": 10.0,
            "params": 0.5,
            "latency": 1e-3,
            "train_time": 5.0,
            "train_loss": 0.2,
            "train_acc": 95.0,
            "wall_time": 6.0,
            "device": "cpu",
        }
        for index in range(space.size):
            store.put("nb201", space.arch_string(index), "digits", evaluator.config_hash, experiment, metrics)
        keys = np.random.default_rng(0).integers(0, space.size, args.lookups).tolist()
        archs = [space.arch_string(i) for i in keys]
        start = time.perf_counter()
        for arch in archs:
            store.get("nb201", arch, "digits", evaluator.config_hash)
        get_s = (time.perf_counter() - start) / len(archs)
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for index in keys:
            evaluator.evaluate_one(index, rng)
        one_s = (time.perf_counter() - start) / len(keys)
        assert evaluator.n_trained == 0
        evaluator.close()
    return {
        "store_rows": space.size,
        "store_get_ms": get_s * 1e3,
        "evaluate_one_cached_ms": one_s * 1e3,
        "target": "< 1 ms",
        "pass": max(get_s, one_s) < 1e-3,
    }


def markdown(report: dict[str, Any]) -> str:
    t, lk = report["throughput"], report["lookup"]
    lines = [
        "# Live evaluation benchmark",
        "",
        f"`{report['command']}` on {report['device_name']} (torch {report['torch']}, {report['threads']} thread(s))",
        "",
        "| measure | value | target | result |",
        "|---|---|---|---|",
        f"| throughput pipeline / plain loop (median of {len(t['pipeline_images_per_s'])} rounds, batch "
        f"{t['batch_size']}) | {t['ratio']:.3f} ({statistics.median(t['pipeline_images_per_s']):.0f} vs "
        f"{statistics.median(t['plain_images_per_s']):.0f} images/s) | {t['target']} | "
        f"{'PASS' if t['pass'] else 'FAIL'} |",
    ]
    for name, e in report["digits"].items():
        lines.append(
            f"| digits evaluation, NB201 {name}: s/epoch (batch {e['batch_size']}) | {e['seconds_per_epoch']:.2f} s "
            f"(whole evaluation of {e['epochs']} epochs: {e['evaluation_wall_s']:.1f} s) | report | - |"
        )
    lines += [
        f"| cached lookup, `ResultStore.get` ({lk['store_rows']} rows) | {lk['store_get_ms']:.3f} ms | "
        f"{lk['target']} | {'PASS' if lk['store_get_ms'] < 1 else 'FAIL'} |",
        f"| cached lookup, `LiveEvaluator.evaluate_one` | {lk['evaluate_one_cached_ms']:.3f} ms | {lk['target']} | "
        f"{'PASS' if lk['evaluate_one_cached_ms'] < 1 else 'FAIL'} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    report: dict[str, Any] = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": name,
        "machine": machine(),
        "threads": args.threads,
        "throughput": throughput(args, device),
        "digits": digits_evaluations(args, device),
        "lookup": lookups(args),
    }
    text = markdown(report)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "live_training.json").write_text(json.dumps(report, indent=1, allow_nan=False))
    (args.out_dir / "live_training.md").write_text(text)
    return 0 if report["throughput"]["pass"] and report["lookup"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
