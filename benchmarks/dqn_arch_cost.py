"""What the dqn-arch table of a task would cost on this machine: seconds per environment step of a
few Q-networks, measured, and extrapolated to the whole 100-network build at the preset's steps.

``nasgym data build dqn-arch --task LunarLander-v3`` trains, for each of the space's 100
Q-networks, ``seeds`` (2) Double DQN agents batched together for the RL Baselines3 Zoo's 100,000
environment steps, one gradient step at batch 128 per environment step (``train_freq=4``,
``gradient_steps=4``, ``learning_starts=0``), then scores them on 10 validation and 10 test episodes
each. This script makes that same call (:func:`nasgym.training.dqn.train_dqn`, what
:class:`~nasgym.evaluators.rl.DQNEvaluator` runs per query) for only ``--steps`` environment steps on
the architectures of ``--archs``, the task's preset otherwise, and records for each:

* training seconds per environment step (``train_time / steps``; the agents' construction is
  inside it, a constant that is small beside the steps);
* evaluation seconds (the rest of the call: the greedy validation and test episodes) and the
  vector-env steps they took, counted at gymnasium's ``SyncVectorEnv.step``, so seconds per
  evaluation step (one step of every agent's episodes at once);
* the process's CPU seconds over the call against its wall seconds: on a shared machine, the share
  of a core it had.

Extrapolation to the build (``--build-steps``, default the preset's): each of the space's
architectures takes the training seconds per step interpolated linearly in parameter count between
those of ``--archs`` times the build's steps. The default ``--archs`` are the 25 width pairs with
ReLU, whose parameter counts all differ, so every architecture takes the measurement of its own
widths and only the activation is not measured; the default ``--check-archs``, sigmoid networks, are
timed too but left out of the interpolation, to show what the activation changes. Each architecture's
evaluation is bounded by two sets of episodes of at most the task's episode limit (1,000 steps on
LunarLander-v3) at the interpolated seconds per evaluation step.
Per-step training cost does not depend on how far training is, since every step samples one batch
from a replay buffer of fixed capacity; the epsilon schedule is shorter here, which changes which
actions are taken, not the work per step (the greedy forward pass runs at every step).

Results go to ``benchmarks/results/dqn-arch/<task>/cost.{json,md}``.

Usage::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dqn_arch_cost.py --task LunarLander-v3 --steps 250
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import SyncVectorEnv

from nasgym.bench.provenance import machine, versions, write_results
from nasgym.spaces import get_space
from nasgym.spaces.dqn_arch import DQN_WIDTHS, task_shape
from nasgym.training.dqn import DQNConfig, train_dqn

RESULTS = Path(__file__).resolve().parent / "results" / "dqn-arch"
#: every width pair with ReLU (the interpolated ones; 25 different parameter counts)
DEFAULT_ARCHS = tuple(
    f"width1={w1},activation1=relu,width2={w2},activation2=relu" for w1 in DQN_WIDTHS for w2 in DQN_WIDTHS
)
#: sigmoid networks, small to large, and a mixed one, timed against their widths' ReLU network
DEFAULT_CHECK_ARCHS = tuple(
    f"width1={w1},activation1={a1},width2={w2},activation2={a2}"
    for w1, a1, w2, a2 in (
        (64, "sigmoid", 64, "sigmoid"), (1024, "sigmoid", 1024, "sigmoid"), (2048, "sigmoid", 2048, "sigmoid"),
        (2048, "relu", 2048, "sigmoid"),
    )
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="LunarLander-v3", help="Gymnasium task (LunarLander-v3)")
    parser.add_argument("--steps", type=int, default=250, help="environment steps timed per architecture (250)")
    parser.add_argument("--seeds", type=int, default=2, help="agents per architecture, batched (2: the build's)")
    parser.add_argument("--build-steps", type=int, help="steps of the build to extrapolate to (the task's preset)")
    parser.add_argument(
        "--archs", nargs="+", default=list(DEFAULT_ARCHS), help="architectures timed and interpolated (arch strings)"
    )
    parser.add_argument(
        "--check-archs",
        nargs="*",
        default=list(DEFAULT_CHECK_ARCHS),
        help="architectures timed and compared with the interpolation (arch strings; none: give the flag alone)",
    )
    parser.add_argument("--out", type=Path, help="JSON file to write (default results/dqn-arch/<task>/cost.json)")
    args = parser.parse_args(argv)
    for name in ("steps", "seeds", "build_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return args


@contextlib.contextmanager
def counted_vector_steps() -> Iterator[list[int]]:
    """Count the calls of ``SyncVectorEnv.step`` (any instance) made inside the block, in the one
    item of the list it yields: the greedy evaluation runs its episodes to their ends and does not
    say how many steps that took."""
    count = [0]
    step = SyncVectorEnv.step

    def counting_step(self: SyncVectorEnv, actions: Any) -> Any:
        count[0] += 1
        return step(self, actions)

    SyncVectorEnv.step = counting_step
    try:
        yield count
    finally:
        SyncVectorEnv.step = step


def time_architecture(arch: str, task: str, config: DQNConfig) -> dict[str, Any]:
    """Train and score one architecture through :func:`train_dqn`; its training and evaluation
    seconds, per environment step and per evaluation (vector-env) step.

    :param arch: an arch string of the dqn-arch space.
    :param task: the Gymnasium task.
    :param config: the training configuration (``steps`` set; ``n_envs`` 1).
    """
    space = get_space("dqn-arch")
    choices = space.from_string(arch)
    with counted_vector_steps() as count:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = train_dqn(space.widths(choices).tolist(), space.activations(choices), task, config)
        total, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    eval_steps = count[0] - config.steps  # training takes one vector step per environment step
    if eval_steps < 2:  # at least one step of the validation and one of the test episodes
        raise RuntimeError(f"counted {count[0]} SyncVectorEnv steps for {config.steps} training steps: not sync?")
    train_s = result["train_time"]
    return {
        "arch": arch,
        "params": int(space.param_count(choices, *task_shape(task))),
        "steps": config.steps,
        "train_s": train_s,
        "train_s_per_step": train_s / config.steps,
        "eval_s": total - train_s,
        "eval_vector_steps": eval_steps,
        "eval_s_per_vector_step": (total - train_s) / eval_steps,
        "wall_s": total,
        "cpu_s": cpu,
    }


def time_architectures(archs: list[str], task: str, config: DQNConfig) -> list[dict[str, Any]]:
    """:func:`time_architecture` of each of ``archs``, each printed as it is done."""
    rows = []
    for arch in archs:
        rows.append(time_architecture(arch, task, config))
        print(rows[-1], flush=True)
    return rows


def interpolate(rows: list[dict[str, Any]], params: np.ndarray, key: str) -> np.ndarray:
    """``key`` of the measured rows interpolated linearly in parameter count at ``params`` (rows of
    equal counts averaged); a ValueError if some of ``params`` lies outside the measured counts.

    :param rows: :func:`time_architecture`'s answers.
    :param params: parameter counts to interpolate at.
    :param key: the field of the rows to interpolate.
    """
    measured = np.array([row["params"] for row in rows])
    known = np.unique(measured)
    if np.min(params) < known[0] or np.max(params) > known[-1]:
        raise ValueError(
            f"--archs span {known[0]:,}-{known[-1]:,} parameters; {np.min(params):,}-{np.max(params):,} "
            "must lie inside (measure the space's smallest and largest network)"
        )
    values = np.array([row[key] for row in rows])
    return np.interp(params, known, [values[measured == count].mean() for count in known])


def extrapolate(rows: list[dict[str, Any]], task: str, build_steps: int) -> dict[str, Any]:
    """The whole space's training seconds at ``build_steps`` steps and a bound on its evaluation
    seconds, from the measured rows (:func:`interpolate`).

    :param rows: :func:`time_architecture`'s answers.
    :param task: the Gymnasium task (its observation and action sizes, its episode limit).
    :param build_steps: environment steps of each network in the build.
    """
    space = get_space("dqn-arch")
    params = space.param_count(space.enumerate(), *task_shape(task))
    episode_limit = gym.spec(task).max_episode_steps
    if episode_limit is None:
        raise ValueError(f"task {task!r} has no episode limit: its evaluation cannot be bounded")
    train_s = interpolate(rows, params, "train_s_per_step") * build_steps
    eval_step_s = interpolate(rows, params, "eval_s_per_vector_step")
    eval_bound_s = eval_step_s * 2 * episode_limit  # the validation and the test episodes
    return {
        "build_steps": build_steps,
        "n_archs": int(space.size),
        "episode_limit": episode_limit,
        "train_s": float(train_s.sum()),
        "eval_bound_s": float(eval_bound_s.sum()),
        "largest_network_train_s": float(train_s.max()),
        "per_arch_train_s": train_s.tolist(),
    }


def report(record: dict[str, Any]) -> str:
    """The markdown of a record."""
    build, config = record["extrapolation"], record["config"]
    lines = [
        f"# Cost of the dqn-arch table on {record['task']} on this machine",
        "",
        f"Machine: {record['machine']}; {record['versions']}; {record['torch_threads']} torch thread(s); load "
        f"average (1, 5, 15 min) before {', '.join(f'{v:.1f}' for v in record['load_average_before'])}, after "
        f"{', '.join(f'{v:.1f}' for v in record['load_average_after'])}.",
        f"Command: `{record['command']}`",
        "",
        f"Each architecture: `train_dqn` for {config['steps']:,} environment steps, {config['seeds']} agents "
        f"batched, the preset otherwise (batch {config['batch_size']}, {config['gradient_steps']} gradient steps "
        f"every {config['train_freq']} environment steps, learning from step {config['learning_starts']}), then "
        f"{config['eval_episodes']} validation and {config['eval_episodes']} test episodes per agent:",
        "",
        "| architecture | params | train s | train s / step | eval s | eval steps | eval s / step | CPU / wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in record["measured"] + record["checked"]:
        lines.append(
            f"| {row['arch']} | {row['params']:,} | {row['train_s']:.1f} | {row['train_s_per_step']:.4f} | "
            f"{row['eval_s']:.1f} | {row['eval_vector_steps']} | {row['eval_s_per_vector_step']:.4f} | "
            f"{row['cpu_s'] / row['wall_s']:.2f} |"
        )
    if record["checked"]:
        lines += [
            "",
            f"The last {len(record['checked'])} are left out of the interpolation, to check it: training seconds "
            "per step measured and interpolated in parameter count from the others:",
            "",
            "| architecture | measured | interpolated | interpolated / measured |",
            "|---|---|---|---|",
        ]
        for row in record["checked"]:
            measured, interpolated = row["train_s_per_step"], row["interpolated_train_s_per_step"]
            lines.append(f"| {row['arch']} | {measured:.4f} | {interpolated:.4f} | {interpolated / measured:.2f} |")
    train_h, eval_h = build["train_s"] / 3600, build["eval_bound_s"] / 3600
    lines += [
        "",
        f"Extrapolated to the build ({build['n_archs']} networks x {build['build_steps']:,} steps, {config['seeds']} "
        "agents each; each network at the training seconds per step measured at its parameter count, interpolated "
        f"linearly between measured counts elsewhere, at this run's load): training {train_h:.1f} h (the largest "
        f"network {build['largest_network_train_s'] / 3600:.1f} h), evaluation at most {eval_h:.2f} h (every episode "
        f"at the {build['episode_limit']:,}-step limit), in all at most {train_h + eval_h:.1f} h.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    space = get_space("dqn-arch")
    for arch in args.archs + args.check_archs:
        space.from_string(arch)  # a malformed string fails before any training
    config = DQNConfig(steps=args.steps, seeds=args.seeds, seed=0, device="cpu")
    build_steps = args.build_steps or DQNConfig(seeds=args.seeds).resolved(args.task).steps
    time_architecture(args.archs[0], args.task, DQNConfig(steps=8, seeds=args.seeds, device="cpu"))  # warm-up
    load_before = os.getloadavg()
    rows = time_architectures(args.archs, args.task, config)
    checked = time_architectures(args.check_archs, args.task, config)
    load_after = os.getloadavg()
    for row in checked:
        interpolated = interpolate(rows, np.array([row["params"]]), "train_s_per_step")
        row["interpolated_train_s_per_step"] = float(interpolated[0])
    record = {
        "task": args.task,
        "config": config.experiment(args.task),
        "measured": rows,
        "checked": checked,
        "extrapolation": extrapolate(rows, args.task, build_steps),
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    write_results(args.out or RESULTS / args.task / "cost.json", record, report(record))


if __name__ == "__main__":
    main()
