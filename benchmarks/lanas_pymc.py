"""Cost of LaNAS's PyMC leaf sampler on this CPU, per region, against discrete hit-and-run; and
short LaNAS runs on NAS-Bench-201 forced into each.

Per space (NAS-Bench-201, a plain product space of 10^13 architectures, DARTS): a tree of LaNAS's
height fitted on 120 uniform architectures whose value is a random linear function of the tree's
features (as ``tests/test_lanas.py`` fits it), then, for each of its first ``--regions`` regions, one
PyMC model built and sampled (:class:`agents.lanas.PymcLeafSampler`, its defaults: 2 chains of 250
draws after 100 tuning steps) and one hit-and-run round (:class:`agents.lanas.PolytopeLeafSampler`):
wall time, distinct architectures proposed, rejected (outside the region once discretised) and kept.
The first PyMC model of the process is timed apart (PyTensor compiles, or loads from its cache, the
C code of the model's functions). Then ``--seeds`` LaNAS runs of ``--budget`` queries on
NAS-Bench-201 cifar10 with each sampler (:func:`lanas_modes.run_once`): wall time, models, best
validation accuracy.

Writes ``benchmarks/results/lanas/pymc.{json,md}`` with the machine, versions, load averages and
the command.

Usage::

    nice -n 10 python benchmarks/lanas_pymc.py                  # 3 regions per space, 3 seeds x 100 queries
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lanas_modes import run_once  # noqa: E402  (one LaNAS run in a given mode, scored)

import nasgym  # noqa: E402, F401  (registers the env ids)
from nasgym.agents.lanas import LaNAS, PartitionTree, PolytopeLeafSampler, PymcLeafSampler, import_pymc  # noqa: E402
from nasgym.bench.provenance import _version, machine, versions, write_results  # noqa: E402
from nasgym.spaces import SearchSpace  # noqa: E402
from nasgym.spaces.darts import DartsSpace  # noqa: E402
from nasgym.spaces.nb201 import NB201Space  # noqa: E402

DATASET = "cifar10"
RESULTS = Path(__file__).resolve().parent / "results" / "lanas"
#: a plain product space of 10^13 architectures (13 decisions of 10 choices).
LARGE = SearchSpace("large", [f"d{i}" for i in range(13)], [tuple(f"c{j}" for j in range(10))] * 13)


def fitted_regions(sampler: PolytopeLeafSampler, space: SearchSpace, seed: int) -> tuple[PartitionTree, np.ndarray]:
    """A tree of LaNAS's height fitted on 120 uniform architectures valued by a random linear
    function of their features plus noise, and those architectures."""
    rng = np.random.default_rng(seed)
    choices = np.asarray(space.canonical(space.sample(rng, 120)))
    features = sampler.encode(None, choices)
    values = features @ rng.normal(size=features.shape[1]) + 0.1 * rng.normal(size=len(choices))
    tree = PartitionTree(LaNAS().height, features.shape[1])
    tree.fit(features, values)
    return tree, choices


def time_regions(space: SearchSpace, regions: int, seed: int) -> list[dict[str, Any]]:
    """One PyMC model and one hit-and-run round in each of the first ``regions`` regions of a fitted tree."""
    rows = []
    samplers = {"pymc": PymcLeafSampler(space), "hit-and-run": PolytopeLeafSampler(space)}
    tree, fitted = fitted_regions(samplers["pymc"], space, seed)
    nodes = [n for n in range(tree.n_internal, tree.n_nodes) if tree.counts[n] > 0][:regions]
    for name, sampler in samplers.items():
        sampler.repartition(tree)
        rng = np.random.default_rng(seed)
        for node in nodes:
            region = fitted[tree.satisfies(node, sampler.encode(None, fitted))]
            proposed, rejected = sampler.proposed, sampler.rejected
            started = time.perf_counter()
            first = sampler.sample(node, region, rng)  # one model (PyMC) or one round of the chains
            seconds = time.perf_counter() - started
            rows.append({
                "space": space.name, "sampler": name, "node": node, "region_samples": len(region),
                "seconds": seconds, "proposed": sampler.proposed - proposed, "rejected": sampler.rejected - rejected,
                "kept": (first is not None) + len(sampler.cache[node]),
            })  # fmt: skip
    return rows


def markdown(record: dict[str, Any]) -> str:
    best = f"best_valid_acc_at_{record['budget']}"
    lines = [
        "# LaNAS's PyMC leaf sampler against discrete hit-and-run",
        "",
        f"`{record['command']}`",
        "",
        f"Machine: {record['machine']}; {record['versions']} pymc={record['pymc']} pytensor={record['pytensor']}; "
        f"load averages (1, 5, 15 min) before {record['load_before']}, after {record['load_after']}.",
        "",
        f"First PyMC model of the process (PyTensor compiles or loads its C code): {record['first_model_s']:.1f} s.",
        "",
        "Per region of a tree of height 5 fitted on 120 architectures: one PyMC model (2 chains x 250 draws "
        "after 100 tuning steps) or one hit-and-run round (64 chains x 32 steps); distinct architectures "
        "proposed, rejected once discretised (outside the region), kept (inside and new). Medians over regions:",
        "",
        "| space | sampler | regions | seconds | proposed | rejected | kept |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for space in dict.fromkeys(r["space"] for r in record["regions"]):
        for sampler in ("pymc", "hit-and-run"):
            rows = [r for r in record["regions"] if r["space"] == space and r["sampler"] == sampler]
            med = {k: statistics.median(r[k] for r in rows) for k in ("seconds", "proposed", "rejected", "kept")}
            lines.append(
                f"| {space} | {sampler} | {len(rows)} | {med['seconds']:.3f} | {med['proposed']:g} | "
                f"{med['rejected']:g} | {med['kept']:g} |"
            )
    lines += [
        "",
        f"LaNAS (defaults otherwise) on NAS-Bench-201 {DATASET}, {record['budget']} queries per run:",
        "",
        "| sampler | seed | wall time (s) | models | best valid acc (%) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['mode']} | {r['seed']} | {r['wall_time_s']:.1f} | {r['agent_stats'].get('models', '-')} | "
            f"{r[best]:.2f} |"
            for r in record["runs"]
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=3, help="regions timed per space (3)")
    parser.add_argument("--seeds", type=int, default=3, help="LaNAS runs per sampler, seeds 0..N-1 (3)")
    parser.add_argument("--budget", type=int, default=100, help="queries per LaNAS run (100)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pymc.json", help="JSON file to write (.md beside it)")
    args = parser.parse_args(argv)
    for name in ("regions", "seeds", "budget"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    import_pymc()  # a clear error without the extra
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    first = time_regions(NB201Space(), 1, seed=99)  # the process's first model: compile or cache load
    first_model_s = next(r["seconds"] for r in first if r["sampler"] == "pymc")
    print(f"first model {first_model_s:.1f} s", flush=True)
    regions = []
    for space in (NB201Space(), LARGE, DartsSpace()):
        regions += time_regions(space, args.regions, seed=0)
        print(space.name, f"{time.perf_counter() - started:.0f} s", flush=True)
    runs = []
    for sampler in ("pymc", "hit-and-run"):
        for seed in range(args.seeds):
            runs.append(run_once(sampler, DATASET, args.budget, seed, [args.budget]))
            print(json.dumps(runs[-1]), flush=True)
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "pymc": _version("pymc"),
        "pytensor": _version("pytensor"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "first_model_s": first_model_s,
        "budget": args.budget,
        "regions": regions,
        "runs": runs,
    }
    write_results(args.out, record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
