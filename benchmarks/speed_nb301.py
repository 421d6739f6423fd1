"""Speed of the NAS-Bench-301 envs and of the batched surrogate, in one run.

Measures, and prints PASS/FAIL where there is a target:

1. env step through ``gym.make`` (the three NAS-Bench-301 ids, and the three NAS-Bench-201 ids for
   reference) / CartPole-v1 step through ``gym.make``, on pre-generated random actions, interleaved
   rounds, medians of per-round ratios (no target for NAS-Bench-301: each query runs the ONNX
   surrogate; the NAS-Bench-201 ratios show that computing encodings per queried architecture left
   their step as it was);
2. batched surrogate queries (``NB301SurrogateEvaluator.evaluate``): architectures per second, on
   one onnxruntime thread and on all cores                                      -> >= 20,000/s

Timings on a shared machine are noisy: what counts are ratios measured within one run. Results go
to ``benchmarks/results/speed/speed_nb301.{json,md}`` with the command line, versions and CPU.

Usage::

    python benchmarks/speed_nb301.py                  # about two minutes
    python benchmarks/speed_nb301.py --rounds 5 --steps 100 --batch 10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_nb201 import RESULTS_DIR, interleaved_ratios, median, system_info, time_steps, verdict  # noqa: E402

NB301_IDS = ("NAS-Bench-301-Continuous-v0", "NAS-Bench-301-Sequential-v0", "NAS-Bench-301-Global-v0")
NB201_IDS = ("NAS-Bench-201-Continuous-v0", "NAS-Bench-201-Sequential-v0", "NAS-Bench-201-Global-v0")
TARGET_ARCHS_PER_SECOND = 20_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved timing rounds (medians over them)")
    parser.add_argument("--steps", type=int, default=400, help="NAS-Bench-301 env steps per timed chunk")
    parser.add_argument("--fast-steps", type=int, default=4000, help="CartPole and NAS-Bench-201 steps per chunk")
    parser.add_argument("--batch", type=int, default=100_000, help="architectures per batched surrogate query")
    parser.add_argument("--repeats", type=int, default=3, help="timed batched queries (the median counts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and markdown go")
    return parser.parse_args(argv)


def bench_step(args: argparse.Namespace) -> dict:
    """Env step time / CartPole step time, per id: each chunk of an id is compared with the mean of
    the CartPole chunks just before and after it (a shared machine's load drifts)."""
    ids = NB301_IDS + NB201_IDS
    envs, actions = {}, {}
    for i, env_id in enumerate(("CartPole-v1", *ids)):
        steps = args.steps if env_id in NB301_IDS else args.fast_steps
        env = gym.make(env_id) if env_id == "CartPole-v1" else gym.make(env_id, budget=(args.rounds + 1) * steps + 1)
        env.reset(seed=args.seed + i)
        env.action_space.seed(args.seed + i)
        envs[env_id] = env
        # fresh actions for every round: the surrogate evaluator remembers the architectures it has
        # answered, and a replayed chunk would time those lookups instead of the model
        actions[env_id] = [[env.action_space.sample() for _ in range(steps)] for _ in range(args.rounds + 1)]
        time_steps(env, actions[env_id][-1][: min(50, steps)])  # warm-up (and the env checker's first step)
    cartpole, times, ratios = interleaved_ratios(
        ids,
        lambda env_id, r: time_steps(envs[env_id], actions[env_id][r]),
        lambda: time_steps(envs["CartPole-v1"], actions["CartPole-v1"][0]),
        args.rounds,
    )
    for env in envs.values():
        env.close()
    out: dict = {"cartpole_us_per_step": median(cartpole) * 1e6, "rounds": args.rounds, "envs": {}}
    for env_id in ids:
        out["envs"][env_id] = {
            "us_per_step": median(times[env_id]) * 1e6,
            "ratio_to_cartpole": median(ratios[env_id]),
            "ratio_per_round": ratios[env_id],
        }
    steps = envs["NAS-Bench-301-Sequential-v0"].unwrapped.max_query_steps
    out["envs"]["NAS-Bench-301-Sequential-v0"]["us_per_architecture"] = (
        out["envs"]["NAS-Bench-301-Sequential-v0"]["us_per_step"] * steps
    )
    return out


def bench_surrogate(args: argparse.Namespace) -> dict:
    """Architectures per second of one batched ``evaluate`` call, on 1 thread and on all cores."""
    from nasgym.evaluators.surrogate import NB301SurrogateEvaluator

    out: dict = {"batch": args.batch, "repeats": args.repeats, "target_archs_per_second": TARGET_ARCHS_PER_SECOND}
    rng = np.random.default_rng(args.seed)
    for threads in sorted({1, os.cpu_count() or 1}):
        evaluator = NB301SurrogateEvaluator(threads=threads)
        indices = evaluator.space.index_of(evaluator.space.sample(rng, args.batch))
        evaluator.evaluate(indices[:1000], rng)  # warm-up
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            evaluator.evaluate(indices, rng)
            seconds.append(time.perf_counter() - start)
        rate = args.batch / median(seconds)
        out[f"threads_{threads}"] = {
            "archs_per_second": rate,
            "seconds": seconds,
            "pass": rate >= TARGET_ARCHS_PER_SECOND,
        }
    out["pass"] = any(v["pass"] for k, v in out.items() if k.startswith("threads_"))
    return out


def report(results: dict) -> list[str]:
    system, step, surrogate = results["system"], results["step"], results["surrogate"]
    lines = [
        "# NAS-Bench-301 speed",
        "",
        f"Command: `{system['command']}`  ",
        f"Machine: {system['cpu']}, {system['cpu_count']} cores ({system['cpu_affinity']} usable); "
        f"{system['platform']}; Python {system['python']}, numpy {system['numpy']}, gymnasium "
        f"{system['gymnasium']}, onnxruntime {results['onnxruntime']}, nasgym {system['nasgym']}; {system['time']}",
        "",
        f"## 1. Env step / CartPole-v1 step ({step['rounds']} interleaved rounds, median of per-round ratios)",
        "",
        f"CartPole-v1: {step['cartpole_us_per_step']:.2f} us per step.",
        "",
        "| env | us per step | ratio to CartPole |",
        "|---|---|---|",
    ]
    for env_id, row in step["envs"].items():
        lines.append(f"| {env_id} | {row['us_per_step']:.1f} | {row['ratio_to_cartpole']:.2f} |")
    seq = step["envs"]["NAS-Bench-301-Sequential-v0"]
    lines += [
        "",
        f"NAS-Bench-301-Sequential: {seq['us_per_architecture']:.0f} us per architecture (32 steps).",
        "",
        f"## 2. Batched surrogate ({surrogate['batch']:,} architectures per call, median of {surrogate['repeats']})",
        "",
        "| onnxruntime threads | architectures per second | target >= 20,000/s |",
        "|---|---|---|",
    ]
    for key, row in surrogate.items():
        if key.startswith("threads_"):
            threads = key.split("_")[1]
            lines.append(f"| {threads} | {row['archs_per_second']:,.0f} | {verdict(row['pass'])} |")
    return lines


def main() -> None:
    import onnxruntime

    args = parse_args()
    results: dict = {"system": system_info(), "onnxruntime": onnxruntime.__version__}
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    print("[step] running ...", flush=True)
    results["step"] = bench_step(args)
    print("[surrogate] running ...", flush=True)
    results["surrogate"] = bench_surrogate(args)
    lines = report(results)
    print("\n".join(lines))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "speed_nb301.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out_dir / "speed_nb301.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out_dir / 'speed_nb301.json'} and {args.out_dir / 'speed_nb301.md'}")


if __name__ == "__main__":
    main()
